// Plate hits, live, and plate search. Hits: the recent ones, then the hub's server-sent event stream (resumed
// from the last hit seen after a break), each with its thumbnail, list, reason, camera and confidence, shown on
// the map; acknowledge or dismiss (on the record at the hub). Search: a plate (look-alike aware at the hub),
// a window, optionally the map's view, with purpose, case number and reason, all required.
// Every call goes through the typed client (src/api/client.ts); the stream's framing is src/api/hitstream.ts.
// On a hub whose console config says it has no hits or no search, the panel says so.
import { api, ApiError, messageOf, must, type Schemas } from "../api/client";
import { type Hit, hitEvents } from "../api/hitstream";
import { byId, el, say } from "../lib/dom";
import { dateTime, fromLocalInput, toLocalInput } from "../lib/time";

const RECENT = 20;
const RETRY_MS = [1000, 2000, 5000, 10_000, 30_000];

type PlateSearchIn = Schemas["PlateSearchIn"];
type Purpose = PlateSearchIn["purpose"];

const thumbnails = new Map<number, Promise<string>>();

/** A read's thumbnail, which the hub serves only with the sign-in: as an object URL an <img> can show (CSP:
 * img-src blob:), fetched once per read however often its hit's row is drawn again. */
function thumbnail(readId: number): Promise<string> {
  let url = thumbnails.get(readId);
  if (!url) {
    url = must(api.GET("/api/reads/{read_id}/thumbnail", { params: { path: { read_id: readId } }, parseAs: "blob" }))
      .then((blob) => URL.createObjectURL(blob));
    url.catch(() => thumbnails.delete(readId)); // tried again when the row is drawn again
    thumbnails.set(readId, url);
  }
  return url;
}

export interface PlateEvents {
  showHit(hit: Hit): void;
  mapView(): { latitude: number; longitude: number; radius_m: number };
}

export class PlateHits {
  private readonly list = byId<HTMLOListElement>("plate-hit-list");
  private readonly hits = new Map<number, Hit>();
  private lastId: number | null = null;
  private failures = 0;
  private readonly stop = new AbortController();

  constructor(private readonly events: PlateEvents) {}

  /** The recent hits, then the live stream (`available`: the hub has them; otherwise the panel says so). */
  async start(available: boolean): Promise<void> {
    if (!available) {
      say(byId("plate-hits-note"), "This hub does not stream plate hits yet.");
      return;
    }
    try {
      const recent = await must(api.GET("/api/hits", { params: { query: { limit: RECENT } } }));
      recent.reverse().forEach((hit) => this.show(hit));
      this.lastId = recent.length ? Math.max(...recent.map((h) => h.id)) : null;
    } catch (error) {
      say(byId("plate-hits-note"), `Plate hits could not be read: ${messageOf(error)}`);
      if (refused(error)) return;
    }
    void this.follow();
  }

  /** Read the live stream; after a break, resume from the last hit seen. */
  private async follow(): Promise<void> {
    while (!this.stop.signal.aborted) {
      try {
        say(byId("plate-hits-note"), "Connecting…");
        for await (const event of hitEvents(this.lastId, this.stop.signal)) {
          if (event.kind === "open") {
            this.failures = 0;
            say(byId("plate-hits-note"), "Live.");
          } else if ("hit" in event) {
            this.show(event.hit, event.kind === "hit");
            if (event.kind === "hit") this.seen(event.id ?? event.hit.id);
          } else if ("note" in event) {
            this.seen(event.note.last_hit_id);
            say(byId("plate-hits-note"), `The hit stream ended (${event.note.reason}): reconnecting…`);
            break;
          }
        }
      } catch (error) {
        if (this.stop.signal.aborted) return;
        if (refused(error)) {
          say(byId("plate-hits-note"), `Plate hits could not be read: ${messageOf(error)}`);
          return;
        }
        say(byId("plate-hits-note"), `The hit stream broke (${messageOf(error)}): reconnecting…`);
      }
      await new Promise((r) => setTimeout(r, RETRY_MS[Math.min(this.failures++, RETRY_MS.length - 1)]));
    }
  }

  /** The resume point: the newest hit the stream has sent. */
  private seen(id: number | null): void {
    if (id !== null && (this.lastId === null || id > this.lastId)) this.lastId = id;
  }

  private show(hit: Hit, fresh = false): void {
    const known = this.hits.has(hit.id);
    this.hits.set(hit.id, hit);
    const row = this.row(hit);
    const old = this.list.querySelector(`[data-hit-id="${hit.id}"]`);
    if (old) old.replaceWith(row);
    else this.list.prepend(row);
    byId("plate-hits-empty").hidden = this.hits.size > 0;
    if (fresh && !known) this.events.showHit(hit);
  }

