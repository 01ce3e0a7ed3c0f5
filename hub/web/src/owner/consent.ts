// The consent editor of one camera: sharing, what may be seen, the longest session, plates, a weekly window and
// privacy masks drawn as polygons; saved as the next policy version, signed with the owner's passkey.
import { api, messageOf, must, type Schemas } from "../api/client";
import { byId, say } from "../lib/dom";
import { signDocument } from "./passkeys";

type Policy = Schemas["Policy"];
/** A policy as read back (its masks' points typed as plain arrays). */
export type PolicyOut = Omit<Policy, "privacy_masks"> & { privacy_masks?: number[][][] };
type Point = [number, number];

/** A policy as the hub returned it, as the hub takes it (masks as pairs). */
export function asInput(policy: PolicyOut): Policy {
  return { ...policy, privacy_masks: (policy.privacy_masks ?? []).map((m) => m.map(([x, y]) => [x ?? 0, y ?? 0] as Point)) };
}

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/** "Mon-Fri", "sat, sun" → day numbers (0 = Monday); an empty text is every day. */
export function parseDays(text: string): number[] {
  const days = new Set<number>();
  for (const part of text.toLowerCase().split(",").map((p) => p.trim()).filter(Boolean)) {
    const [first = "", last] = part.split("-");
    const from = DAYS.indexOf(first.trim().slice(0, 3));
    const to = last === undefined ? from : DAYS.indexOf(last.trim().slice(0, 3));
    if (from < 0 || to < 0) throw new Error(`not a day: ${part}`);
    for (let d = from; d <= to; d++) days.add(d);
  }
  return [...days].sort();
}

