// Plate hits and plate search: the places the hub's plate API will feed. Until this hub has it, the hits panel
// says "No hits yet" and the search form says what it waits for; neither invents results.
import { byId, say } from "../lib/dom";
import { toLocalInput } from "../lib/time";

export class Plates {
  constructor() {
    say(byId("plate-hits-note"), "Live hot-list hits appear here when the hub streams them.");
    const now = new Date();
    byId<HTMLInputElement>("ps-from").value = toLocalInput(new Date(now.getTime() - 24 * 3600_000));
    byId<HTMLInputElement>("ps-to").value = toLocalInput(now);
    byId<HTMLFormElement>("plate-search").addEventListener("submit", (event) => {
      event.preventDefault();
      say(byId("ps-error"), "Plate search is not available on this hub yet.");
    });
  }
}
