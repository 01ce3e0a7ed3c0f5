// One player of the video wall: opens a stream session at the hub (the hub's and the owner's consent checks
// happen there) and joins it as a viewer in the same request (the SFU's offer comes with the session; the media
// comes from the SFU, through TURN when the hub says so), shows the time left and, in playback, pauses, changes
// speed and seeks inside the granted window while the position ticks.
import { api, messageOf, must, type Schemas } from "../api/client";
import { el, say } from "../lib/dom";
import { dateTime, minutes } from "../lib/time";
import type { MapCamera } from "./markers";

type Session = Schemas["StreamOut"];
type Purpose = Schemas["StreamIn"]["purpose"];
type Speed = NonNullable<Schemas["ControlIn"]["speed"]>;
type IceServer = Schemas["IceServerOut"];
type FirstViewer = Schemas["FirstViewerOut"];

export interface StreamAsk {
  camera: MapCamera;
  mode: "live" | "playback";
  at: Date | null;
  purpose: Purpose;
  reason: string;
  case_number: string;
}

const SESSION_S = 600; // the hub's default session length (StreamIn.duration_s)
const SPEEDS: [Speed, string][] = [[0.25, "¼×"], [0.5, "½×"], [1, "1×"], [2, "2×"], [4, "4×"], [8, "8× (keyframes)"],
                                   [16, "16× (keyframes)"]];

/** Where playback is: the position the box last reported, moved on by the clock at the playing speed. */
interface Anchor {
  position: number; // ms since the epoch, recorded time
  clock: number; // performance.now() when it was reported
  speed: number;
  paused: boolean;
}

function iceGathered(peer: RTCPeerConnection): Promise<void> {
  if (peer.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (peer.iceGatheringState !== "complete") return;
      peer.removeEventListener("icegatheringstatechange", done);
      resolve();
    };
    peer.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, 2000); // use what was gathered so far
  });
}

function iceServers(servers: IceServer[]): RTCIceServer[] {
  return servers.map((s) => ({ urls: s.urls, ...(s.username ? { username: s.username } : {}),
                               ...(s.credential ? { credential: s.credential } : {}) }));
}

export class Player {
  readonly element: HTMLElement;
  private readonly title = el("span", { class: "title" }, "No stream");
  private readonly video = el("video", { "data-testid": "stream-video", autoplay: true, muted: true, playsinline: true });
  private readonly state = el("span", { "data-testid": "stream-state", class: "muted", role: "status" }, "No stream.");
  private readonly remaining = el("span", { "data-testid": "remaining" });
  private readonly error = el("p", { class: "error", role: "alert", "data-testid": "player-error" });
  private readonly stopButton = el("button", { type: "button", "data-testid": "stream-stop", disabled: true }, "Stop");
  private readonly closeButton = el("button", { type: "button", "data-testid": "player-close", "aria-label": "Close this player" }, "✕");
  private readonly controls = el("div", { class: "controls", hidden: true });
  private readonly pause = el("button", { type: "button", "data-testid": "playback-pause" }, "Pause");
  private readonly speed = el("select", { "data-testid": "playback-speed", "aria-label": "Speed" });
  private readonly position = el("span", { "data-testid": "playback-position", class: "muted" });
  private readonly seek = el("input", { type: "range", "data-testid": "playback-seek", min: 0, step: 1, value: 0,
                                        "aria-label": "Seek within the window" });
  private readonly windowText = el("span", { class: "muted" });
  private session: Session | null = null;
  private camera: MapCamera | null = null;
  private opening = false;
  private peer: RTCPeerConnection | null = null;
  private poll: number | undefined;
  private tick: number | undefined;
  private anchor: Anchor | null = null;
  private window: { from: number; to: number } | null = null;
  private seeking = false;

