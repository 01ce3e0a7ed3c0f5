// Registered cameras (no appliance) in the incident's canvass: listed apart, each marked as needing its owner to
// upload; the chosen ones get a request whose owner is e-mailed a single-use upload link.
import { api, must, type Schemas } from "../api/client";
import { el } from "../lib/dom";
import { dateTime } from "../lib/time";

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

const OWNER_STATES: Record<string, string> = {
  open: "waiting for the owner's upload", done: "the owner finished", declined: "declined by the owner",
  expired: "the link expired",
};

/** The incident's requests to registered owners, as rows of the incident's request table. */
export async function ownerRequestRows(incidentId: number): Promise<HTMLTableRowElement[]> {
  const asked = await must(api.GET("/api/owner-requests", { params: { query: { incident_id: incidentId } } }));
  return asked.map((r) => {
    const files = r.files.length ? ` · ${r.files.length} file(s) in case ${r.case_number}` : "";
    return el("tr", { "data-testid": "owner-request", "data-request-id": r.id, "data-status": r.status },
      el("td", {}, r.address ?? "registration deleted", el("br"), el("span", { class: "muted" }, "registered, no appliance")),
      el("td", {}, `${dateTime(r.window_from)} – ${dateTime(r.window_to)}`),
      el("td", { "data-testid": "request-state" }, `${OWNER_STATES[r.status] ?? r.status}${files}`));
  });
}

export function failedRow(message: string): HTMLTableRowElement {
  return el("tr", {}, el("td", { colspan: 3, class: "error" }, `Requests to registered owners could not be read: ${message}`));
}
