// An owner's single-use upload page: what is asked (window, case reference, agency — never the reason), the
// owner's files sent with tus-js-client (resumable: a dropped connection or a closed page continues where it
// stopped when the same file is chosen again through the same link), done or decline. A closed link says why.
import { DetailedError, Upload } from "tus-js-client";
import "../styles/base.css";
import "../styles/public.css";
import { el, byId, say } from "../lib/dom";
import { messageOf } from "../api/client";
import { bearer, bytesText, must, nameAgency, pathToken, publicApi, type Schemas } from "./link";

type Link = Schemas["LinkOut"];

const token = pathToken();
const headers = bearer(token);
const CLOSED: Record<string, string> = {
  done: "This link was already used: you finished uploading. Thank you.",
  declined: "This link was already used: you declined the request.",
  expired: "This link has expired. If you still want to share footage, contact the agency with the case reference.",
};

function when(iso: string): string {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function closed(state: string, message?: string): void {
  byId("upload-form").hidden = true;
  document.querySelectorAll<HTMLElement>(".while-open").forEach((node) => (node.hidden = true));
  const line = byId("state");
  line.dataset.state = state;
  say(line, message ?? CLOSED[state] ?? state);
}

function show(link: Link): void {
  nameAgency(link.agency);
  byId("request").hidden = false;
  say(byId("asked"), `${link.agency} asks whether your camera recorded anything`);
  say(byId("window"), `${when(link.window_from)} – ${when(link.window_to)}`);
  say(byId("reference"), link.case_reference);
  say(byId("camera"), link.camera);
  say(byId("expires"), when(link.expires_at));
  say(byId("max-files"), String(link.max_files));
  say(byId("max-file"), bytesText(link.max_file_bytes));
  say(byId("max-total"), bytesText(link.max_total_bytes));
  say(byId("file-count"), `(${link.files.length} of ${link.max_files})`);
  byId("received").replaceChildren(...link.files.map((file) => el("li", { "data-testid": "received-file" },
    `${file.filename} — ${bytesText(file.bytes)}, SHA-256 ${file.sha256.slice(0, 16)}…`)));
  if (link.state !== "open") return closed(link.state);
  byId("state").dataset.state = "open";
  say(byId("state"), "");
  byId("upload-form").hidden = false;
}

/** Why a set of files cannot be sent through this link, or "" (the hub checks the same again). */
function tooMuch(link: Link, files: File[]): string {
  if (!files.length) return "Choose at least one video file.";
  if (link.files.length + files.length > link.max_files) {
    return `At most ${link.max_files} files through one link: ${link.files.length} received, ${files.length} chosen.`;
  }
  const big = files.find((file) => file.size > link.max_file_bytes);
  if (big) return `${big.name} is ${bytesText(big.size)}; one file may be at most ${bytesText(link.max_file_bytes)}.`;
  const total = link.files.reduce((sum, file) => sum + file.bytes, 0) + files.reduce((sum, f) => sum + f.size, 0);
  if (total > link.max_total_bytes) return `Together the files would be ${bytesText(total)}; at most ${bytesText(link.max_total_bytes)}.`;
  return "";
}

function hubReason(error: Error): string {
  if (error instanceof DetailedError && error.originalResponse) {
    try {
      const body = JSON.parse(error.originalResponse.getBody()) as { detail?: unknown };
      if (typeof body.detail === "string") return body.detail;
    } catch {
      /* not JSON: fall through to the status */
    }
    return `the hub answered ${error.originalResponse.getStatus()}`;
  }
  return "the connection failed; choose the same file again to continue where it stopped";
}

function send(link: Link, file: File, row: HTMLLIElement): Promise<void> {
  const bar = el("progress", { max: file.size, value: 0, "aria-label": `${file.name} uploaded` });
  const text = el("span", { class: "muted" }, "starting…");
  row.replaceChildren(el("span", {}, file.name), " ", bar, " ", text);
  return new Promise((resolve, reject) => {
    const upload = new Upload(file, {
      endpoint: `${location.origin}/api/owner-uploads`,
      headers,
      chunkSize: link.chunk_bytes,
      retryDelays: [0, 1000, 3000],
      metadata: { filename: file.name, filetype: file.type || "application/octet-stream" },
      // this link's uploads only: the same file sent through another link starts afresh
      fingerprint: async (f) => `canvass-owner-${token.slice(0, 16)}-${f.name}-${f.size}-${f.lastModified}`,
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      onProgress: (sent, total) => {
        bar.value = sent;
        say(text, `${Math.floor((sent / total) * 100)} % of ${bytesText(total)}`);
        row.dataset.percent = String(Math.floor((sent / total) * 100));
      },
      onError: (error) => reject(new Error(`${file.name}: ${hubReason(error)}`)),
      onSuccess: () => {
        say(text, "received");
        row.dataset.state = "received";
        resolve();
      },
    });
    upload.findPreviousUploads().then((previous) => {
      const last = previous[0];
      if (last) {
        upload.resumeFromPreviousUpload(last);
        row.dataset.resumed = "true";
      }
      upload.start();
    }, reject);
  });
}

async function main(): Promise<void> {
  let link: Link;
  try {
    link = await must(publicApi.GET("/api/upload-link", { headers }));
  } catch (failure) {
    return closed("invalid", messageOf(failure));
  }
  show(link);
  const form = byId<HTMLFormElement>("upload-form");
  const error = byId("upload-error");
  const reload = async () => show((link = await must(publicApi.GET("/api/upload-link", { headers }))));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    say(error);
    const files = Array.from(byId<HTMLInputElement>("files").files ?? []);
    const problem = tooMuch(link, files);
    if (problem) return say(error, problem);
    const button = byId<HTMLButtonElement>("upload");
    button.disabled = true;
    try {
      for (const file of files) {
        const row = el("li", { "data-testid": "upload-row" });
        byId("progress").append(row);
        await send(link, file, row);
      }
      byId<HTMLInputElement>("files").value = "";
    } catch (failure) {
      say(error, messageOf(failure));
    } finally {
      button.disabled = false;
      await reload().catch((failure) => say(error, messageOf(failure)));
    }
  });
  const close = (path: "/api/upload-link/done" | "/api/upload-link/decline", state: string) => async () => {
    say(error);
    try {
      await must(publicApi.POST(path, { headers, body: { statement: byId<HTMLTextAreaElement>("statement").value } }));
      closed(state);
    } catch (failure) {
      say(error, messageOf(failure));
    }
  };
  byId("done").addEventListener("click", close("/api/upload-link/done", "done"));
  byId("decline").addEventListener("click", close("/api/upload-link/decline", "declined"));
}

main().catch((failure) => closed("invalid", `The page could not start: ${messageOf(failure)}`));
