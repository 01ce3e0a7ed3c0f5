// The hot-list page: the entries the boxes match plates against, adding and removing one (each change is
// audited and pushed to the boxes by the hub), and a CSV's rows checked before import.
import "../styles/base.css";
import "../styles/hotlists.css";
import { api, messageOf, must, signIn, type Schemas } from "../api/client";
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

async function preview(): Promise<void> {
  const file = byId<HTMLInputElement>("csv-file").files?.[0];
  if (!file) return;
  const rows = hotListRows(await file.text());
  const bad = rows.filter((r) => r.problems.length).length;
  byId("csv-preview").replaceChildren(
    el("tr", {}, ...["Line", "Plate", "Region", "List", "Reason", "Expires", "Problems"].map((h) => el("th", { scope: "col" }, h))),
    ...rows.map((r) => el("tr", { "data-testid": "csv-row", class: r.problems.length ? "bad" : false },
      el("td", {}, String(r.line)), el("td", {}, r.plate), el("td", {}, r.region), el("td", {}, r.list),
      el("td", {}, r.reason), el("td", {}, r.expires ? dateTime(r.expires) : "—"),
      el("td", { class: "error" }, r.problems.join("; ")))));
  say(byId("csv-note"), `${rows.length} rows, ${bad} with problems. Importing a file waits for the hub's ` +
      "hot-list import; add entries one by one above meanwhile.");
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
  byId<HTMLFormElement>("add-entry").addEventListener("submit", (e) => void addEntry(e));
  byId("csv-file").addEventListener("change", () => void preview());
  await refresh();
}

void start();
