// The operating picture's map: every camera the analyst may see (clustered when zoomed out), the incidents,
// and the canvass around the chosen one. Base tiles only from the tile server the deployment configures;
// without one a plain background with a scale and the coordinates under the pointer.
import type { Schemas } from "../api/client";
import type { Hit } from "../api/hitstream";
import { el } from "../lib/dom";
import L from "./leaflet";
import { cameraElement, cameraTitle, clusterElement, incidentElement, type MapCamera, setCameraStatus } from "./markers";
import { KNOWN, label } from "./status";

type Incident = Schemas["IncidentOut"];
type Canvass = Schemas["CanvassResult"];
type Config = Schemas["ConsoleConfig"];

interface Placed {
  camera: MapCamera;
  marker: L.Marker;
  element: HTMLElement | null; // made when Leaflet first draws the marker (most of a city's stay in clusters)
}

/** A camera's icon, its element made only when Leaflet draws it. */
class CameraIcon extends L.DivIcon {
  constructor(private readonly make: () => HTMLElement) {
    super({ className: "camera-icon", iconSize: [40, 40], iconAnchor: [20, 20] });
  }

  override createIcon(old?: HTMLElement): HTMLElement {
    this.options.html = this.make();
    return super.createIcon(old);
  }
}

export interface MapEvents {
  chooseCamera(id: number): void;
  streamCamera(id: number): void;
  chooseIncident(id: number): void;
  moved(): void;
}

const NO_TILES_MAX_ZOOM = 19;
const CLUSTER_UNTIL_ZOOM = 17;
/** Fitting the map to what it shows leaves the legend (bottom right) and the scale (bottom left) clear. */
const FIT: L.FitBoundsOptions = { paddingTopLeft: [40, 40], paddingBottomRight: [200, 110], maxZoom: 18 };

export class OperatingMap {
  readonly map: L.Map;
  private readonly cameras = new L.MarkerClusterGroup({
    chunkedLoading: true, showCoverageOnHover: false, maxClusterRadius: 45,
    chunkProgress: (done: number, total: number) => {
      if (this.loading && done === total) {
        this.loading = false;
        requestAnimationFrame(() => this.ready());
      }
    },
    disableClusteringAtZoom: CLUSTER_UNTIL_ZOOM,
    iconCreateFunction: (cluster) => L.divIcon({
      html: clusterElement(cluster.getAllChildMarkers().map((m) => this.statusOf.get(m) ?? "")),
      className: "cluster-icon", iconSize: [38, 38],
    }),
  });
  private readonly placed = new Map<number, Placed>();
  private readonly statusOf = new WeakMap<L.Layer, string>();
  private readonly incidents = L.layerGroup();
  private readonly hitLayer = L.layerGroup();
  private readonly canvass = L.layerGroup();
  /** The canvassed cameras, taken out of the clusters while their canvass is shown: each one stays in sight. */
  private readonly canvassMarkers = L.layerGroup();
  private readonly legend: HTMLElement = el("div", { class: "legend", "data-testid": "map-legend" });
  private readonly popup = L.popup({ closeButton: true, autoPan: true });
  private canvassed = new Set<number>();
  private chosen: number | null = null;
  private fitted = false;
  private loading = false;

  constructor(private readonly container: HTMLElement, config: Config, private readonly events: MapEvents) {
    const maxZoom = config.tile_url ? config.tile_max_zoom : NO_TILES_MAX_ZOOM;
    this.map = L.map(container, { attributionControl: false, maxZoom, zoomControl: true, worldCopyJump: true });
    this.map.setView([20, 0], 2);
    if (config.tile_url) L.tileLayer(config.tile_url, { maxZoom }).addTo(this.map);
    this.addControls(config);
    this.cameras.addTo(this.map);
    this.canvass.addTo(this.map);
    this.canvassMarkers.addTo(this.map);
    this.incidents.addTo(this.map);
    this.hitLayer.addTo(this.map);
    this.map.on("moveend", () => events.moved());
  }

  private addControls(config: Config): void {
    L.control.scale({ position: "bottomleft" }).addTo(this.map);
    const coords = el("div", { class: "coords", "data-testid": "map-coordinates", "aria-live": "off" });
    const show = (at: L.LatLng) => { coords.textContent = `${at.lat.toFixed(5)}, ${at.lng.toFixed(5)}`; };
    this.map.on("mousemove", (e: L.LeafletMouseEvent) => show(e.latlng));
    this.map.on("moveend", () => show(this.map.getCenter()));
    corner(this.map, "bottomleft", coords);
    corner(this.map, "bottomright", this.legend);
    if (config.tile_attribution) corner(this.map, "bottomright", el("div", { class: "coords" }, config.tile_attribution));
  }

