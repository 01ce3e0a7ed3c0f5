// The public transparency report (no sign-in): per month, what was asked and granted, refused and expired,
// streamed and searched, split by the purpose stated and the agency unit; hot-list hits; cameras, appliances
// and the retention in force; and the signed checkpoint the figures were counted at.
import "../styles/base.css";
import "../styles/audit.css";
import { api, messageOf, must, type Schemas } from "../api/client";
import { byId, el, say } from "../lib/dom";

type Report = Schemas["TransparencyOut"];
type Counts = Record<string, number>;

const days = (n: number) => `${n} day${n === 1 ? "" : "s"}`;

/** Label → count rows, every figure (what did not happen is a figure too). */
function figures(labels: string[], counts: Counts, testid: string): HTMLTableElement {
  return el("table", { class: "grid figures", "data-testid": testid },
    el("tbody", {}, ...labels.map((label) => el("tr", { "data-label": label },
      el("th", { scope: "row" }, label), el("td", { class: "count" }, counts[label] ?? 0)))));
}

/** One table of a split (purpose or unit → label → count): a row per group, a column per label used. */
function split(title: string, labels: string[], groups: Record<string, Counts>, testid: string): HTMLElement {
  const used = labels.filter((label) => Object.values(groups).some((counts) => (counts[label] ?? 0) > 0));
  const names = Object.keys(groups).sort();
  if (!names.length) return el("p", { class: "muted" }, `${title}: nothing to split this month.`);
  return el("table", { class: "grid figures", "data-testid": testid },
    el("caption", {}, title),
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, ""), ...used.map((l) => el("th", { scope: "col" }, l)))),
    el("tbody", {}, ...names.map((name) => el("tr", { "data-group": name },
      el("th", { scope: "row" }, name.replaceAll("_", " ")),
      ...used.map((label) => el("td", { class: "count" }, groups[name]?.[label] ?? 0))))));
}

function month(report: Report, key: string): HTMLElement {
  const title = new Date(`${key}-01T00:00:00Z`).toLocaleDateString([], { year: "numeric", month: "long", timeZone: "UTC" });
  return el("section", { class: "panel", "data-testid": "month", "data-month": key, "aria-label": title },
    el("h2", {}, title),
    el("div", { class: "two" },
      figures(report.labels, report.months[key] ?? {}, "month-figures"),
      el("div", {},
        split("By purpose stated", report.labels, report.by_purpose[key] ?? {}, "by-purpose"),
        split("By agency unit", report.labels, report.by_unit[key] ?? {}, "by-unit"))));
}

async function show(): Promise<void> {
  let report: Report;
  try {
    report = await must(api.GET("/api/audit/transparency"));
  } catch (error) {
    say(byId("report-note"));
    say(byId("report-error"), `The report could not be loaded: ${messageOf(error)}`);
    return;
  }
  say(byId("cameras"), String(report.cameras));
  say(byId("appliances"), String(report.appliances));
  say(byId("keep-box"), `${days(report.retention.box_footage_days)} at most, then recorded over`);
  say(byId("keep-case"), `${days(report.retention.case_clip_days)} unless extended for the case`);
  say(byId("keep-request"), days(report.retention.request_expiry_days));
  say(byId("keep-plates"), report.retention.plate_reads);
  say(byId("checkpoint-size"), `${report.checkpoint.size.toLocaleString()} log entries`);
  say(byId("checkpoint-root"), `root ${report.checkpoint.root}`);
  say(byId("checkpoint-note"), report.checkpoint.note);
  byId("facts").hidden = false;
  const keys = Object.keys(report.months).sort().reverse();
  say(byId("report-note"), keys.length ? `Generated ${new Date(report.generated_at).toLocaleString()}.`
                                       : "Nothing has been requested yet.");
  byId("months").replaceChildren(...keys.map((key) => month(report, key)));
}

void show();