function minutes(value: string): number {
  const [h, m] = value.split(":").map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

let masks: Point[][] = [];
let drawing: Point[] = [];
let picture: HTMLImageElement | null = null; // the camera's fresh snapshot, from its box (never stored at the hub)

function paint(): void {
  const canvas = byId<HTMLCanvasElement>("mask-canvas");
  const g = canvas.getContext("2d");
  if (!g) return;
  g.fillStyle = "#dde3ea";
  g.fillRect(0, 0, canvas.width, canvas.height);
  if (picture) g.drawImage(picture, 0, 0, canvas.width, canvas.height); // masks are fractions of the picture
  g.fillStyle = "#000";
  for (const polygon of [...masks, drawing]) {
    if (polygon.length === 0) continue;
    g.beginPath();
    polygon.forEach(([x, y], i) => (i ? g.lineTo(x * canvas.width, y * canvas.height) : g.moveTo(x * canvas.width, y * canvas.height)));
    if (polygon === drawing) {
      g.strokeStyle = "#c00";
      g.stroke();
    } else {
      g.closePath();
      g.fill();
    }
  }
  say(byId("mask-count"), String(masks.length));
  canvas.dataset.points = String(drawing.length); // the polygon being drawn, for the keyboard-less reader and tests
}

function policyFromForm(): Policy {
  const form = byId<HTMLFormElement>("consent-form");
  const data = new FormData(form);
  const from = byId<HTMLInputElement>("consent-from").value, to = byId<HTMLInputElement>("consent-to").value;
  const daysText = byId<HTMLInputElement>("consent-days").value;
  const schedule = from && to ? [{ days: daysText ? parseDays(daysText) : [0, 1, 2, 3, 4, 5, 6],
                                    start_minute: minutes(from), end_minute: minutes(to) }] : [];
  return {
    sharing: data.get("sharing") as Policy["sharing"],
    modes: data.getAll("modes") as Policy["modes"],
    max_session_s: Number(byId<HTMLInputElement>("consent-session").value) * 60,
    plate_sharing: byId<HTMLSelectElement>("consent-plates").value as Policy["plate_sharing"],
    schedule, privacy_masks: masks, utc_offset_minutes: -new Date().getTimezoneOffset(),
  };
}

/** Sign `policy` as the camera's next version and save it; the hub forwards it to the box at once. */
export async function signAndSave(cameraId: number, policy: Policy): Promise<{ version: number }> {
  const path = { params: { path: { camera_id: cameraId } } };
  const toSign = await must(api.POST("/api/cameras/{camera_id}/consent/document", { ...path, body: policy }));
  const signed = await signDocument(toSign.document, toSign.options);
  return must(api.PUT("/api/cameras/{camera_id}/consent", { ...path, body: signed }));
}

/** Ask the camera's box for a fresh picture to draw the masks over; the editor works without one. */
async function loadSnapshot(cameraId: number): Promise<void> {
  const note = byId("mask-snapshot-note");
  const canvas = byId<HTMLCanvasElement>("mask-canvas");
  picture = null;
  delete canvas.dataset.snapshot;
  paint();
  say(note, "Asking the box for a fresh picture of the camera…");
  try {
    let takenAt = new Date();
    const blob = await must(api.GET("/api/owner/cameras/{camera_id}/snapshot", {
      params: { path: { camera_id: cameraId } }, parseAs: "blob" }).then((answer) => {
      const header = answer.response.headers.get("X-Snapshot-Taken-At");
      if (header) takenAt = new Date(header);
      return answer;
    })) as unknown as Blob;
    const url = URL.createObjectURL(blob);
    const image = new Image();
    image.src = url;
    await image.decode();
    URL.revokeObjectURL(url);
    if (editing !== cameraId) return; // the owner opened another camera meanwhile
    picture = image;
    canvas.dataset.snapshot = `${image.naturalWidth}x${image.naturalHeight}`;
    paint();
    say(note, `Picture the box recorded at ${takenAt.toLocaleTimeString()} (${image.naturalWidth}×${image.naturalHeight}); `
      + "only you see it and the hub keeps no copy.");
  } catch (error) {
    if (editing === cameraId) say(note, `No picture: ${messageOf(error)}. You can still draw masks on the blank field.`);
  }
}

let editing: number | null = null;
let saved: () => Promise<void> = async () => undefined;

/** Open the editor for a camera, filled with its policy in force. */
export function editConsent(camera: Schemas["CameraOut"], given: PolicyOut | null, after: () => Promise<void>): void {
  const policy = given ? asInput(given) : null;
  editing = camera.id;
  saved = after;
  const p = policy ?? { sharing: "off", modes: [], max_session_s: 900, plate_sharing: "none", schedule: [], privacy_masks: [] };
  say(byId("consent-camera"), camera.name);
  say(byId("consent-error"));
  const form = byId<HTMLFormElement>("consent-form");
  form.querySelectorAll<HTMLInputElement>("input[name=sharing]").forEach((i) => { i.checked = i.value === p.sharing; });
  form.querySelectorAll<HTMLInputElement>("input[name=modes]").forEach((i) => { i.checked = (p.modes ?? []).includes(i.value as never); });
  byId<HTMLInputElement>("consent-session").value = String(Math.round((p.max_session_s ?? 900) / 60));
  byId<HTMLSelectElement>("consent-plates").value = p.plate_sharing ?? "none";
  const window = p.schedule?.[0];
  byId<HTMLInputElement>("consent-days").value = window ? window.days.map((d) => DAYS[d]).join(", ") : "";
  const time = (m: number) => `${String(Math.floor(m / 60) % 24).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
  byId<HTMLInputElement>("consent-from").value = window ? time(window.start_minute) : "";
  byId<HTMLInputElement>("consent-to").value = window ? time(window.end_minute) : "";
  masks = (p.privacy_masks ?? []).map((m) => m.map(([x, y]) => [x, y] as Point));
  drawing = [];
  paint();
  byId<HTMLDialogElement>("consent-dialog").showModal();
  void loadSnapshot(camera.id);
}

export function installConsentEditor(): void {
  const canvas = byId<HTMLCanvasElement>("mask-canvas");
  canvas.addEventListener("click", (event) => {
    const box = canvas.getBoundingClientRect();
    const clamp = (v: number) => Math.min(1, Math.max(0, Math.round(v * 1000) / 1000));
    drawing.push([clamp((event.clientX - box.left) / box.width), clamp((event.clientY - box.top) / box.height)]);
    paint();
  });
  byId("mask-close").addEventListener("click", () => {
    if (drawing.length >= 3) masks.push(drawing);
    drawing = [];
    paint();
  });
  byId("mask-clear").addEventListener("click", () => { masks = []; drawing = []; paint(); });
  byId("mask-refresh").addEventListener("click", () => { if (editing !== null) void loadSnapshot(editing); });
  byId("consent-cancel").addEventListener("click", () => byId<HTMLDialogElement>("consent-dialog").close());
  byId<HTMLFormElement>("consent-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (editing === null) return;
    say(byId("consent-error"), "Confirm with your passkey…");
    try {
      const out = await signAndSave(editing, policyFromForm());
      byId<HTMLDialogElement>("consent-dialog").close();
      await saved(); // the cameras as they are now, then the word that it is done
      say(byId("status"), `Saved version ${out.version}, signed with your passkey, and sent to the box.`);
    } catch (error) {
      say(byId("consent-error"), messageOf(error));
    }
  });
}
