// Incidents from the intake (CAD, EIDO, analysts): the list by priority, and for the chosen one its canvass
// (the cameras recording then, facing it or not), footage requests to the chosen cameras in one step (reason,
// purpose and case filled from the incident, editable) and the states of the requests made for it.
import { api, messageOf, must, type Schemas } from "../api/client";
import { askOwners, chosenRegistered, failedRow, ownerRequestRows, registeredRows } from "./registered";
import { byId, el, say } from "../lib/dom";
import { ago, dateTime, fromLocalInput, toLocalInput } from "../lib/time";
import { purposeOf } from "./status";

type Incident = Schemas["IncidentOut"];
type Canvass = Schemas["CanvassResult"];
type CanvassCamera = Schemas["CanvassCamera"];
type Request = Schemas["FootageRequestOut"];
type Purpose = Schemas["FootageAskIn"]["purpose"];

export interface IncidentEvents {
  listed(incidents: Incident[], selected: number | null): void;
  canvassed(result: Canvass | null, fly: boolean): void;
  stream(cameraId: number): void;
}

/** A request's state in the analyst's words: pending, approved, uploading, at the hub, denied, expired, … */
export function requestState(r: Request): string {
  if (r.status === "approved") {
    if (r.clip_stage === "uploading" || r.clip_stage === "uploaded") return "uploading";
    if (r.clip_stage === "cutting") return "approved, the box is cutting the clip";
    return r.decided_how === "policy" ? "approved (owner's policy)" : "approved";
  }
  if (r.status === "delivered") return "at the hub";
  if (r.status === "denied") return r.decision_note ? `denied: ${r.decision_note}` : "denied";
  if (r.status === "failed") return r.clip_detail ? `failed: ${r.clip_detail}` : "failed";
  if (r.status === "pending") return "pending (the owner decides)";
  return r.status;
}

