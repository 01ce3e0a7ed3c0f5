// The registration map: the city's own tiles when the hub has them (never a public tile server), else a plain
// background with a scale; a click picks a pin, the pins of the form's cameras are shown.
import L from "leaflet";
import "leaflet/dist/leaflet.css";
import type { Schemas } from "./link";

export class PinMap {
  readonly element: HTMLDivElement;
  private map: L.Map | null = null;
  private readonly pins = L.layerGroup();
  private pick: (latitude: number, longitude: number) => void = () => undefined;

  constructor(private readonly config: Schemas["PublicConfig"]) {
    this.element = document.createElement("div");
    this.element.className = "pin-map";
    this.element.setAttribute("data-testid", "pin-map");
    this.element.setAttribute("aria-label", "Map: click where the camera is");
  }

  /** Draw the map (once the element is in the page). */
  start(): void {
    const c = this.config;
    const centred = c.center_latitude != null && c.center_longitude != null;
    this.map = L.map(this.element, { zoomControl: true, attributionControl: Boolean(c.tile_url) })
      .setView(centred ? [c.center_latitude!, c.center_longitude!] : [20, 0], centred ? 14 : 2);
    if (c.tile_url) {
      L.tileLayer(c.tile_url, { maxZoom: c.tile_max_zoom, attribution: c.tile_attribution }).addTo(this.map);
    }
    L.control.scale().addTo(this.map);
    this.pins.addTo(this.map);
    this.map.on("click", (event: L.LeafletMouseEvent) => this.pick(event.latlng.lat, event.latlng.lng));
  }

  onPick(listener: (latitude: number, longitude: number) => void): void {
    this.pick = listener;
  }

  show(pins: ([number, number] | null)[]): void {
    this.pins.clearLayers();
    pins.forEach((pin, index) => {
      if (!pin) return;
      L.circleMarker(pin, { radius: 8, color: "#0969da", weight: 2, fillOpacity: 0.6 })
        .bindTooltip(`Camera ${index + 1}`, { permanent: true, direction: "top" }).addTo(this.pins);
    });
    const placed = pins.filter((pin): pin is [number, number] => pin !== null);
    const only = placed.length === 1 ? placed[0] : undefined;
    if (this.map && only && this.map.getZoom() < 12) this.map.setView(only, 17);
  }
}
