// The API docs (/docs) from the hub itself: Swagger UI's own built files from the swagger-ui-dist package,
// copied into the build as they are (`?url`), started here from an external script, so the page works on a
// network without internet and under a CSP without inline script.
import "swagger-ui-dist/swagger-ui.css";
import bundle from "swagger-ui-dist/swagger-ui-bundle.js?url";

interface SwaggerOptions {
  url: string;
  dom_id: string;
  deepLinking: boolean;
  validatorUrl: null;
  layout: string;
  tryItOutEnabled: boolean;
  persistAuthorization: boolean;
}

declare global {
  interface Window {
    SwaggerUIBundle?: ((options: SwaggerOptions) => unknown) & { presets: { apis: unknown } };
  }
}

const script = document.createElement("script");
script.src = bundle;
script.addEventListener("load", () => {
  window.SwaggerUIBundle?.({
    url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true, layout: "BaseLayout",
    validatorUrl: null, // never send the schema to a public validator
    tryItOutEnabled: false, persistAuthorization: false,
  });
});
document.head.append(script);