  /** Show these cameras: new ones added, statuses changed in place, those gone removed. */
  setCameras(cameras: MapCamera[]): void {
    const seen = new Set<number>();
    const added: L.Marker[] = [];
    const changed: L.Marker[] = [];
    for (const camera of cameras) {
      if (camera.latitude === null || camera.longitude === null) continue;
      seen.add(camera.id);
      const known = this.placed.get(camera.id);
      if (!known) {
        added.push(this.place(camera).marker);
      } else if (known.camera.status !== camera.status || known.camera.business !== camera.business) {
        known.camera = camera;
        if (known.element) setCameraStatus(known.element, camera);
        this.statusOf.set(known.marker, camera.status);
        changed.push(known.marker);
      }
    }
    const gone = [...this.placed.keys()].filter((id) => !seen.has(id));
    for (const id of gone) this.canvassMarkers.removeLayer(this.placed.get(id)!.marker);
    this.cameras.removeLayers(gone.map((id) => this.placed.get(id)!.marker));
    gone.forEach((id) => { this.placed.delete(id); this.canvassed.delete(id); });
    const clustered = changed.filter((m) => !this.canvassMarkers.hasLayer(m));
    if (clustered.length) this.cameras.refreshClusters(clustered);
    this.showLegend(cameras);
    if (!added.length) {
      this.ready();
      return;
    }
    this.container.dataset.ready = "false";
    if (!this.fitted) this.fit();
    this.loading = true;
    this.cameras.addLayers(added, true); // in chunks: `ready()` when the last is on the map
  }

  /** Say on the map's element that every camera is on it (tests and the load benchmark wait for this). */
  private ready(): void {
    this.container.dataset.cameras = String(this.placed.size);
    this.container.dataset.ready = "true";
  }

  private place(camera: MapCamera): Placed {
    const placed: Placed = { camera, marker: null as unknown as L.Marker, element: null };
    placed.marker = L.marker([camera.latitude!, camera.longitude!], {
      icon: new CameraIcon(() => (placed.element ??= this.element(placed))),
      keyboard: true, title: cameraTitle(camera), alt: cameraTitle(camera),
    });
    placed.marker.bindTooltip(() => el("span", {}, cameraTitle(placed.camera)), { direction: "top", offset: [0, -16] });
    placed.marker.on("click", () => this.openCamera(camera.id));
    this.placed.set(camera.id, placed);
    this.statusOf.set(placed.marker, camera.status);
    return placed;
  }

  private element(placed: Placed): HTMLElement {
    const element = cameraElement(placed.camera);
    element.classList.toggle("chosen-marker", this.chosen === placed.camera.id);
    element.classList.toggle("canvassed", this.canvassed.has(placed.camera.id));
    return element;
  }

  private openCamera(id: number): void {
    const placed = this.placed.get(id);
    if (!placed) return;
    this.events.chooseCamera(id);
    const { camera } = placed;
    const stream = el("button", { type: "button", "data-testid": "map-stream-now" }, "Stream now");
    stream.addEventListener("click", () => { this.map.closePopup(); this.events.streamCamera(id); });
    const content = el("div", { class: "map-popup", "data-testid": "camera-popup" },
      el("strong", {}, camera.name), el("br"), camera.business, el("br"),
      el("span", { class: "badge", "data-status": camera.status }, label(camera.status)), el("br"), stream);
    this.popup.setLatLng(placed.marker.getLatLng()).setContent(content).openOn(this.map);
  }

  /** Mark the camera chosen for streaming (and bring it into view if it is on the map). */
  choose(id: number | null): void {
    if (this.chosen !== null) this.placed.get(this.chosen)?.element?.classList.remove("chosen-marker");
    this.chosen = id;
    if (id !== null) this.placed.get(id)?.element?.classList.add("chosen-marker");
  }

  fit(): void {
    const points = [...this.placed.values()].map((p) => p.marker.getLatLng());
    this.incidents.eachLayer((layer) => { if (layer instanceof L.Marker) points.push(layer.getLatLng()); });
    if (!points.length) return;
    this.fitted = true;
    this.map.fitBounds(L.latLngBounds(points), FIT);
  }

