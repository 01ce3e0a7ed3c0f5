// The cameras the analyst may see: fetched from the hub (with their businesses' names), shown on the map and
// in the list beside it (the cameras in the map's view and those without a place, filtered by name).
import { api, must, type Schemas } from "../api/client";
import { byId, el, say } from "../lib/dom";
import type { MapCamera } from "./markers";
import { label } from "./status";

type Camera = Schemas["CameraOut"];
const MAX_ROWS = 200;

export interface CameraListEvents {
  choose(id: number): void;
  stream(id: number): void;
}

/** Every camera the analyst may see, with its business's name; paused when the owner paused sharing on a box
 * that is online (an offline camera shows offline). */
export async function loadCameras(): Promise<MapCamera[]> {
  const cameras = await must(api.GET("/api/cameras"));
  return cameras.map((c: Camera) => ({
    id: c.id, name: c.name, business: c.business_name,
    status: c.sharing_paused && c.status !== "offline" ? "paused" : c.status,
    latitude: c.latitude, longitude: c.longitude, view_direction_deg: c.view_direction_deg,
  }));
}

export class CameraList {
  private readonly rows = byId<HTMLTableSectionElement>("cameras");
  private readonly filter = byId<HTMLInputElement>("camera-filter");
  private cameras: MapCamera[] = [];
  private chosen: number | null = null;

  constructor(private readonly events: CameraListEvents, private readonly inView: () => Set<number> | null) {
    this.filter.addEventListener("input", () => this.render());
  }

  set(cameras: MapCamera[]): void {
    this.cameras = cameras;
    say(byId("camera-count"), `(${cameras.length})`);
    this.render();
  }

  byId(id: number): MapCamera | undefined {
    return this.cameras.find((c) => c.id === id);
  }

  first(): MapCamera | undefined {
    return this.cameras[0];
  }

  choose(id: number | null): void {
    this.chosen = id;
    for (const row of this.rows.rows) row.classList.toggle("selected", Number(row.dataset.cameraId) === id);
  }

  render(): void {
    const text = this.filter.value.trim().toLowerCase();
    const view = this.inView();
    const shown = this.cameras.filter((c) =>
      (!text || `${c.name} ${c.business}`.toLowerCase().includes(text)) &&
      (view === null || c.latitude === null || view.has(c.id)));
    this.rows.replaceChildren(...shown.slice(0, MAX_ROWS).map((c) => this.row(c)));
    const hidden = this.cameras.length - Math.min(shown.length, MAX_ROWS);
    say(byId("camera-note"), !this.cameras.length ? "No cameras you may see yet."
      : hidden > 0 ? `${hidden} more outside the map's view or the filter: move the map or filter by name.` : "");
  }

  private row(camera: MapCamera): HTMLTableRowElement {
    const stream = el("button", { type: "button", class: "small", "data-testid": "list-stream-now",
                                  "aria-label": `Stream now from ${camera.name}` }, "▶");
    stream.addEventListener("click", (event) => { event.stopPropagation(); this.events.stream(camera.id); });
    const row = el("tr", { "data-camera-id": camera.id, class: camera.id === this.chosen ? "selected" : false },
      el("td", {}, camera.name, el("br"), el("span", { class: "muted" }, camera.business),
         camera.latitude === null ? el("span", { class: "muted" }, " · no place on the map") : null),
      el("td", {}, el("span", { class: "badge", "data-status": camera.status }, label(camera.status))),
      el("td", {}, stream));
    row.addEventListener("click", () => this.events.choose(camera.id));
    return row;
  }
}
