// Signing in and out. The token is kept in this tab's sessionStorage; a 401 from any call signs the page out.
import { api, messageOf, must, signIn, type Schemas } from "../api/client";
import { byId, say } from "../lib/dom";

type Me = Schemas["UserOut"];

/** Show the sign-in form until the analyst is signed in; then `ready` with who they are. */
export function signInForm(ready: (me: Me) => Promise<void>): void {
  const form = byId<HTMLFormElement>("signin");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    say(byId("signin-error"));
    try {
      const totp = byId<HTMLInputElement>("totp").value;
      const login = await must(api.POST("/api/auth/login", { body: {
        username: byId<HTMLInputElement>("username").value, password: byId<HTMLInputElement>("password").value,
        ...(totp ? { totp } : {}) } }));
      signIn.keep(login.token);
      await ready(await must(api.GET("/api/auth/me")));
    } catch (error) {
      say(byId("signin-error"), messageOf(error));
    }
  });
  byId("sign-out").addEventListener("click", async () => {
    await api.POST("/api/auth/logout").catch(() => undefined);
    signOut("Signed out.");
  });
}

export async function resume(ready: (me: Me) => Promise<void>): Promise<void> {
  if (!signIn.token) return;
  try {
    await ready(await must(api.GET("/api/auth/me")));
  } catch {
    signIn.forget();
  }
}

export function signOut(message: string): void {
  signIn.forget();
  sessionStorage.setItem("canvass-signed-out", message);
  location.reload();
}

/** A message left by the page before it reloaded signed out. */
export function leftMessage(): void {
  const message = sessionStorage.getItem("canvass-signed-out");
  if (message) say(byId("signin-error"), message);
  sessionStorage.removeItem("canvass-signed-out");
}

export function showWho(me: Me): void {
  say(byId("who"), `${me.username} (${me.role}${me.unit ? `, ${me.unit}` : ""})`);
  byId("sign-out").hidden = false;
}

