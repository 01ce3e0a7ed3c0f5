// The owner's access log and e-mail alerts. Every entry about the owner's cameras is shown with a check made
// here, not taken from the hub's word: the entry's leaf hash is recomputed from its exact text, and its
// inclusion proof must lead to the root of the checkpoint the owner's own appliance witnessed.
import "../styles/base.css";
import "../styles/audit.css";
import { api, messageOf, must, onSignedOut, type Schemas } from "../api/client";
import { leftMessage, resume, showWho, signInForm, signOut } from "../console/signin";
import { auditCells, headings } from "../lib/auditrow";
import { byId, el, say } from "../lib/dom";
import { checkpointOf, fromBase64, hex, leafHash, verifyInclusion } from "../lib/merkle";
import { dateTime } from "../lib/time";

type Me = Schemas["UserOut"];
type Activity = Schemas["OwnerActivity"];
type Entry = Schemas["OwnerEntry"];
type Witness = Schemas["WitnessOut"];
type Check = { state: "ok" | "bad" | "pending"; text: string };

/** What this browser finds of one entry against the checkpoints the owner's boxes witnessed. */
export async function check(entry: Entry, witnesses: Witness[]): Promise<Check> {
  const leaf = await leafHash(entry.canonical);
  if (hex(leaf) !== entry.leaf_hash) return { state: "bad", text: "✗ the entry's text does not match its fingerprint" };
  if (!entry.proof || !entry.witness) {
    return { state: "pending", text: "not yet checked by your appliance (newer than its last checkpoint)" };
  }
  const witness = witnesses.find((w) => w.device_id === entry.witness);
  const signed = witness?.note ? checkpointOf(witness.note) : null;
  if (!signed) return { state: "bad", text: "✗ no checkpoint from your appliance to check against" };
  const proven = await verifyInclusion(entry.index, signed.size, leaf, entry.proof.map(fromBase64), signed.root);
  return proven ? { state: "ok", text: `✓ in the log your appliance ${entry.witness} checked (${signed.size} entries)` }
                : { state: "bad", text: `✗ not in the log your appliance ${entry.witness} checked` };
}

/** The entry as its hashed text states it: what the page shows is what it checked, not the hub's copy beside
 *  it (only the cameras' names, which the text names by id, come from the hub). */
export function asHashed(entry: Entry): Entry {
  try {
    const hashed = JSON.parse(entry.canonical) as Partial<Entry> & { details?: Record<string, unknown> };
    const details = hashed.details ?? {};
    const purpose = typeof details["purpose"] === "string" ? details["purpose"] : "";
    return { ...entry, ...hashed, details, purpose, index: entry.index };
  } catch {
    return entry;  // the check says the text is not the entry's
  }
}

let older: number | null = null;

async function load(more = false): Promise<void> {
  say(byId("activity-error"));
  let page: Activity;
  try {
    page = await must(api.GET("/api/owner/activity", { params: { query: more && older !== null ? { before: older } : {} } }));
  } catch (error) {
    say(byId("activity-error"), messageOf(error));
    return;
  }
  byId("witnesses").replaceChildren(...page.witnesses.map((w) => el("li", { "data-testid": "witness" },
    el("strong", {}, w.appliance || w.device_id), " — ",
    w.size === null ? "has not reported a checked checkpoint yet"
                    : `checked the log at ${w.size} entries${w.at ? `, ${dateTime(w.at)}` : ""}`)));
  const rows = await Promise.all(page.entries.map(async (entry) => {
    const found = await check(entry, page.witnesses);
    return el("tr", { "data-testid": "activity-row", "data-index": entry.index }, ...auditCells(asHashed(entry)),
              el("td", {}, el("span", { class: "check", "data-check": found.state, "data-testid": "entry-check" },
                              found.text)));
  }));
  const body = byId("rows");
  if (more) body.append(...rows);
  else body.replaceChildren(...rows);
  body.parentElement?.querySelector("thead")?.remove();
  body.before(headings(["Checked"]));
  older = page.next_before;
  byId("more").hidden = older === null;
  say(byId("activity-note"), body.childElementCount ? "" : "Nobody has asked for or looked at your cameras yet.");
}

const input = (id: string) => byId<HTMLInputElement>(id);

async function loadAlerts(): Promise<void> {
  const settings = await must(api.GET("/api/owner/alert-settings"));
  input("a-email").value = settings.email;
  input("a-offline-on").checked = settings.camera_offline_after_s != null;
  if (settings.camera_offline_after_s != null) input("a-offline").value = String(Math.max(1, Math.round(settings.camera_offline_after_s / 60)));
  input("a-requests").checked = settings.request_emails ?? true;
  input("a-remind-on").checked = settings.request_reminder_after_s != null;
  if (settings.request_reminder_after_s != null) input("a-remind").value = String(Math.max(1, Math.round(settings.request_reminder_after_s / 3600)));
}

async function saveAlerts(): Promise<void> {
  say(byId("alerts-error"));
  say(byId("alerts-note"));
  const email = input("a-email").value.trim();
  if (!email && (input("a-offline-on").checked || input("a-requests").checked || input("a-remind-on").checked)) {
    say(byId("alerts-error"), "Give an e-mail address to send alerts to (or turn them off).");
    return;
  }
  try {
    await must(api.PUT("/api/owner/alert-settings", { body: {
      email,
      camera_offline_after_s: input("a-offline-on").checked ? Number(input("a-offline").value) * 60 : null,
      request_emails: input("a-requests").checked,
      request_reminder_after_s: input("a-remind-on").checked ? Number(input("a-remind").value) * 3600 : null } }));
    say(byId("alerts-note"), "Saved.");
  } catch (error) {
    say(byId("alerts-error"), messageOf(error));
  }
}

async function showActivity(me: Me): Promise<void> {
  byId("signin").hidden = true;
  byId("activity").hidden = false;
  showWho(me);
  if (me.role !== "owner") {
    byId("not-owner").hidden = false;
    return;
  }
  await Promise.all([load(), loadAlerts().catch((error) => say(byId("alerts-error"), messageOf(error)))]);
}

byId("more").addEventListener("click", () => void load(true));
byId<HTMLFormElement>("alerts").addEventListener("submit", (event) => {
  event.preventDefault();
  void saveAlerts();
});
leftMessage();
onSignedOut(() => signOut("Your sign-in has ended: sign in again."));
signInForm(showActivity);
void resume(showActivity);
