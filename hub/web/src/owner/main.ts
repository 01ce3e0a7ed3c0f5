// The owner's console: passkeys and which boxes hold them, the boxes and cameras in plain words (status, last
// seen, sharing, pause/resume), each camera's consent signed with the passkey, and footage requests.
import "../styles/base.css";
import "../styles/owner.css";
import { api, messageOf, must, onSignedOut, signIn, type Schemas } from "../api/client";
import { byId, el, say } from "../lib/dom";
import { dateTime } from "../lib/time";
import { asInput, editConsent, installConsentEditor, signAndSave } from "./consent";
import { boxHealth, boxStatuses } from "./health";
import { offerToBox, registerPasskey, type Passkey } from "./passkeys";
import { showRequests } from "./requests";

type Camera = Schemas["CameraOut"];
type Appliance = Schemas["ApplianceOut"];

const SHARING: Record<string, string> = {
  off: "not shared", request_only: "recorded footage when you approve", emergency_live: "live in emergencies",
  always: "shared without asking",
};

let passkeys: Passkey[] = [];

async function showPasskeys(boxes: Appliance[]): Promise<void> {
  passkeys = await must(api.GET("/api/owner/passkeys"));
  byId("passkeys").replaceChildren(...(passkeys.length ? passkeys.map((p) => el("li", { "data-testid": "passkey" },
    el("strong", {}, p.label || "passkey"), ` · fingerprint ${p.fingerprint} · `,
    p.boxes.length ? `held by ${p.boxes.join(", ")}` : "not on any box yet"))
    : [el("li", {}, "No passkey yet: add one to your box below.")]));
  byId("pair-box").replaceChildren(...boxes.map((b) => new Option(b.name || b.device_id, b.device_id)));
  byId("pair-key").replaceChildren(new Option("a new passkey on this device", ""),
                                   ...passkeys.map((p) => new Option(`${p.label || "passkey"} (${p.fingerprint})`, p.credential_id)));
}

function ago(moment: string | null | undefined): string {
  return moment ? dateTime(moment) : "never";
}

async function pauseOrResume(camera: Camera): Promise<void> {
  const history = await must(api.GET("/api/cameras/{camera_id}/consent/history", { params: { path: { camera_id: camera.id } } }));
  const current = history.at(-1)?.policy;
  if (camera.consent_mode !== "off" && current) {
    await signAndSave(camera.id, { ...asInput(current), sharing: "off" });
    say(byId("status"), `Sharing of ${camera.name} paused: signed and sent to the box.`);
    return;
  }
  const before = [...history].reverse().find((v) => v.policy.sharing !== "off");
  if (!before) throw new Error("there is no earlier sharing to resume: set what police may see");
  await signAndSave(camera.id, asInput(before.policy));
  say(byId("status"), `Sharing of ${camera.name} resumed as in version ${before.version}.`);
}

function cameraRow(camera: Camera, refresh: () => Promise<void>): HTMLElement {
  const edit = el("button", { type: "button", class: "small", "data-testid": "edit-consent",
                              "aria-label": `What police may see of ${camera.name}` }, "What police may see…");
  edit.addEventListener("click", async () => {
    // The history, not the consent in force: a camera without one answers 404 there, and the page stays quiet.
    const history = await must(api.GET("/api/cameras/{camera_id}/consent/history",
                                       { params: { path: { camera_id: camera.id } } }));
    editConsent(camera, history.at(-1)?.policy ?? null, refresh);
  });
  const paused = camera.consent_mode === "off";
  const toggle = el("button", { type: "button", class: "small quiet", "data-testid": "pause-sharing" },
                    paused ? "Resume sharing" : "Pause sharing");
  toggle.addEventListener("click", async () => {
    try {
      await pauseOrResume(camera);
    } catch (error) {
      say(byId("status"), messageOf(error));
    }
    await refresh();
  });
  return el("tr", { "data-testid": "camera-row", "data-camera-id": camera.id },
    el("td", {}, el("strong", {}, camera.name)),
    el("td", { "data-status": camera.status }, camera.status === "recording" ? "recording" : camera.status,
       camera.sharing_paused ? " · paused at the box" : ""),
    el("td", {}, ago(camera.last_seen)),
    el("td", { "data-testid": "camera-sharing" }, SHARING[camera.consent_mode] ?? camera.consent_mode,
       camera.plate_sharing !== "none" ? ` · plates: ${camera.plate_sharing.replace("_", " ")}` : ""),
    el("td", { class: "actions" }, edit, " ", toggle));
}