  private row(hit: Hit): HTMLLIElement {
    const img = el("img", { alt: `Plate ${hit.plate}`, "data-testid": "hit-thumbnail", class: "thumb", hidden: true });
    if (hit.thumbnail_url && hit.read_id !== null) {
      thumbnail(hit.read_id).then((url) => { img.src = url; img.hidden = false; }).catch(() => undefined);
    }
    const actions = el("span", { class: "hit-actions" });
    if (hit.state === "new") {
      const ack = el("button", { type: "button", class: "small", "data-testid": "hit-acknowledge" }, "Acknowledge");
      const dismiss = el("button", { type: "button", class: "small quiet", "data-testid": "hit-dismiss" }, "Dismiss");
      ack.addEventListener("click", () => void this.handle(hit, "acknowledge"));
      dismiss.addEventListener("click", () => void this.handle(hit, "dismiss"));
      actions.append(ack, " ", dismiss);
    } else {
      actions.append(el("span", { class: "muted" }, hit.state === "acknowledged"
        ? `acknowledged by ${hit.acknowledged_by ?? "?"}` : `dismissed by ${hit.dismissed_by ?? "?"}`));
    }
    const where = hit.camera_name ? `${hit.business_name} · ${hit.camera_name}` : hit.business_name;
    const item = el("li", { "data-testid": "plate-hit", "data-hit-id": hit.id, "data-state": hit.state,
                            class: `hit ${hit.state}` },
      img,
      el("span", {}, el("strong", { class: "plate" }, hit.plate), ` on ${hit.list_name}: ${hit.reason}`, el("br"),
         el("span", { class: "muted" }, `${where} · ${dateTime(hit.at)}` +
            (hit.confidence !== null ? ` · ${Math.round(hit.confidence * 100)} %` : "") +
            (hit.entry_plate && hit.entry_plate !== hit.plate ? ` · listed as ${hit.entry_plate}` : "")),
         el("br"), actions));
    item.addEventListener("click", (e) => { if (!(e.target instanceof HTMLButtonElement)) this.events.showHit(hit); });
    return item;
  }

  private async handle(hit: Hit, action: "acknowledge" | "dismiss"): Promise<void> {
    const params = { params: { path: { hit_id: hit.id } } };
    try {
      this.show(await must(action === "acknowledge" ? api.POST("/api/hits/{hit_id}/acknowledge", params)
                                                    : api.POST("/api/hits/{hit_id}/dismiss", params)));
    } catch (error) {
      say(byId("plate-hits-note"), `${action} failed: ${messageOf(error)}`);
    }
  }
}

export class PlateSearch {
  private readonly form = byId<HTMLFormElement>("plate-search");

  constructor(private readonly events: PlateEvents, private readonly available: boolean) {
    const now = new Date();
    byId<HTMLInputElement>("ps-from").value = toLocalInput(new Date(now.getTime() - 24 * 3600_000));
    byId<HTMLInputElement>("ps-to").value = toLocalInput(now);
    this.form.addEventListener("submit", (event) => { event.preventDefault(); void this.search(); });
  }

  private async search(): Promise<void> {
    const error = byId("ps-error");
    say(error);
    if (!this.available) {
      say(error, "Plate search is not on this hub yet.");
      return;
    }
    say(byId("ps-note"), "Searching…");
    const from = fromLocalInput(byId<HTMLInputElement>("ps-from").value);
    const to = fromLocalInput(byId<HTMLInputElement>("ps-to").value);
    if (!from || !to) { say(error, "Give the window's start and end."); return; }
    const body: PlateSearchIn = {
      plate: byId<HTMLInputElement>("ps-plate").value.trim(), window_from: from.toISOString(),
      window_to: to.toISOString(), purpose: byId<HTMLSelectElement>("ps-purpose").value as Purpose,
      case_number: byId<HTMLInputElement>("ps-case").value, reason: byId<HTMLTextAreaElement>("ps-reason").value,
      max_edits: byId<HTMLInputElement>("ps-one-off").checked ? 1 : 0,
      area: byId<HTMLInputElement>("ps-in-view").checked ? this.events.mapView() : null,
    };
    try {
      const found = await must(api.POST("/api/plates/search", { body }));
      say(byId("ps-note"), `${found.reads.length} read${found.reads.length === 1 ? "" : "s"}${found.truncated ? " (more matched: narrow the search)" : ""}` +
          ` · on the record as audit entry ${found.audit_index}.`);
      byId("ps-results").replaceChildren(...found.reads.map((read) =>
        el("tr", { "data-testid": "plate-read", "data-read-id": read.id },
          el("td", {}, el("strong", {}, read.plate), read.hotlist ? el("span", { class: "badge" }, read.hotlist) : null),
          el("td", {}, `${read.business_name} · ${read.camera_name}`, el("br"),
             el("span", { class: "muted" }, `${dateTime(read.last_seen)} · ${Math.round(read.confidence * 100)} %`)))));
    } catch (failure) {
      say(byId("ps-note"));
      say(error, messageOf(failure));
    }
  }
}

/** The hub will not give this sign-in plate hits (401: signed out, the page says so; 403: not its role):
 * asking again will not help. */
function refused(error: unknown): boolean {
  return error instanceof ApiError && (error.status === 401 || error.status === 403);
}
