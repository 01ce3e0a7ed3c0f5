// The video wall: up to four players at once under the map; a new stream takes the first free player.
import { byId } from "../lib/dom";
import { Player, type StreamAsk } from "./player";

export const MAX_PLAYERS = 4;

export class VideoWall {
  private readonly element = byId("wall");
  private readonly players: Player[] = [];

  constructor(private readonly resized: () => void) {}

  /** Play `ask` in a free player (a new one while there are fewer than four); refusals are thrown. */
  async open(ask: StreamAsk): Promise<void> {
    let player = this.players.find((p) => !p.busy);
    const fresh = !player;
    if (!player) {
      if (this.players.length >= MAX_PLAYERS) {
        throw new Error(`${MAX_PLAYERS} streams are playing: stop one to open another.`);
      }
      player = new Player((p) => this.remove(p));
      this.players.push(player);
      this.element.append(player.element);
      this.layout();
    }
    try {
      await player.start(ask);
    } catch (error) {
      if (fresh) this.remove(player);
      throw error;
    }
  }

  private remove(player: Player): void {
    const index = this.players.indexOf(player);
    if (index >= 0) this.players.splice(index, 1);
    player.element.remove();
    this.layout();
  }

  private layout(): void {
    this.element.hidden = this.players.length === 0;
    this.element.classList.toggle("many", this.players.length > 1);
    this.element.parentElement?.classList.toggle("with-wall", this.players.length > 0);
    this.resized();
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.players.map((p) => p.stop(true)));
  }
}
