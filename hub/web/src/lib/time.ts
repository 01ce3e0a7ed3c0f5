// Times as the analyst reads and types them (local time), and as the API wants them (ISO 8601, UTC).

/** A `datetime-local` value (local time, seconds) for a moment. */
export function toLocalInput(moment: Date): string {
  const local = new Date(moment.getTime() - moment.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 19);
}

/** The moment a `datetime-local` value names (null if empty or invalid). */
export function fromLocalInput(value: string): Date | null {
  if (!value) return null;
  const moment = new Date(value);
  return Number.isNaN(moment.getTime()) ? null : moment;
}

export function clock(moment: Date | string): string {
  return new Date(moment).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function dateTime(moment: Date | string): string {
  return new Date(moment).toLocaleString([], { dateStyle: "short", timeStyle: "medium" });
}

/** "m:ss" for a number of seconds. */
export function minutes(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** "3 min ago", "2 h ago", for a time in the past. */
export function ago(moment: Date | string, now = Date.now()): string {
  const seconds = Math.max(0, (now - new Date(moment).getTime()) / 1000);
  if (seconds < 90) return `${Math.round(seconds)} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 2 * 86400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}
