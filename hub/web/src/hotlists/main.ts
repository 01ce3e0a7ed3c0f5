// The hot-list page: the entries the boxes match plates against, adding, editing, expiring and removing one
// (each change is audited and pushed to the boxes by the hub), and a CSV's rows checked before import.
import "../styles/base.css";
import "../styles/hotlists.css";
import { api, messageOf, must, reason, signIn, type Schemas } from "../api/client";
import { byId, el, say } from "../lib/dom";
import { dateTime, fromLocalInput, toLocalInput } from "../lib/time";
import { hotListRows, normalisePlate } from "./csv";

type Entry = Schemas["HotListOut"];
type Patch = Schemas["HotListPatch"];
type ImportOut = Schemas["HotListImportOut"];

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
    const button = (text: string, testid: string, action: () => Promise<unknown>) => {
      const b = el("button", { type: "button", class: "small quiet", "data-testid": testid,
                               "aria-label": `${text} ${entry.plate} on ${entry.list_name}` }, text);
      b.addEventListener("click", () => void action());
      return b;
    };
    const path = { params: { path: { entry_id: entry.id } } };
    return el("tr", { "data-testid": "hotlist-entry", "data-entry-id": entry.id, class: entry.expired ? "expired" : false },
      el("td", {}, el("strong", {}, entry.plate), " ", el("span", { class: "muted" }, entry.region)), el("td", {}, entry.list_name),
      el("td", {}, entry.reason),
      el("td", {}, entry.expired ? "expired " : "", entry.expires_at ? dateTime(entry.expires_at) : "—"),
      el("td", { class: "actions" },
         button("Edit", "hotlist-edit", async () => edit(entry)), " ",
         entry.expired ? null : button("Expire", "hotlist-expire", () => change(api.POST("/api/hotlist/{entry_id}/expire", path))),
         " ", button("Remove", "hotlist-remove", () => change(api.DELETE("/api/hotlist/{entry_id}", path)))));
  }));
}

/** One change to an entry; the hub's reason if it refused; the list read again either way. */
async function change(call: Promise<{ data?: unknown; error?: unknown; response: Response }>): Promise<void> {
  say(byId("entries-error"));
  try {
    await must(call);
  } catch (error) {
    say(byId("entries-error"), messageOf(error));
  }
  await refresh();
}

let editing: Entry | null = null;

/** The edit dialog, filled with the entry as it is. */
function edit(entry: Entry): void {
  editing = entry;
  say(byId("edit-error"));
  say(byId("edit-plate"), entry.plate);
  byId<HTMLInputElement>("edit-list").value = entry.list_name;
  byId<HTMLInputElement>("edit-region").value = entry.region;
  byId<HTMLInputElement>("edit-reason").value = entry.reason;
  byId<HTMLInputElement>("edit-expires").value = entry.expires_at ? toLocalInput(new Date(entry.expires_at)) : "";
  byId<HTMLDialogElement>("edit-dialog").showModal();
}

/** Only what the analyst changed is sent (and so on the record as changed); an empty expiry is none. */
async function saveEdit(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  const entry = editing;
  if (!entry) return;
  const expires = fromLocalInput(byId<HTMLInputElement>("edit-expires").value);
  const wanted = {
    list_name: byId<HTMLInputElement>("edit-list").value, region: byId<HTMLInputElement>("edit-region").value.toUpperCase(),
    reason: byId<HTMLInputElement>("edit-reason").value,
  };
  const body: Patch = {};
  if (wanted.list_name !== entry.list_name) body.list_name = wanted.list_name;
  if (wanted.region !== entry.region) body.region = wanted.region;
  if (wanted.reason !== entry.reason) body.reason = wanted.reason;
  const before = entry.expires_at ? toLocalInput(new Date(entry.expires_at)) : "";
  if (byId<HTMLInputElement>("edit-expires").value !== before) body.expires_at = expires ? expires.toISOString() : null;
  try {
    if (Object.keys(body).length) {
      await must(api.PATCH("/api/hotlist/{entry_id}", { params: { path: { entry_id: entry.id } }, body }));
    }
    byId<HTMLDialogElement>("edit-dialog").close();
  } catch (error) {
    say(byId("edit-error"), messageOf(error));
    return;
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
      region: byId<HTMLInputElement>("add-region").value.toUpperCase(), reason: byId<HTMLInputElement>("add-reason").value,
      expires_at: expires ? expires.toISOString() : null } }));
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
  let result: ImportOut;
  try {
    // the body is the file's text as it is (text/csv), not JSON
    const { data, error, response } = await api.POST("/api/hotlist/import", {
      params: { query: { dry_run: dryRun } }, body: csvText, headers: { "Content-Type": "text/csv" },
      bodySerializer: (csv) => csv,
    });
    if (data) result = data;
    else if (Array.isArray(error?.rows)) result = error; // 422: the hub's preview of why nothing was stored
    else { // (a file that is not UTF-8 is refused with a reason, not a preview)
      say(byId("csv-error"), reason(error, `${response.status} ${response.statusText}`));
      return;
    }
  } catch (error) {
    say(byId("csv-error"), messageOf(error));
    return;
  }
  showRows(["Line", "Plate", "Region", "List", "Reason", "Expires", "Problems"], result.rows.map((r) => ({
    line: r.line, cells: [r.plate, r.region, r.list_name, r.reason, r.expires_at ? dateTime(r.expires_at) : "—"],
    problems: r.errors })));
  say(byId("csv-note"), [...result.problems, result.stored ? `${result.added} ${result.added === 1 ? "entry" : "entries"} stored and sent to the boxes.`
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
  byId<HTMLFormElement>("edit-entry").addEventListener("submit", (e) => void saveEdit(e));
  byId("edit-cancel").addEventListener("click", () => byId<HTMLDialogElement>("edit-dialog").close());
  byId("csv-file").addEventListener("change", () => void preview());
  byId("csv-check").addEventListener("click", () => void importCsv(true));
  byId("csv-import").addEventListener("click", () => void importCsv(false));
  await refresh();
}

void start();