function caseNumberOf(incident: Incident): string {
  const cleaned = incident.external_id.replace(/[^A-Za-z0-9 ._/#:-]/g, "-").replace(/^[^A-Za-z0-9]+/, "");
  return cleaned.length >= 3 ? cleaned.slice(0, 100) : `INC-${incident.id}`;
}

function reasonOf(incident: Incident): string {
  const where = incident.address || `${incident.latitude.toFixed(5)}, ${incident.longitude.toFixed(5)}`;
  const text = `${incident.type} at ${where}, reported ${dateTime(incident.reported_at)} (CAD ${incident.external_id})` +
    (incident.description ? `: ${incident.description}` : "");
  return text.slice(0, 2000);
}

export class Incidents {
  private readonly list = byId<HTMLOListElement>("incident-list");
  private readonly detail = byId("incident-detail");
  private readonly form = byId<HTMLFormElement>("ask-form");
  private incidents: Incident[] = [];
  private selected: Incident | null = null;
  private canvass: Canvass | null = null;

  constructor(private readonly events: IncidentEvents) {
    this.form.addEventListener("submit", (event) => { event.preventDefault(); void this.ask(); });
  }

  async refresh(): Promise<void> {
    try {
      this.incidents = await must(api.GET("/api/incidents", { params: { query: { status: "open" } } }));
      say(byId("incidents-note"), this.incidents.length ? "" : "No open incidents.");
    } catch (error) {
      say(byId("incidents-note"), `Incidents could not be read: ${messageOf(error)}`);
      return;
    }
    say(byId("incident-count"), `(${this.incidents.length} open)`);
    this.render();
    if (this.selected) await this.refreshRequests();
  }

  private render(): void {
    this.list.replaceChildren(...this.incidents.map((incident) => {
      const item = el("li", { tabindex: 0, "data-incident-id": incident.id, "data-testid": "incident",
                              class: incident.id === this.selected?.id ? "selected" : false,
                              "aria-selected": incident.id === this.selected?.id },
        el("span", { class: "priority", "data-priority": incident.priority, title: `priority ${incident.priority}` },
           String(incident.priority)),
        el("span", {}, el("strong", {}, incident.type), " · ", incident.address || incident.external_id),
        el("span", { class: "when" }, `${ago(incident.reported_at)} · ${incident.external_id} · ${incident.source}`));
      item.addEventListener("click", () => void this.choose(incident.id));
      item.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") void this.choose(incident.id); });
      return item;
    }));
    this.events.listed(this.incidents, this.selected?.id ?? null);
  }

  /** Show an incident: its canvass on the map and in the panel, the request form filled from it. */
  async choose(id: number): Promise<void> {
    const incident = this.incidents.find((i) => i.id === id);
    if (!incident) return;
    const changed = this.selected?.id !== id;
    this.selected = incident;
    this.render();
    this.detail.hidden = false;
    say(byId("incident-title"), `P${incident.priority} ${incident.type}`);
    say(byId("incident-summary"), `${incident.address || "no address"} · reported ${dateTime(incident.reported_at)} · ` +
        `CAD ${incident.external_id}${incident.description ? ` · ${incident.description}` : ""}`);
    if (changed) this.fillForm(incident);
    await this.runCanvass(incident);
    await this.refreshRequests();
  }

  private fillForm(incident: Incident): void {
    byId<HTMLSelectElement>("ask-purpose").value = purposeOf(incident.type);
    byId<HTMLTextAreaElement>("ask-reason").value = reasonOf(incident);
    byId<HTMLInputElement>("ask-case").value = caseNumberOf(incident);
    say(byId("ask-error"));
    say(byId("ask-result"));
  }

  private async runCanvass(incident: Incident): Promise<void> {
    const note = byId("canvass-note");
    say(note, "Canvassing the cameras around it…");
    try {
      this.canvass = await must(api.GET("/api/incidents/{incident_id}/canvass", {
        params: { path: { incident_id: incident.id } } }));
    } catch (error) {
      this.canvass = null;
      this.showCanvass();
      say(note, `The canvass failed: ${messageOf(error)}`);
      return;
    }
    const c = this.canvass;
    say(note, `${c.recording.length} cameras recorded within ${Math.round(c.radius_m)} m between ` +
        `${dateTime(c.window_from)} and ${dateTime(c.window_to)}.`);
    const until = Math.min(new Date(c.window_to).getTime(), Date.now());
    byId<HTMLInputElement>("ask-from").value = toLocalInput(new Date(c.window_from));
    byId<HTMLInputElement>("ask-to").value = toLocalInput(new Date(until));
    this.showCanvass();
  }

  private showCanvass(): void {
    const c = this.canvass;
    this.events.canvassed(c, true);
    byId("canvass-cameras").replaceChildren(...(c?.recording ?? []).map((camera) => this.canvassRow(camera)));
    if (c && !c.recording.length) {
      byId("canvass-cameras").append(el("tr", {}, el("td", { colspan: 4, class: "muted" }, "No camera recorded here then.")));
    }
    say(byId("not-recording-count"), String(c?.not_recording.length ?? 0));
    byId("not-recording").replaceChildren(...(c?.not_recording ?? []).map((camera) =>
      el("li", {}, `${camera.business_name} · ${camera.camera_name} (${Math.round(camera.distance_m)} m): `,
         el("span", { class: "muted" }, camera.why || "no recording in the window"))));
    byId("registered-cameras").replaceChildren(...registeredRows(c?.registered ?? []));
    say(byId("registered-count"), String(c?.registered?.length ?? 0));
    byId<HTMLButtonElement>("send-requests").disabled = !c?.recording.length && !c?.registered?.length;
  }

  private canvassRow(camera: CanvassCamera): HTMLTableRowElement {
    const facing = camera.facing === "yes";
    const box = el("input", { type: "checkbox", name: "camera", value: camera.camera_id, checked: facing,
                              "aria-label": `Ask ${camera.camera_name} at ${camera.business_name}`,
                              "data-testid": "canvass-choose" });
    const stream = el("button", { type: "button", class: "small", "aria-label": `Stream now from ${camera.camera_name}` }, "▶");
    stream.addEventListener("click", () => this.events.stream(camera.camera_id));
    const gaps = camera.gaps.length ? ` · ${camera.gaps.length} gap(s)` : "";
    return el("tr", { "data-testid": "canvass-camera", "data-camera-id": camera.camera_id },
      el("td", {}, box),
      el("td", {}, el("strong", {}, camera.camera_name), el("br"),
         el("span", { class: "muted" }, `${camera.business_name} · sharing ${camera.consent_mode}` +
            `${camera.appliance_online ? "" : " · box offline"}${gaps}`)),
      el("td", {}, `${Math.round(camera.distance_m)} m`),
      el("td", {}, camera.facing, " ", stream));
  }

  private chosenCameras(): number[] {
    return [...this.form.querySelectorAll<HTMLInputElement>("input[name=camera]:checked")].map((b) => Number(b.value));
  }

  /** Send one footage request per chosen camera, under the case, for the window. */
  private async ask(): Promise<void> {
    const incident = this.selected;
    const error = byId("ask-error");
    const result = byId("ask-result");
    say(error);
    say(result);
    const cameraIds = this.chosenCameras();
    const registeredIds = chosenRegistered(this.form);
    const from = fromLocalInput(byId<HTMLInputElement>("ask-from").value);
    const to = fromLocalInput(byId<HTMLInputElement>("ask-to").value);
    if (!incident || !this.canvass) return;
    if (!cameraIds.length && !registeredIds.length) { say(error, "Choose at least one camera."); return; }
    if (!from || !to) { say(error, "Give the window's start and end."); return; }
    const button = byId<HTMLButtonElement>("send-requests");
    button.disabled = true;
    try {
      const common = { window_from: from.toISOString(), window_to: to.toISOString(),
        purpose: byId<HTMLSelectElement>("ask-purpose").value as Purpose,
        reason: byId<HTMLTextAreaElement>("ask-reason").value, case_number: byId<HTMLInputElement>("ask-case").value,
        incident_id: incident.id, radius_m: this.canvass.radius_m };
      if (cameraIds.length) {
        const answer = await must(api.POST("/api/footage-requests", { body: { camera_ids: cameraIds, ...common } }));
        const counts = new Map<string, number>();
        for (const r of answer.results) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
        say(result, `Case ${answer.case_number}: ${[...counts].map(([s, n]) => `${n} ${s}`).join(", ")}.`);
        const refused = answer.results.filter((r) => r.status === "refused");
        if (refused.length) say(error, refused.map((r) => `camera ${r.camera_id}: ${r.reason}`).join("\n"));
      }
      if (registeredIds.length) {
        const owners = await askOwners({ registered_camera_ids: registeredIds, ...common });
        say(result, `${result.textContent ? `${result.textContent} ` : ""}${owners}`);
      }
    } catch (failure) {
      say(error, messageOf(failure));
      error.scrollIntoView({ block: "nearest" });
    } finally {
      button.disabled = false;
    }
    await this.refreshRequests();
  }

  private async refreshRequests(): Promise<void> {
    const incident = this.selected;
    if (!incident) return;
    const note = byId("requests-note");
    let requests: Request[];
    try {
      requests = await must(api.GET("/api/footage-requests", { params: { query: { limit: 1000 } } }));
    } catch (error) {
      say(note, `Requests could not be read: ${messageOf(error)}`);
      return;
    }
    const mine = requests.filter((r) => r.incident_id === incident.id);
    const owners = await ownerRequestRows(incident.id).catch((error) => [failedRow(messageOf(error))]);
    say(note, mine.length || owners.length ? "" : "No requests for this incident yet.");
    byId("incident-requests").replaceChildren(...owners, ...mine.map((r) =>
      el("tr", { "data-testid": "incident-request", "data-request-id": r.id, "data-status": r.status },
        el("td", {}, r.camera, el("br"), el("span", { class: "muted" }, r.business)),
        el("td", {}, `${dateTime(r.window_from)} – ${dateTime(r.window_to)}`),
        el("td", { "data-testid": "request-state" }, requestState(r)))));
  }
}
