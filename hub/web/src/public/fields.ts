// The registration form's fields, for the public form and the owner's private page alike: contact, address,
// and one fieldset per camera (pin, inside/outside, view direction, description, retention, past footage). The
// map sets the pin of the camera being edited; the numbers can be typed too. Native validation plus the hub's.
import { el } from "../lib/dom";
import type { Schemas } from "./link";
import { PinMap } from "./pinmap";

type CameraIn = Schemas["CameraIn"];
type RegistrationIn = Schemas["RegistrationIn"];

function field(id: string, label: string, input: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement,
               hint = ""): HTMLElement {
  input.id = id;
  return el("div", { class: "field" }, el("label", { for: id }, label), input,
            hint ? el("span", { class: "hint" }, hint) : null);
}

function input(attributes: Record<string, string | number | boolean>): HTMLInputElement {
  return el("input", attributes);
}

export class RegistrationFields {
  private cameras: HTMLFieldSetElement[] = [];
  private readonly list = el("div", { class: "cameras" });
  private readonly add = el("button", { type: "button", class: "quiet", "data-testid": "add-camera" },
                            "Add another camera");
  private active = 0;

  constructor(private readonly root: HTMLElement, private readonly map: PinMap, private readonly maxCameras: number) {
    const contact = el("fieldset", {}, el("legend", {}, "You"),
      field("contact_name", "Your name", input({ required: true, maxlength: 100, autocomplete: "name",
                                                 "data-testid": "contact_name" })),
      field("email", "E-mail", input({ type: "email", required: true, maxlength: 254, autocomplete: "email",
                                       "data-testid": "email" })),
      field("phone", "Phone (optional)", input({ type: "tel", maxlength: 40, autocomplete: "tel",
                                                 pattern: "[0-9+() .\\-]*", "data-testid": "phone" })),
      field("address", "Address of the cameras", input({ required: true, minlength: 3, maxlength: 300,
                                                         autocomplete: "street-address", "data-testid": "address" }),
            "Shown only to investigators, never to the public."));
    this.add.addEventListener("click", () => this.addCamera());
    root.replaceChildren(contact, el("h2", {}, "Cameras"),
                         el("p", { class: "muted" }, "Click the map where each camera is (or type its position)."),
                         this.map.element, this.list, this.add);
    this.map.onPick((latitude, longitude) => this.setPin(this.active, latitude, longitude));
  }

  addCamera(camera?: Partial<CameraIn>): void {
    const index = this.cameras.length;
    if (index >= this.maxCameras) return;
    const id = (name: string) => `camera-${index}-${name}`;
    const direction = el("select", { "data-testid": id("direction") },
      el("option", { value: "" }, "all round / not sure"),
      ...["N", "NE", "E", "SE", "S", "SW", "W", "NW"].map((name, i) => el("option", { value: i * 45 }, name)));
    const set = el("fieldset", { class: "camera", "data-index": index },
      el("legend", {}, `Camera ${index + 1}`),
      el("div", { class: "pair" },
        field(id("latitude"), "Latitude", input({ type: "number", step: "any", min: -90, max: 90, required: true,
                                                  "data-testid": id("latitude") })),
        field(id("longitude"), "Longitude", input({ type: "number", step: "any", min: -180, max: 180,
                                                    required: true, "data-testid": id("longitude") }))),
      el("div", { class: "pair" },
        field(id("outdoor"), "Where", el("select", { "data-testid": id("outdoor") },
          el("option", { value: "true" }, "outside"), el("option", { value: "false" }, "inside, looking out"))),
        field(id("direction"), "Looks towards", direction)),
      field(id("description"), "What it sees (short)", input({ maxlength: 500, "data-testid": id("description"),
                                                                placeholder: "e.g. front door and the pavement" })),
      el("div", { class: "pair" },
        field(id("retention"), "Days your recorder keeps footage", input({ type: "number", min: 1, max: 365,
                                                                           required: true, value: 7,
                                                                           "data-testid": id("retention") })),
        field(id("shares"), "Willing to share past footage?", el("select", { "data-testid": id("shares") },
          el("option", { value: "true" }, "yes, when asked"), el("option", { value: "false" }, "no")))));
    set.addEventListener("focusin", () => (this.active = index));
    for (const name of ["latitude", "longitude"]) {
      set.querySelector<HTMLInputElement>(`#${id(name)}`)!.addEventListener("change", () => this.showPins());
    }
    this.cameras.push(set);
    this.list.append(set);
    this.active = index;
    this.add.hidden = this.cameras.length >= this.maxCameras;
    if (camera) this.fillCamera(index, camera);
  }

  private control(index: number, name: string): HTMLInputElement | HTMLSelectElement {
    return this.root.querySelector<HTMLInputElement | HTMLSelectElement>(`#camera-${index}-${name}`)!;
  }

  private value(index: number, name: string): string {
    return this.control(index, name).value;
  }

  private setValue(index: number, name: string, value: string): void {
    this.control(index, name).value = value;
  }

  private setPin(index: number, latitude: number, longitude: number): void {
    if (!this.cameras[index]) return;
    this.setValue(index, "latitude", latitude.toFixed(6));
    this.setValue(index, "longitude", longitude.toFixed(6));
    this.showPins();
  }

  private pinOf(index: number): [number, number] | null {
    const latitude = this.value(index, "latitude");
    const longitude = this.value(index, "longitude");
    if (latitude === "" || longitude === "") return null;
    const pin: [number, number] = [Number(latitude), Number(longitude)];
    return pin.every(Number.isFinite) ? pin : null;
  }

  private showPins(): void {
    this.map.show(this.cameras.map((_, index) => this.pinOf(index)));
  }

  private fillCamera(index: number, camera: Partial<CameraIn>): void {
    if (camera.latitude !== undefined && camera.longitude !== undefined) {
      this.setPin(index, camera.latitude, camera.longitude);
    }
    this.setValue(index, "outdoor", String(camera.outdoor ?? true));
    const direction = camera.view_direction_deg;
    this.setValue(index, "direction", direction === null || direction === undefined ? ""
      : String(Math.round(direction / 45) % 8 * 45));
    this.setValue(index, "description", camera.description ?? "");
    this.setValue(index, "retention", String(camera.retention_days ?? 7));
    this.setValue(index, "shares", String(camera.shares_past ?? true));
  }

  fill(registration: Schemas["RegistrationOut"]): void {
    for (const name of ["contact_name", "email", "phone", "address"] as const) {
      this.root.querySelector<HTMLInputElement>(`#${name}`)!.value = registration[name];
    }
    registration.cameras.forEach((camera) => this.addCamera(camera));
  }

  /** The form as the API takes it (the browser's own validation first: it says what is missing). */
  read(form: HTMLFormElement): RegistrationIn | null {
    if (!form.reportValidity()) return null;
    const text = (name: string) => this.root.querySelector<HTMLInputElement>(`#${name}`)!.value.trim();
    return {
      contact_name: text("contact_name"), email: text("email"), phone: text("phone"), address: text("address"),
      cameras: this.cameras.map((_, i) => ({
        latitude: Number(this.value(i, "latitude")), longitude: Number(this.value(i, "longitude")),
        outdoor: this.value(i, "outdoor") === "true",
        view_direction_deg: this.value(i, "direction") === "" ? null : Number(this.value(i, "direction")),
        description: this.value(i, "description").trim(), retention_days: Number(this.value(i, "retention")),
        shares_past: this.value(i, "shares") === "true",
      })),
    };
  }
}
