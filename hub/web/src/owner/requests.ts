// Footage requests for the owner's cameras: pending ones (window, purpose, case, who asked) to approve — all of
// the window or a part chosen on a timeline, signed with the passkey — or deny with a reason; decided ones.
import { api, messageOf, must, type Schemas } from "../api/client";
import { byId, el, say } from "../lib/dom";
import { dateTime } from "../lib/time";
import { signDocument } from "./passkeys";

type Request = Schemas["FootageRequestOut"];

function timeline(request: Request): { element: HTMLElement; chosen: () => [string, string] } {
  const start = Date.parse(request.window_from), end = Date.parse(request.window_to);
  const seconds = Math.round((end - start) / 1000);
  const from = el("input", { type: "range", min: 0, max: seconds, value: 0, step: 1, "data-testid": "trim-from",
                             "aria-label": `Start of the footage you approve for case ${request.case_number}` });
  const to = el("input", { type: "range", min: 0, max: seconds, value: seconds, step: 1, "data-testid": "trim-to",
                           "aria-label": `End of the footage you approve for case ${request.case_number}` });
  const shown = el("p", { class: "muted", "aria-live": "polite" });
  const at = (input: HTMLInputElement) => new Date(start + Number(input.value) * 1000);
  const show = () => {
    if (Number(from.value) >= Number(to.value)) from.value = String(Math.max(0, Number(to.value) - 1));
    say(shown, `You approve ${dateTime(at(from).toISOString())} to ${dateTime(at(to).toISOString())} ` +
               `(${Number(to.value) - Number(from.value)} s of ${seconds} s asked).`);
  };
  from.addEventListener("input", show);
  to.addEventListener("input", show);
  show();
  return { element: el("div", { class: "timeline" }, from, to, shown),
           chosen: () => [at(from).toISOString(), at(to).toISOString()] };
}

function pendingCard(request: Request, refresh: () => Promise<void>): HTMLElement {
  const trim = timeline(request);
  const note = el("input", { "aria-label": `Why you deny case ${request.case_number}`, maxlength: 2000,
                             placeholder: "reason (needed to deny)", "data-testid": "deny-reason" });
  const error = el("p", { class: "error", role: "alert" });
  const act = async (work: () => Promise<unknown>) => {
    say(error);
    try {
      await work();
      await refresh();
    } catch (e) {
      say(error, messageOf(e));
    }
  };
  const path = { params: { path: { request_id: request.id } } };
  const approve = el("button", { type: "button", "data-testid": "approve" }, "Approve, signed with my passkey");
  approve.addEventListener("click", () => void act(async () => {
    const [window_from, window_to] = trim.chosen();
    const toSign = await must(api.POST("/api/footage-requests/{request_id}/approval-document",
                                       { ...path, body: { window_from, window_to } }));
    const signed = await signDocument(toSign.document, toSign.options);
    const outcome = await must(api.POST("/api/footage-requests/{request_id}/decision", {
      ...path, body: { approve: true, window_from, window_to, signed_approval: signed } }));
    say(byId("status"), `Approved case ${request.case_number}: ${outcome.reason}.`); // where the clip stands
  }));
  const deny = el("button", { type: "button", class: "quiet", "data-testid": "deny" }, "Deny");
  deny.addEventListener("click", () => void act(() => must(api.POST("/api/footage-requests/{request_id}/decision", {
    ...path, body: { approve: false, note: note.value } }))));
  return el("article", { class: "request", "data-testid": "pending-request", "data-request-id": request.id },
    el("h3", {}, `Case ${request.case_number} · ${request.camera}`),
    el("p", {}, `${dateTime(request.window_from)} to ${dateTime(request.window_to)} · purpose ${request.purpose.replace("_", " ")}`),
    el("p", {}, `Asked by ${request.analyst}${request.unit ? ` (${request.unit})` : ""}: `, el("q", {}, request.reason)),
    el("p", { class: "muted" }, `Expires ${request.expires_at ? dateTime(request.expires_at) : "—"}`),
    trim.element, el("p", {}, approve, " ", note, " ", deny), error);
}

export async function showRequests(): Promise<void> {
  let requests: Request[];
  try {
    requests = await must(api.GET("/api/footage-requests"));
  } catch (error) {
    say(byId("requests-error"), messageOf(error));
    return;
  }
  const pending = requests.filter((r) => r.status === "pending");
  byId("pending").replaceChildren(...(pending.length ? pending.map((r) => pendingCard(r, showRequests))
                                                     : [el("p", { class: "muted" }, "Nothing waits for you.")]));
  byId("decided").replaceChildren(...requests.filter((r) => r.status !== "pending").map((r) =>
    el("tr", { "data-testid": "decided-request" }, el("td", {}, r.case_number), el("td", {}, r.camera),
       el("td", {}, `${dateTime(r.approved_from ?? r.window_from)} to ${dateTime(r.approved_to ?? r.window_to)}`),
       el("td", {}, `${r.status}${r.decision_note ? ` (${r.decision_note})` : ""}`),
       el("td", {}, r.clip_stage ? `${r.clip_stage}: ${r.clip_detail}` : "—"))));
}
