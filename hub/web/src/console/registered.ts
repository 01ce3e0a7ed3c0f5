// Registered cameras (no appliance) in the incident's canvass: listed apart, each marked as needing its owner to
// upload; the chosen ones get a request whose owner is e-mailed a single-use upload link.
import { api, must, type Schemas } from "../api/client";
import { el } from "../lib/dom";

type Registered = Schemas["RegisteredCanvassCamera"];

export function registeredRows(cameras: Registered[]): HTMLLIElement[] {
  return cameras.map((camera) => el("li", { "data-testid": "registered-camera",
                                            "data-registered-id": camera.registered_camera_id },
    el("label", { class: "inline" },
      el("input", { type: "checkbox", name: "registered", value: camera.registered_camera_id,
                    "aria-label": `Ask the owner at ${camera.address}` }),
      `${camera.address} (${Math.round(camera.distance_m)} m, facing ${camera.facing}) `),
    el("span", { class: "muted" }, `${camera.description || "no description"} · ${camera.outdoor ? "outside" : "inside"}` +
       ` · keeps ${camera.retention_days} d${camera.probably_kept ? "" : " (window probably gone)"}` +
       `${camera.shares_past ? "" : " · said no to past footage"} · `),
    el("span", { class: "badge", "data-status": "owner-upload" }, "needs the owner to upload")));
}

export function chosenRegistered(form: HTMLFormElement): number[] {
  return [...form.querySelectorAll<HTMLInputElement>("input[name=registered]:checked")].map((b) => Number(b.value));
}

/** Ask the owners; a sentence for the analyst. */
export async function askOwners(body: Schemas["OwnerAskIn"]): Promise<string> {
  const asked = await must(api.POST("/api/owner-requests", { body }));
  return `${asked.length} registered owner(s) e-mailed an upload link.`;
}
