// What the public pages share: the typed API client without a sign-in, the private token of a link page (in
// the path: /registration/<token>, /upload/<token>), and the hub's reason when it refuses.
import createClient from "openapi-fetch";
import type { components, paths } from "../api/schema";
import { ApiError, reason } from "../api/client";

export type Schemas = components["schemas"];

export const publicApi = createClient<paths>({ baseUrl: location.origin });

/** The token in this page's path, or "" when there is none. */
export function pathToken(): string {
  return decodeURIComponent(location.pathname.split("/")[2] ?? "");
}

export function bearer(token: string): { Authorization: string } {
  return { Authorization: `Bearer ${token}` };
}

/** The data of a call, or an ApiError with the hub's reason (and the link's state when it is closed). */
export async function must<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw new ApiError(response.status, reason(error, `${response.status} ${response.statusText}`));
  return data as T;
}

/** A size in words people read (1.5 GB, 300 MB). */
export function bytesText(bytes: number): string {
  const units = ["bytes", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit ? value.toFixed(value < 10 ? 1 : 0) : value} ${units[unit]}`;
}

/** Show the agency's name where the page names it. */
export function nameAgency(agency: string): void {
  document.getElementById("agency")!.textContent = agency;
  document.querySelectorAll("[data-agency]").forEach((node) => (node.textContent = agency));
}