  /** Ids of the cameras inside the map's current view. */
  inView(): Set<number> {
    const bounds = this.map.getBounds();
    const ids = new Set<number>();
    for (const [id, placed] of this.placed) if (bounds.contains(placed.marker.getLatLng())) ids.add(id);
    return ids;
  }

  setIncidents(incidents: Incident[], selected: number | null): void {
    this.incidents.clearLayers();
    for (const incident of incidents) {
      const marker = L.marker([incident.latitude, incident.longitude], {
        icon: L.divIcon({ html: incidentElement(incident.priority, incident.id === selected), className: "incident-icon",
                          iconSize: [28, 28], iconAnchor: [14, 28] }),
        zIndexOffset: 1000, title: `${incident.type} — ${incident.address || incident.external_id}`, keyboard: true,
      });
      marker.on("click", () => this.events.chooseIncident(incident.id));
      this.incidents.addLayer(marker);
    }
    if (!this.fitted) this.fit();
  }

  /** Draw the canvass radius and ring the cameras that recorded then; null clears it. */
  showCanvass(result: Canvass | null, fly = false): void {
    this.canvass.clearLayers();
    for (const id of this.canvassed) this.uncanvass(id);
    this.canvassed = new Set(result?.recording.map((c) => c.camera_id) ?? []);
    if (!result) return;
    const circle = L.circle([result.latitude, result.longitude], {
      radius: result.radius_m, color: "#bc4c00", weight: 2, dashArray: "6 4", fillOpacity: 0.06, interactive: false,
    });
    this.canvass.addLayer(circle);
    const lifted = [...this.canvassed].map((id) => this.placed.get(id)).filter((p): p is Placed => !!p);
    this.cameras.removeLayers(lifted.map((p) => p.marker));
    for (const placed of lifted) {
      placed.element?.classList.add("canvassed");
      this.canvassMarkers.addLayer(placed.marker);
    }
    if (fly) this.map.fitBounds(circle.getBounds(), FIT);
  }

  private uncanvass(id: number): void {
    const placed = this.placed.get(id);
    if (!placed) return;
    placed.element?.classList.remove("canvassed");
    this.canvassMarkers.removeLayer(placed.marker);
    this.cameras.addLayer(placed.marker);
  }

  /** A plate hit where its camera is: a pin, its plate in a popup, the map brought to it. */
  showHit(hit: Hit): void {
    if (hit.latitude === null || hit.longitude === null) return;
    const at = L.latLng(hit.latitude, hit.longitude);
    const pin = L.marker(at, {
      icon: L.divIcon({ html: el("span", { class: "hit-pin", "data-testid": "hit-marker" }, "P"), className: "incident-icon",
                        iconSize: [26, 26] }), zIndexOffset: 2000, title: `Hot-list hit ${hit.plate}`,
    });
    this.hitLayer.clearLayers();
    this.hitLayer.addLayer(pin);
    pin.bindPopup(el("div", {}, el("strong", {}, hit.plate), ` on ${hit.list_name}`, el("br"),
                     `${hit.business_name}${hit.camera_name ? ` · ${hit.camera_name}` : ""}`)).openPopup();
    this.map.setView(at, Math.max(this.map.getZoom(), 16));
  }

  /** The map's view as a circle (its centre, out to a corner), at most `maxM` metres. */
  view(maxM: number): { latitude: number; longitude: number; radius_m: number } {
    const centre = this.map.getCenter();
    const radius = Math.min(maxM, centre.distanceTo(this.map.getBounds().getNorthEast()));
    return { latitude: centre.lat, longitude: centre.lng, radius_m: Math.max(1, Math.round(radius)) };
  }

  private showLegend(cameras: MapCamera[]): void {
    const counts = new Map<string, number>(Object.keys(KNOWN).map((s) => [s, 0]));
    for (const camera of cameras) counts.set(camera.status, (counts.get(camera.status) ?? 0) + 1);
    this.legend.replaceChildren(el("ul", {},
      ...[...counts].map(([status, n]) => el("li", { "data-status": status },
        el("span", { class: "swatch", "data-status": status }), `${label(status)} (${n})`)),
      el("li", {}, el("span", { class: "swatch incident" }), "Incident (priority)")));
  }

  invalidate(): void {
    this.map.invalidateSize();
  }
}

/** A fixed element in a corner of the map (scale, coordinates, legend, attribution). */
function corner(map: L.Map, position: L.ControlPosition, element: HTMLElement): void {
  const Control = L.Control.extend({ onAdd: () => element });
  new Control({ position }).addTo(map);
}
