// The owner's status view of one box, in plain words: its disk and how much video it keeps, and what needs
// attention (clock, disk, a camera or the box offline), from GET /api/owner/status.
import { api, must, type Schemas } from "../api/client";
import { el } from "../lib/dom";
import { dateTime } from "../lib/time";

export type BoxStatus = Schemas["BoxStatusOut"];

/** Each of the owner's boxes' status, by device id. */
export async function boxStatuses(): Promise<Map<string, BoxStatus>> {
  const statuses = await must(api.GET("/api/owner/status"));
  return new Map(statuses.map((s) => [s.device_id, s]));
}

export function bytes(n: number): string {
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let value = n, unit = 0;
  while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit++; }
  return unit === 0 ? `${n} bytes` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

function days(d: number): string {
  return d === 1 ? "1 day" : `${Number.isInteger(d) ? d : d.toFixed(1)} days`;
}

/** The box's disk, each camera's retention, and its alarms (or that all is well). */
export function boxHealth(status: BoxStatus | undefined): HTMLElement {
  if (!status) return el("p", { class: "muted" }, "No status from this box yet.");
  const disk = status.disk_free_bytes === null || status.disk_free_bytes === undefined
    ? "The box has not reported its disk yet."
    : `Disk: ${bytes(status.disk_free_bytes)} free`
      + (status.disk_total_bytes ? ` of ${bytes(status.disk_total_bytes)}` : "")
      + (status.recordings_bytes !== null && status.recordings_bytes !== undefined
        ? `; video takes ${bytes(status.recordings_bytes)}.` : ".");
  const keeps = status.cameras.filter((c) => c.retention_days).map((c) =>
    el("li", { "data-testid": "retention" }, `${c.name} keeps ${days(c.retention_days as number)} of video`,
       c.oldest ? ` (oldest held: ${dateTime(c.oldest)})` : " (nothing recorded yet)"));
  const alarms = status.alarms.length
    ? el("ul", { class: "alarms", "data-testid": "alarms" }, ...status.alarms.map((a) =>
      el("li", { class: a.level === "critical" ? "bad" : "warn", "data-testid": "alarm", "data-level": a.level },
         a.text, a.since ? el("span", { class: "muted" }, ` Since ${dateTime(a.since)}.`) : "")))
    : el("p", { class: "ok", "data-testid": "all-well" }, "Nothing needs your attention.");
  return el("div", { class: "health", "data-testid": "box-health" },
    el("p", { "data-testid": "disk" }, disk,
       status.reported_at ? el("span", { class: "muted" }, ` Reported ${dateTime(status.reported_at)}.`) : ""),
    keeps.length ? el("ul", {}, ...keeps) : "", alarms);
}
