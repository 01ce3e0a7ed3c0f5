// The live hit stream (GET /api/hits/stream). The route, its Last-Event-ID header and its errors go through the
// typed client; what the schema cannot say is here: the body is text/event-stream (the schema has only
// "string"), so its framing is read by lib/sse.ts and its event kinds are named below; `hit` and `hit_updated`
// carry a HitOut (typed from the schema), but `dropped` and `ended` carry the hub's HitStreamNote
// (hub/hit_feed.py), which no route returns as JSON and so is not in the schema: typed here by hand.
import { api, ApiError, reason, type Schemas } from "./client";
import { readEvents } from "../lib/sse";

export type Hit = Schemas["HitOut"];

/** The last thing a stream says before it ends (hub/hit_feed.py HitStreamNote; not in the OpenAPI schema). */
export interface HitStreamNote {
  reason: string;
  /** The newest hit this stream sent: reconnect with it as Last-Event-ID to get what came after. */
  last_hit_id: number | null;
}

export type HitEvent =
  | { kind: "open" }
  | { kind: "hit" | "hit_updated"; id: number | null; hit: Hit }
  | { kind: "dropped" | "ended"; note: HitStreamNote };

/** `open` once the hub has accepted the stream, then its hit events after hit `lastId` (the ones stored
 * meanwhile first), until the stream ends or `signal` aborts. Read with fetch: EventSource cannot send the Authorization header. Unknown event kinds are skipped. */
export async function* hitEvents(lastId: number | null, signal: AbortSignal): AsyncGenerator<HitEvent> {
  const { data: body, error, response } = await api.GET("/api/hits/stream", {
    params: lastId === null ? {} : { header: { "last-event-id": lastId } },
    headers: { Accept: "text/event-stream" }, parseAs: "stream", signal,
  });
  if (!response.ok || !body) throw new ApiError(response.status, reason(error, `${response.status} ${response.statusText}`));
  yield { kind: "open" };
  for await (const event of readEvents(body)) {
    if (event.event === "hit" || event.event === "hit_updated") {
      const id = event.id === null ? null : Number(event.id);
      yield { kind: event.event, id: Number.isSafeInteger(id) ? id : null, hit: JSON.parse(event.data) as Hit };
    } else if (event.event === "dropped" || event.event === "ended") {
      yield { kind: event.event, note: JSON.parse(event.data) as HitStreamNote };
    }
  }
}
