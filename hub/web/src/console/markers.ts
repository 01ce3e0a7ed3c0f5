// The map's marker elements: a camera (status dot, view cone, a ring while canvassed), a cluster of cameras
// (count, coloured by the status that most needs attention), an incident (its priority). Built as DOM
// elements: Leaflet shows them without parsing any markup.
import { el, svg } from "../lib/dom";
import { label, worst } from "./status";

export interface MapCamera {
  id: number;
  name: string;
  business: string;
  status: string;
  latitude: number | null;
  longitude: number | null;
  view_direction_deg: number | null;
}

/** A 60° wedge pointing north from the icon's centre; rotated to the camera's view direction. */
const CONE = "M20 20 L10.5 3.55 A19 19 0 0 1 29.5 3.55 Z";

export function cameraTitle(camera: MapCamera): string {
  return `${camera.business} · ${camera.name}`;
}

export function cameraElement(camera: MapCamera): HTMLElement {
  const parts: SVGElement[] = [];
  if (camera.view_direction_deg !== null) {
    parts.push(svg("path", { class: "cone", d: CONE, transform: `rotate(${camera.view_direction_deg} 20 20)` }));
  }
  parts.push(svg("circle", { class: "ring", cx: 20, cy: 20, r: 11 }), svg("circle", { class: "dot", cx: 20, cy: 20, r: 6 }));
  const element = el("span", {
    class: "camera-marker", "data-testid": "camera-marker", "data-camera-id": camera.id, role: "img",
  }, svg("svg", { viewBox: "0 0 40 40", "aria-hidden": "true" }, ...parts));
  setCameraStatus(element, camera);
  return element;
}

export function setCameraStatus(element: HTMLElement, camera: MapCamera): void {
  element.dataset.status = camera.status;
  element.setAttribute("aria-label", `${cameraTitle(camera)}: ${label(camera.status)}`);
}

export function clusterElement(statuses: string[]): HTMLElement {
  const status = worst(statuses);
  const counts = new Map<string, number>();
  for (const s of statuses) counts.set(s, (counts.get(s) ?? 0) + 1);
  const summary = [...counts].map(([s, n]) => `${n} ${label(s).toLowerCase()}`).join(", ");
  return el("span", { class: "camera-cluster", "data-testid": "camera-cluster", "data-status": status,
                      "data-count": statuses.length, title: summary, role: "img",
                      "aria-label": `${statuses.length} cameras: ${summary}` }, String(statuses.length));
}

export function incidentElement(priority: number, selected: boolean): HTMLElement {
  return el("span", { class: selected ? "incident-pin selected" : "incident-pin", "data-testid": "incident-marker" },
            el("span", {}, String(priority)));
}