  constructor(private readonly closed: (player: Player) => void) {
    this.video.muted = true;
    this.speed.replaceChildren(...SPEEDS.map(([value, text]) => new Option(text, String(value), value === 1, value === 1)));
    this.controls.append(this.pause, this.speed, this.position,
      el("div", { class: "seek" }, this.seek, this.windowText));
    this.element = el("article", { class: "player", "data-testid": "player" },
      el("header", {}, this.title, el("span", { class: "actions" }, this.stopButton, this.closeButton)),
      this.video, el("div", { class: "state-line" }, this.state, " ", this.remaining), this.controls, this.error);
    this.stopButton.addEventListener("click", () => void this.stop(true));
    this.closeButton.addEventListener("click", () => void this.stop(true).then(() => this.closed(this)));
    this.pause.addEventListener("click", () => void this.control({ action: this.anchor?.paused ? "resume" : "pause" }));
    this.speed.addEventListener("change", () => void this.control({ action: "speed", speed: Number(this.speed.value) as Speed }));
    this.seek.addEventListener("pointerdown", () => { this.seeking = true; });
    this.seek.addEventListener("input", () => { this.seeking = true; this.showPosition(this.seekTarget()); });
    this.seek.addEventListener("change", () => void this.seekTo());
  }

  get busy(): boolean {
    return this.opening || this.session !== null;
  }

  get cameraId(): number | null {
    return this.camera?.id ?? null;
  }

  /** Open a session and play it here; a refusal is thrown with the hub's reason. */
  async start(ask: StreamAsk): Promise<void> {
    this.opening = true;
    this.camera = ask.camera;
    say(this.error);
    say(this.title, `${ask.camera.name} · ${ask.camera.business}`);
    this.element.dataset.cameraId = String(ask.camera.id);
    say(this.state, "Asking the hub and the camera's owner policy…");
    try {
      const opened = await must(api.POST("/api/streams", { body: {
        camera_id: ask.camera.id, mode: ask.mode, purpose: ask.purpose, reason: ask.reason,
        case_number: ask.case_number, watch: true, ...(ask.at ? { at: ask.at.toISOString() } : {}) } }));
      this.session = opened;
      this.element.dataset.sessionId = opened.session_id;
      await this.join(opened.session_id, opened.viewer ?? null);
    } catch (error) {
      await this.stop(false);
      say(this.state, "No stream.");
      throw error;
    } finally {
      this.opening = false;
    }
    say(this.state, `Streaming ${ask.camera.name} — case ${this.session.case_number}.`);
    this.stopButton.disabled = false;
    this.showPlayback(ask);
    this.poll = window.setInterval(() => void this.refresh(), 1000);
  }

  /** Join the session as a viewer: the SFU's offer came with the session (`watch`), or a token from the hub is
   * redeemed for it; the answer goes back through the hub with every ICE candidate in it. */
  private async join(sessionId: string, first: FirstViewer | null): Promise<void> {
    const joined = first ?? await this.joinSeparately(sessionId);
    const peer = new RTCPeerConnection({ iceServers: iceServers(joined.ice_servers),
                                         iceTransportPolicy: joined.ice_transport_policy });
    this.peer = peer;
    this.element.dataset.viewerId = joined.viewer_id;
    peer.addEventListener("track", (e) => { this.video.srcObject = e.streams[0] ?? new MediaStream([e.track]); });
    peer.addEventListener("connectionstatechange", () => {
      if (["failed", "closed", "disconnected"].includes(peer.connectionState) && this.peer === peer) {
        say(this.state, `Connection ${peer.connectionState}.`);
      }
    });
    await peer.setRemoteDescription({ type: "offer", sdp: joined.sdp });
    await peer.setLocalDescription(await peer.createAnswer());
    await iceGathered(peer);
    await must(api.POST("/api/streams/{session_id}/viewers/{viewer_id}/answer", {
      params: { path: { session_id: sessionId, viewer_id: joined.viewer_id } },
      body: { sdp: peer.localDescription!.sdp, type: "answer" } }));
  }

