// The auditor's console: search every audit entry by who, action, purpose, case number, camera, business,
// outcome and time; readable rows; CSV/JSON exports of the search and a verifiable export of a period (each
// on the record at the hub); the log's size and its newest signed checkpoint.
import "../styles/base.css";
import "../styles/audit.css";
import { api, messageOf, must, onSignedOut, reason, signIn, type Schemas } from "../api/client";
import { leftMessage, resume, showWho, signInForm, signOut } from "../console/signin";
import { auditCells, headings } from "../lib/auditrow";
import { byId, el, say } from "../lib/dom";
import { fileName, save } from "../lib/download";
import { fromLocalInput } from "../lib/time";

type Me = Schemas["UserOut"];
type Page = Schemas["AuditPage"];
type Query = {
  actor?: string; action?: string; purpose?: string; case_number?: string; outcome?: string;
  business_id?: number; camera_id?: number; since?: string; until?: string;
};

const value = (id: string) => byId<HTMLInputElement | HTMLSelectElement>(id).value.trim();

/** The search as the form states it (empty fields left out). */
function query(): Query {
  const q: Query = {};
  const text = { actor: "f-actor", action: "f-action", purpose: "f-purpose", case_number: "f-case",
                 outcome: "f-outcome" } as const;
  for (const [name, id] of Object.entries(text) as [keyof typeof text, string][]) if (value(id)) q[name] = value(id);
  if (value("f-business")) q.business_id = Number(value("f-business"));
  if (value("f-camera")) q.camera_id = Number(value("f-camera"));
  const since = fromLocalInput(value("f-since"));
  const until = fromLocalInput(value("f-until"));
  if (since) q.since = since.toISOString();
  if (until) q.until = until.toISOString();
  return q;
}

function showLog(page: Page): void {
  say(byId("log-size"), page.log_size.toLocaleString());
  say(byId("checkpoint-size"), `${page.checkpoint.size.toLocaleString()} entries`);
  say(byId("checkpoint-root"), `root ${page.checkpoint.root}`);
  say(byId("checkpoint-note"), page.checkpoint.note);
}

let shown: Query = {};
let olderThan: number | null = null;

async function search(more = false): Promise<void> {
  say(byId("search-error"));
  if (!more) shown = query();
  try {
    const page = await must(api.GET("/api/audit/search", { params: { query: {
      ...shown, ...(more && olderThan !== null ? { before: olderThan } : {}) } } }));
    showLog(page);
    const rows = page.entries.map((row) => el("tr", { "data-testid": "audit-row", "data-index": row.index },
                                             ...auditCells(row)));
    const body = byId("results");
    if (more) body.append(...rows);
    else body.replaceChildren(...rows);
    body.parentElement?.querySelector("thead")?.remove();
    body.before(headings());
    olderThan = page.next_before;
    byId("more").hidden = olderThan === null;
    const count = body.childElementCount;
    say(byId("result-count"), `(${count}${olderThan === null ? "" : "+"})`);
    say(byId("search-note"), count ? "" : "No entry matches this search.");
  } catch (error) {
    say(byId("search-error"), messageOf(error));
  }
}

/** Fetch an export with the sign-in and save it; the hub puts the export itself on the record. */
async function download(path: string, params: Record<string, string | number>, fallback: string): Promise<void> {
  say(byId("search-error"));
  const url = new URL(path, location.origin);
  for (const [name, v] of Object.entries(params)) url.searchParams.set(name, String(v));
  const response = await fetch(url, { headers: { Authorization: `Bearer ${signIn.token ?? ""}` } });
  if (response.status === 401) return signOut("Your sign-in has ended: sign in again.");
  if (!response.ok) {
    say(byId("search-error"), reason(await response.json().catch(() => undefined), `${response.status}`));
    return;
  }
  save(await response.blob(), fileName(response, fallback));
  say(byId("search-note"), `Saved ${fileName(response, fallback)} (the export is on the record).`);
}

function exportSearch(format: "csv" | "json"): void {
  void download("/api/audit/export", { ...query(), format }, `audit.${format}`);
}

function exportPeriod(): void {
  const { since, until } = query();
  if (!since || !until) {
    say(byId("search-error"), "A verifiable export is of a period: fill in From and Until.");
    return;
  }
  void download("/api/audit/export/verifiable", { since, until }, "audit-export.jsonl");
}

function options(id: string, items: { value: string | number; text: string }[]): void {
  byId(id).append(...items.map((item) => new Option(item.text, String(item.value))));
}

async function showAuditor(me: Me): Promise<void> {
  byId("signin").hidden = true;
  byId("auditor").hidden = false;
  showWho(me);
  if (me.role !== "auditor" && me.role !== "admin") {
    byId("not-auditor").hidden = false;
    byId("search").querySelectorAll("button").forEach((b) => (b.disabled = true));
    return;
  }
  try {
    const facets = await must(api.GET("/api/audit/facets"));
    options("actions", facets.actions.map((a) => ({ value: a, text: a })));
    options("f-purpose", facets.purposes.map((p) => ({ value: p, text: p.replaceAll("_", " ") })));
    options("f-outcome", facets.outcomes.map((o) => ({ value: o, text: o })));
    options("f-business", facets.businesses.map((b) => ({ value: b.id, text: b.name })));
    options("f-camera", facets.cameras.map((c) => ({ value: c.id, text: `${c.business} · ${c.name}` })));
  } catch (error) {
    say(byId("search-error"), messageOf(error));
  }
  await search();
}

byId<HTMLFormElement>("search").addEventListener("submit", (event) => {
  event.preventDefault();
  void search();
});
byId("more").addEventListener("click", () => void search(true));
byId("export-csv").addEventListener("click", () => exportSearch("csv"));
byId("export-json").addEventListener("click", () => exportSearch("json"));
byId("export-verifiable").addEventListener("click", exportPeriod);
leftMessage();
onSignedOut(() => signOut("Your sign-in has ended: sign in again."));
signInForm(showAuditor);
void resume(showAuditor);