async function showBoxes(): Promise<Appliance[]> {
  const [boxes, cameras, statuses] = await Promise.all([must(api.GET("/api/appliances")), must(api.GET("/api/cameras")),
                                                       boxStatuses()]);
  byId("boxes").replaceChildren(...boxes.map((box) => el("div", { class: "box", "data-testid": "box" },
    el("h2", {}, box.name || box.device_id, " ", el("span", { class: box.online ? "ok" : "bad" }, box.online ? "online" : "offline"),
       " ", el("span", { class: "muted" }, `last heard ${ago(box.last_seen)} · ${box.device_id}`)),
    el("table", { class: "grid" },
       el("thead", {}, el("tr", {}, ...["Camera", "Video", "Last seen", "Police may see", ""].map((h) => el("th", { scope: "col" }, h)))),
       el("tbody", {}, ...cameras.filter((c) => c.appliance === box.device_id).map((c) => cameraRow(c, refresh)))),
    boxHealth(statuses.get(box.device_id)))));
  return boxes;
}

async function refresh(): Promise<void> {
  try {
    await showPasskeys(await showBoxes());
    await showRequests();
  } catch (error) {
    say(byId("status"), messageOf(error));
  }
}

async function pair(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  say(byId("pair-error"), "Confirm with your passkey…");
  try {
    const deviceId = byId<HTMLSelectElement>("pair-box").value, chosen = byId<HTMLSelectElement>("pair-key").value;
    const label = byId<HTMLInputElement>("pair-label").value;
    let key: { credential_id: string; public_key: string; label: string };
    if (chosen) {
      key = passkeys.find((p) => p.credential_id === chosen) as Passkey;
    } else {
      const made = await registerPasskey(label);
      key = { credential_id: made.passkey.credential_id, public_key: made.publicKey, label };
    }
    const answer = await offerToBox(deviceId, location.hostname, key.credential_id, key.public_key, key.label,
                                    byId<HTMLInputElement>("pair-code").value);
    say(byId("pair-error"));
    say(byId("status"), `The box holds your passkey now (fingerprint ${answer.fingerprint}).`);
    byId<HTMLFormElement>("pair").reset();
    await refresh();
  } catch (error) {
    say(byId("pair-error"), messageOf(error));
  }
}

async function ready(me: Schemas["UserOut"]): Promise<void> {
  if (me.role !== "owner") {
    say(byId("signin-error"), "This page is for business owners: sign in with an owner's account.");
    signIn.forget();
    return;
  }
  byId("signin").hidden = true;
  byId("owner").hidden = false;
  say(byId("who"), me.username);
  byId("sign-out").hidden = false;
  await refresh();
}

function start(): void {
  installConsentEditor();
  onSignedOut(() => { signIn.forget(); location.reload(); });
  byId<HTMLFormElement>("pair").addEventListener("submit", (e) => void pair(e));
  byId("sign-out").addEventListener("click", async () => {
    await api.POST("/api/auth/logout").catch(() => undefined);
    signIn.forget();
    location.reload();
  });
  byId<HTMLFormElement>("signin").addEventListener("submit", async (event) => {
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
  if (signIn.token) void must(api.GET("/api/auth/me")).then(ready, () => signIn.forget());
}

start();
