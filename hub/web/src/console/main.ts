// The analyst's console: one operating picture. Sign in, then the map of every camera the analyst may see,
// the incidents and their canvass, Stream now into a wall of up to four players, plate hits and search.
import "../styles/base.css";
import "../styles/console.css";
import { api, messageOf, must, onSignedOut, type Schemas } from "../api/client";
import type { Hit } from "../api/hitstream";
import { byId, say } from "../lib/dom";
import { CameraList, loadCameras } from "./cameras";
import { Incidents } from "./incidents";
import { OperatingMap } from "./map";
import type { MapCamera } from "./markers";
import { PlateHits, PlateSearch } from "./plates";
import { leftMessage, resume, showWho, signInForm, signOut } from "./signin";
import { fillPurposes } from "./status";
import { StreamForm } from "./streamform";
import { VideoWall } from "./wall";

const INCIDENTS_EVERY_MS = 5000;
/** Cameras are read again this often (status changes, a pause by the owner); less often for a big city. */
const cameraEvery = (count: number) => (count > 1000 ? 15_000 : 3000);

class Console {
  private readonly wall = new VideoWall(() => this.map.invalidate());
  private readonly form = new StreamForm(this.wall);
  private readonly list: CameraList;
  private readonly incidents: Incidents;
  private readonly map: OperatingMap;
  private readonly hits: PlateHits;
  private readonly config: Schemas["ConsoleConfig"];
  private cameras: MapCamera[] = [];

  constructor(config: Schemas["ConsoleConfig"]) {
    this.map = new OperatingMap(byId("map"), config, {
      chooseCamera: (id) => this.choose(id),
      streamCamera: (id) => this.stream(id),
      chooseIncident: (id) => void this.incidents.choose(id),
      moved: () => this.list.render(),
    });
    this.list = new CameraList({ choose: (id) => this.choose(id), stream: (id) => this.stream(id) },
                               () => (this.cameras.length > 200 ? this.map.inView() : null));
    this.incidents = new Incidents({
      listed: (incidents, selected) => this.map.setIncidents(incidents, selected),
      canvassed: (result, fly) => this.map.showCanvass(result, fly),
      stream: (id) => this.stream(id),
    });
    const plateEvents = { showHit: (hit: Hit) => this.map.showHit(hit), mapView: () => this.map.view(5000) };
    this.hits = new PlateHits(plateEvents);
    new PlateSearch(plateEvents, config.plate_search);
    this.config = config;
  }

  /** Show the cameras (`first`: their first reading, already asked for) and the incidents, then keep them fresh. */
  async start(first: Promise<MapCamera[]>): Promise<void> {
    await Promise.all([this.refreshCameras(first), this.incidents.refresh()]);
    void this.hits.start(this.config.plate_hits);
    window.setInterval(() => void this.incidents.refresh(), INCIDENTS_EVERY_MS);
    const again = () => window.setTimeout(() => void this.refreshCameras().finally(again), cameraEvery(this.cameras.length));
    again();
  }

  private async refreshCameras(reading: Promise<MapCamera[]> = loadCameras()): Promise<void> {
    try {
      this.cameras = await reading;
    } catch (error) {
      say(byId("camera-note"), `Cameras could not be read: ${messageOf(error)}`);
      return;
    }
    this.map.setCameras(this.cameras);
    this.list.set(this.cameras);
    const chosen = this.form.chosen;
    const first = this.list.first();
    if (!chosen && first) this.choose(first.id);
    else if (chosen) this.list.choose(chosen.id);
  }

  private choose(id: number): void {
    const camera = this.cameras.find((c) => c.id === id);
    if (!camera) return;
    this.form.choose(camera);
    this.list.choose(id);
    this.map.choose(id);
  }

  private stream(id: number): void {
    const camera = this.cameras.find((c) => c.id === id);
    if (!camera) return;
    this.choose(id);
    this.form.streamNow(camera);
  }
}

async function showConsole(me: Schemas["UserOut"]): Promise<void> {
  showWho(me);
  const cameras = loadCameras(); // the longest reading: asked for at once, beside the config
  cameras.catch(() => undefined); // (its failure is shown when the console reads it)
  const config = await must(api.GET("/api/console/config"));
  byId("signin").hidden = true;
  byId("console").hidden = false;
  document.body.classList.add("signed-in");
  await new Console(config).start(cameras);
}

fillPurposes();
leftMessage();
onSignedOut(() => signOut("Your sign-in has ended: sign in again."));
signInForm(showConsole);
void resume(showConsole);
