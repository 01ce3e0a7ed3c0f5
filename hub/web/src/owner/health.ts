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

function duration(seconds: number): string {
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return minutes === 1 ? "1 minute" : `${minutes} minutes`;
  const hours = Math.floor(minutes / 60), rest = minutes % 60;
  return rest ? `${hours} h ${rest} min` : `${hours} h`;
}

/** One camera's last 24 hours as its box reported them: how much was recorded, and the newest gaps with why. */
function lastDay(camera: BoxStatus["cameras"][number]): HTMLElement {
  const gaps = camera.recent_gaps.map((g) =>
    el("li", {}, `${dateTime(g.start)} – ${dateTime(g.end)}: ${g.reason || "not recorded"}`));
  const more = camera.gaps_last_day > camera.recent_gaps.length
    ? el("li", { class: "muted" }, `and ${camera.gaps_last_day - camera.recent_gaps.length} earlier`) : "";
  const said = camera.gaps_last_day === 0 ? "no gaps"
    : camera.gaps_last_day === 1 ? "1 gap" : `${camera.gaps_last_day} gaps`;
  if (camera.recorded_last_day_s === 0 && camera.gaps_last_day === 0) {
    return el("li", { "data-testid": "coverage", "data-camera": camera.name, class: "warn" },
      `${camera.name}: the box has reported no recording in the last 24 hours`);
  }
  return el("li", { "data-testid": "coverage", "data-camera": camera.name },
    `${camera.name} recorded ${duration(camera.recorded_last_day_s)} of the last 24 hours, ${said}`,
    gaps.length ? el("ul", {}, ...gaps, more) : "");
}

/** The box's disk, each camera's retention and last 24 hours, and its alarms (or that all is well). */
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
    keeps.length ? el("ul", {}, ...keeps) : "",
    status.cameras.length ? el("ul", { "data-testid": "coverage-list" }, ...status.cameras.map(lastDay)) : "",
    alarms);
}
