// An audit entry as a person reads it: when, who, what, on which camera, with what result and why; the
// entry's other fields as "name: value" lines, never as JSON text inside a cell.
import type { Schemas } from "../api/client";
import { el } from "./dom";
import { dateTime } from "./time";

type Row = Schemas["AuditRow"];

const words = (name: string) => name.replaceAll("_", " ");

/** A value as text: a list comma-separated, an object as "name value" pairs, deeper nesting as compact JSON. */
function valueText(value: unknown): string {
  if (Array.isArray(value)) return value.map((v) => (typeof v === "object" ? JSON.stringify(v) : String(v))).join(", ");
  if (value !== null && typeof value === "object") {
    return Object.entries(value).map(([k, v]) => `${words(k)} ${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
      .join(", ");
  }
  return String(value);
}

/** "request id: 7", "filters: case number 2026-1" — an entry's details as lines, empty ones left out. */
export function detailLines(details: Record<string, unknown>): string[] {
  return Object.entries(details)
    .filter(([, value]) => value !== null && value !== "" && !(Array.isArray(value) && value.length === 0))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => `${words(name)}: ${valueText(value)}`);
}

export function cameraText(row: Row): string {
  return row.cameras.map((c) => `${c.business} · ${c.name}`).join(", ") || row.object;
}

/** The cells every audit table shows, in order (the caller adds its own after them). */
export function auditCells(row: Row): HTMLTableCellElement[] {
  const details = detailLines(row.details as Record<string, unknown>);
  return [
    el("td", { class: "num" }, row.index),
    el("td", { class: "when" }, dateTime(row.at)),
    el("td", {}, row.actor),
    el("td", {}, el("code", {}, row.action)),
    el("td", {}, el("span", { class: "outcome", "data-outcome": row.outcome }, row.outcome)),
    el("td", {}, cameraText(row)),
    el("td", {}, row.purpose.replaceAll("_", " ")),
    el("td", {}, row.case_number),
    el("td", { class: "why" }, row.reason,
       details.length ? el("ul", { class: "details" }, ...details.map((line) => el("li", {}, line))) : null),
  ];
}

export const AUDIT_HEADINGS = ["#", "When (local)", "Who", "Action", "Outcome", "Camera", "Purpose", "Case",
                               "Reason and details"];

export function headings(extra: string[] = []): HTMLTableSectionElement {
  return el("thead", {}, el("tr", {}, ...[...AUDIT_HEADINGS, ...extra].map((h) => el("th", { scope: "col" }, h))));
}
