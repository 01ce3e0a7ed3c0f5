// The plate-hit, plate-search and hot-list-import endpoints the hub API branch adds for this console (issue 16),
// typed here by hand from that branch's models (hub/hits.py HitOut, hub/plate_search.py PlateSearchIn/Out,
// hub/hotlist_import.py HotListImportOut) until they are in this hub's OpenAPI schema. Then these types come from
// src/api/schema.d.ts through the typed client, and this file goes. On a hub without them the calls answer 404
// and the pages say what they wait for.
import { parseEvent, type ServerEvent } from "../lib/sse";
import { ApiError, reason, signedOut, signIn } from "./client";

export type HitState = "new" | "acknowledged" | "dismissed";

export interface Hit {
  id: number;
  plate: string;
  entry_plate: string | null;
  list_name: string;
  reason: string;
  at: string;
  first_seen: string | null;
  confidence: number | null;
  camera_id: number | null;
  camera_name: string | null;
  business_id: number;
  business_name: string;
  latitude: number | null;
  longitude: number | null;
  view_direction_deg: number | null;
  read_id: number | null;
  thumbnail_url: string | null;
  state: HitState;
  acknowledged_by: string | null;
  acknowledged_at: string | null;
  dismissed_by: string | null;
  dismissed_at: string | null;
  note: string;
}

export interface PlateSearchIn {
  plate: string;
  max_edits?: 0 | 1;
  camera_ids?: number[] | null;
  area?: { latitude: number; longitude: number; radius_m: number } | null;
  window_from: string;
  window_to: string;
  purpose: string;
  case_number: string;
  reason: string;
  limit?: number;
}

export interface PlateRead {
  id: number;
  plate: string;
  confidence: number;
  first_seen: string;
  last_seen: string;
  camera_id: number;
  camera_name: string;
  business_id: number;
  business_name: string;
  latitude: number | null;
  longitude: number | null;
  view_direction_deg: number | null;
  hotlist: string | null;
  thumbnail_url: string | null;
}

export interface PlateSearchOut {
  reads: PlateRead[];
  truncated: boolean;
  audit_index: number;
}

export interface ImportRow {
  line: number;
  plate: string;
  region: string;
  list_name: string;
  reason: string;
  expires_at: string | null;
  outcome: "add" | "error";
  errors: string[];
}

export interface HotListImportOut {
  dry_run: boolean;
  stored: boolean;
  added: number;
  failed: number;
  version: number | null;
  problems: string[];
  rows: ImportRow[];
}

function headers(extra: Record<string, string> = {}): Headers {
  const h = new Headers(extra);
  const token = signIn.token;
  if (token) h.set("Authorization", `Bearer ${token}`);
  return h;
}

/** A call to one of these endpoints: its JSON, or an ApiError with the hub's reason (404: not on this hub). */
export async function call<T>(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<T> {
  const response = await fetch(path, {
    method, headers: headers(body === undefined ? {} : { "Content-Type": contentType }),
    body: body === undefined ? undefined : contentType === "application/json" ? JSON.stringify(body) : String(body),
  });
  const data: unknown = await response.json().catch(() => undefined);
  if (response.status === 401) signedOut(401);
  if (!response.ok) throw new ApiError(response.status, reason(data, `${response.status} ${response.statusText}`), data);
  return data as T;
}

/** A thumbnail the hub serves only with the sign-in: as an object URL an <img> can show (CSP: img-src blob:). */
export async function thumbnail(url: string): Promise<string> {
  const response = await fetch(url, { headers: headers() });
  if (!response.ok) throw new ApiError(response.status, `thumbnail: ${response.status}`);
  return URL.createObjectURL(await response.blob());
}

/** Server-sent events read with fetch (EventSource cannot send the Authorization header), until the stream
 * ends or `signal` aborts. */
export async function* serverEvents(path: string, lastId: string | null, signal: AbortSignal): AsyncGenerator<ServerEvent> {
  const response = await fetch(path, {
    headers: headers(lastId ? { "Last-Event-ID": lastId, Accept: "text/event-stream" } : { Accept: "text/event-stream" }),
    signal,
  });
  if (!response.ok || !response.body) {
    const data: unknown = await response.json().catch(() => undefined);
    throw new ApiError(response.status, reason(data, `${response.status} ${response.statusText}`));
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, "\n");
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const parsed = parseEvent(block);
      if (parsed) yield parsed;
    }
  }
}
