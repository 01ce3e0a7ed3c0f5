// The hub's web front end: one page per view (the analyst's console, the hot-list page, the owner's console, the API docs, the
// auditor's console, the public transparency report, the owner's activity page, and the public registration,
// registration and upload pages), built
// into dist/ and served by the hub (hub/web_serving.py) under a strict Content-Security-Policy: the build has
// no inline script or style, and nothing is loaded from outside the hub.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin } from "vite";

const page = (name: string) => fileURLToPath(new URL(name, import.meta.url));

// The sign-in form is the same on every signed-in page: written once (src/lib/signin.html), put in where a page
// says `<!-- sign-in: … -->`.
const SIGN_IN = /<!-- sign-in: [^>]*-->/;
function signInForm(): Plugin {
  const form = readFileSync(page("src/lib/signin.html"), "utf8").trimEnd();
  return {
    name: "canvass-sign-in",
    transformIndexHtml: { order: "pre", handler: (html) => html.replace(SIGN_IN, form) },
  };
}

export default defineConfig({
  plugins: [signInForm()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    assetsInlineLimit: 0, // every image and font a file of its own (the CSP allows this origin)
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      input: {
        index: page("index.html"), hotlists: page("hotlists.html"), docs: page("docs.html"), owner: page("owner.html"),
        auditor: page("auditor.html"), transparency: page("transparency.html"),
        ownerActivity: page("owner-activity.html"),
        register: page("register.html"), registration: page("registration.html"), upload: page("upload.html"),
      },
    },
  },
  server: {
    // `npm run dev` against a hub on its default address
    proxy: { "/api": "http://127.0.0.1:8000", "/openapi.json": "http://127.0.0.1:8000" },
  },
});