  private async joinSeparately(sessionId: string): Promise<FirstViewer> {
    const path = { session_id: sessionId };
    const ticket = await must(api.POST("/api/streams/{session_id}/viewers", { params: { path } }));
    const joined = await must(api.POST("/api/streams/{session_id}/viewers/join", {
      params: { path }, body: { token: ticket.token } }));
    return { ...joined, ice_servers: ticket.ice_servers, ice_transport_policy: ticket.ice_transport_policy };
  }

  private showPlayback(ask: StreamAsk): void {
    const playback = ask.mode === "playback" && ask.at !== null;
    this.controls.hidden = !playback;
    this.pause.textContent = "Pause";
    this.speed.value = "1";
    if (!playback) {
      this.window = this.anchor = null;
      return;
    }
    const from = ask.at!.getTime();
    this.window = { from, to: from + SESSION_S * 1000 };
    this.seek.max = String(SESSION_S);
    this.windowText.textContent = `${dateTime(new Date(from))} – ${dateTime(new Date(this.window.to))}`;
    this.anchor = { position: from, clock: performance.now(), speed: 1, paused: false };
    this.tick = window.setInterval(() => this.showPosition(), 250);
    this.showPosition();
  }

  /** The recorded time playing now, as far as the page can tell between the box's reports. */
  private now(): number | null {
    const a = this.anchor;
    if (!a || !this.window) return null;
    const moved = a.paused ? 0 : (performance.now() - a.clock) * a.speed;
    return Math.min(this.window.to, Math.min(Date.now(), a.position + moved));
  }

  private showPosition(at: number | null = this.now()): void {
    if (at === null || !this.window) return;
    say(this.position, `at ${new Date(at).toLocaleString()}`);
    if (!this.seeking) this.seek.value = String(Math.round((at - this.window.from) / 1000));
  }

  private seekTarget(): number {
    return (this.window?.from ?? 0) + Number(this.seek.value) * 1000;
  }

  private async seekTo(): Promise<void> {
    const target = new Date(Math.min(this.seekTarget(), Date.now() - 1000));
    await this.control({ action: "seek", at: target.toISOString() });
    this.seeking = false;
  }

  private async control(body: Schemas["ControlIn"]): Promise<void> {
    if (!this.session) return;
    say(this.error);
    try {
      const state = await must(api.POST("/api/streams/{session_id}/control", {
        params: { path: { session_id: this.session.session_id } }, body }));
      const position = state.position ? new Date(state.position).getTime() : this.now() ?? Date.now();
      this.anchor = { position, clock: performance.now(), speed: state.speed, paused: state.paused };
      this.pause.textContent = state.paused ? "Resume" : "Pause";
      this.showPosition();
    } catch (error) {
      say(this.error, messageOf(error));
    }
  }

  private async refresh(): Promise<void> {
    const session = this.session;
    if (!session) return;
    try {
      const state = await must(api.GET("/api/streams/{session_id}", {
        params: { path: { session_id: session.session_id } } }));
      if (this.session !== session) return;
      if (state.state === "ended") {
        await this.stop(false);
        say(this.state, `Ended: ${state.end_reason || "stopped"}.`);
      } else {
        say(this.remaining, `${minutes(state.remaining_s)} left`);
      }
    } catch (error) {
      say(this.error, messageOf(error));
    }
  }

  /** End the session here (and at the hub if asked): the countdown and the controls clear. */
  async stop(tellHub: boolean): Promise<void> {
    window.clearInterval(this.poll);
    window.clearInterval(this.tick);
    this.poll = this.tick = undefined;
    const ending = this.session;
    this.session = null;
    this.anchor = this.window = null;
    this.peer?.close();
    this.peer = null;
    delete this.element.dataset.viewerId;
    this.video.srcObject = null;
    this.stopButton.disabled = true;
    this.controls.hidden = true;
    say(this.remaining);
    say(this.position);
    delete this.element.dataset.sessionId;
    if (tellHub && ending) {
      try {
        await must(api.DELETE("/api/streams/{session_id}", { params: { path: { session_id: ending.session_id } } }));
        say(this.state, "Stopped.");
      } catch (error) {
        say(this.error, messageOf(error));
      }
    }
  }
}
