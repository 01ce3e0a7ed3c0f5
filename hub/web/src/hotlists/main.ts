// The hot-list page: the entries the boxes match plates against, adding and removing one (each change is
// audited and pushed to the boxes by the hub), and a CSV's rows checked before import.
import "../styles/base.css";
import "../styles/hotlists.css";
import { api, ApiError, messageOf, must, signIn, type Schemas } from "../api/client";
import { call, type HotListImportOut } from "../api/pending";
import { byId, el, say } from "../lib/dom";
import { dateTime, fromLocalInput } from "../lib/time";
import { hotListRows, normalisePlate } from "./csv";

type Entry = Schemas["HotListOut"];

async function refresh(): Promise<void> {
  let entries: Entry[];
  try {
    entries = await must(api.GET("/api/hotlist"));
  } catch (error) {
    say(byId("entries-error"), messageOf(error));
    return;
  }
  say(byId("entry-count"), `(${entries.length})`);
  byId("list-names").replaceChildren(...[...new Set(entries.map((e) => e.list_name))].map((n) => new Option(n, n)));
  byId("entries").replaceChildren(...entries.map((entry) => {
    const remove = el("button", { type: "button", class: "small quiet", "aria-label": `Remove ${entry.plate}` }, "Remove");
    remove.addEventListener("click", () => void removeEntry(entry));
    return el("tr", { "data-testid": "hotlist-entry" },
      el("td", {}, el("strong", {}, entry.plate)), el("td", {}, entry.list_name), el("td", {}, entry.reason),
      el("td", {}, entry.expires_at ? dateTime(entry.expires_at) : "—"), el("td", {}, remove));
  }));
}

async function removeEntry(entry: Entry): Promise<void> {
  say(byId("entries-error"));
  try {
    await must(api.DELETE("/api/hotlist/{entry_id}", { params: { path: { entry_id: entry.id } } }));
  } catch (error) {
    say(byId("entries-error"), messageOf(error));
  }
  await refresh();
}

async function addEntry(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  say(byId("add-error"));
  const expires = fromLocalInput(byId<HTMLInputElement>("add-expires").value);
  try {
    await must(api.POST("/api/hotlist", { body: {
      plate: normalisePlate(byId<HTMLInputElement>("add-plate").value), list_name: byId<HTMLInputElement>("add-list").value,
      reason: byId<HTMLInputElement>("add-reason").value, expires_at: expires ? expires.toISOString() : null } }));
    byId<HTMLFormElement>("add-entry").reset();
  } catch (error) {
    say(byId("add-error"), messageOf(error));
  }
  await refresh();
}

let csvText = "";
let importable = false; // the hub has POST /api/hotlist/import

/** The file's rows as this page reads them: what is wrong with each, before anything is sent. */
async function preview(): Promise<void> {
  const file = byId<HTMLInputElement>("csv-file").files?.[0];
  say(byId("csv-error"));
  if (!file) return;
  csvText = await file.text();
  const rows = hotListRows(csvText);
  const bad = rows.filter((r) => r.problems.length).length;
  showRows(["Line", "Plate", "Region", "List", "Reason", "Expires", "Problems"], rows.map((r) => ({
    line: r.line, cells: [r.plate, r.region, r.list, r.reason, r.expires ? dateTime(r.expires) : "—"], problems: r.problems })));
  say(byId("csv-note"), `${rows.length} rows, ${bad} with problems (as this page reads them; the hub checks again).`);
  byId<HTMLButtonElement>("csv-check").disabled = !rows.length;
  byId<HTMLButtonElement>("csv-import").disabled = !rows.length || bad > 0;
}

function showRows(head: string[], rows: { line: number; cells: string[]; problems: string[] }[]): void {
  byId("csv-preview").replaceChildren(el("tr", {}, ...head.map((h) => el("th", { scope: "col" }, h))),
    ...rows.map((r) => el("tr", { "data-testid": "csv-row", class: r.problems.length ? "bad" : false },
      el("td", {}, String(r.line)), ...r.cells.map((c) => el("td", {}, c)),
      el("td", { class: "error" }, r.problems.join("; ")))));
}

/** The hub's import: a dry run shows each row's outcome; otherwise all rows are stored, or none. */
async function importCsv(dryRun: boolean): Promise<void> {
  say(byId("csv-error"));
  if (!importable) {
    say(byId("csv-error"), "This hub has no hot-list import yet: add the entries one by one.");
    return;
  }
  let result: HotListImportOut;
  try {
    result = await call<HotListImportOut>("POST", `/api/hotlist/import?dry_run=${dryRun}`, csvText, "text/csv");
  } catch (error) {
    const refused = error instanceof ApiError && error.status === 422 ? error.body as HotListImportOut : undefined;
    if (!refused?.rows) {
      const missing = error instanceof ApiError && error.status === 404;
      say(byId("csv-error"), missing ? "This hub has no hot-list import yet: add the entries one by one." : messageOf(error));
      return;
    }
    result = refused; // the hub's preview of why nothing was stored
  }
  showRows(["Line", "Plate", "Region", "List", "Reason", "Expires", "Problems"], result.rows.map((r) => ({
    line: r.line, cells: [r.plate, r.region, r.list_name, r.reason, r.expires_at ? dateTime(r.expires_at) : "—"],
    problems: r.errors })));
  say(byId("csv-note"), [...result.problems, result.stored ? `${result.added} entries stored and sent to the boxes.`
    : `${result.added} rows would be added, ${result.failed} have problems${dryRun ? "" : ": nothing was stored"}.`].join(" "));
  if (result.stored) await refresh();
}

async function start(): Promise<void> {
  if (!signIn.token) {
    byId("signed-out").hidden = false;
    return;
  }
  try {
    const me = await must(api.GET("/api/auth/me"));
    say(byId("who"), `${me.username} (${me.role})`);
  } catch {
    byId("signed-out").hidden = false;
    return;
  }
  byId("hotlists").hidden = false;
  importable = (await must(api.GET("/api/console/config"))).hotlist_import;
  byId<HTMLFormElement>("add-entry").addEventListener("submit", (e) => void addEntry(e));
  byId("csv-file").addEventListener("change", () => void preview());
  byId("csv-check").addEventListener("click", () => void importCsv(true));
  byId("csv-import").addEventListener("click", () => void importCsv(false));
  await refresh();
}

void start();
