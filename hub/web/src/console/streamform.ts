// The Stream now form: the chosen camera, live or from a time, purpose, reason and case number. A stream
// opens in the video wall; the hub's reason for a refusal is shown at the top of the form.
import { messageOf, type Schemas } from "../api/client";
import { byId, say } from "../lib/dom";
import { fromLocalInput } from "../lib/time";
import type { MapCamera } from "./markers";
import type { VideoWall } from "./wall";

type Purpose = Schemas["StreamIn"]["purpose"];

export class StreamForm {
  private readonly form = byId<HTMLFormElement>("stream-form");
  private readonly button = byId<HTMLButtonElement>("stream-now");
  private readonly error = byId("stream-error");
  private readonly mode = byId<HTMLSelectElement>("mode");
  private camera: MapCamera | null = null;

  constructor(private readonly wall: VideoWall) {
    this.mode.addEventListener("change", () => {
      byId("at-row").hidden = this.mode.value !== "playback";
      byId<HTMLInputElement>("at").required = this.mode.value === "playback";
    });
    this.form.addEventListener("submit", (event) => { event.preventDefault(); void this.open(); });
  }

  get chosen(): MapCamera | null {
    return this.camera;
  }

  choose(camera: MapCamera): void {
    this.camera = camera;
    say(byId("chosen"), `Camera: ${camera.name} · ${camera.business}`);
    this.button.disabled = false;
  }

  /** Stream `camera` now if the form is complete; otherwise point at what is missing. */
  streamNow(camera: MapCamera): void {
    this.choose(camera);
    if (this.form.reportValidity()) this.form.requestSubmit();
  }

  private async open(): Promise<void> {
    const camera = this.camera;
    if (!camera) return;
    say(this.error);
    this.button.disabled = true;
    try {
      const playback = this.mode.value === "playback";
      const at = playback ? fromLocalInput(byId<HTMLInputElement>("at").value) : null;
      if (playback && !at) throw new Error("Give the time to play from.");
      await this.wall.open({
        camera, mode: playback ? "playback" : "live", at, purpose: byId<HTMLSelectElement>("purpose").value as Purpose,
        reason: byId<HTMLTextAreaElement>("reason").value, case_number: byId<HTMLInputElement>("case").value,
      });
    } catch (error) {
      say(this.error, messageOf(error));
    } finally {
      this.button.disabled = !this.camera;
    }
  }
}
