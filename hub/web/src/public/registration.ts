// A registrant's private page (the link in every e-mail): see the registration, confirm or re-confirm it,
// change it, delete it.
import "../styles/base.css";
import "../styles/public.css";
import { byId, say } from "../lib/dom";
import { messageOf } from "../api/client";
import { RegistrationFields } from "./fields";
import { bearer, must, nameAgency, pathToken, publicApi, type Schemas } from "./link";
import { PinMap } from "./pinmap";

const token = pathToken();
const headers = bearer(token);

function describe(registration: Schemas["RegistrationOut"]): string {
  if (registration.status === "unconfirmed") {
    return "Not confirmed yet: your cameras do not count until you press \"Confirm\".";
  }
  if (registration.status === "stale") {
    return "Your registration lapsed because it was not re-confirmed; press \"Confirm\" to make it count again.";
  }
  if (registration.reconfirm_by) {
    return `Please re-confirm by ${registration.reconfirm_by.slice(0, 10)}: is everything below still right?`;
  }
  return "Confirmed: investigators may ask you for footage from these cameras.";
}

function show(registration: Schemas["RegistrationOut"]): void {
  say(byId("state"), describe(registration));
  byId("state").dataset.status = registration.status;
  const asks = registration.status !== "confirmed" || Boolean(registration.reconfirm_by);
  byId("confirm-box").hidden = !asks;
  say(byId("confirm-text"), registration.status === "confirmed" ? "Still right? Re-confirm it."
    : "Is this your registration? Confirm it.");
}

async function main(): Promise<void> {
  const config = await must(publicApi.GET("/api/registrations/config"));
  nameAgency(config.agency);
  let registration: Schemas["RegistrationOut"];
  try {
    registration = await must(publicApi.GET("/api/registration", { headers }));
  } catch (failure) {
    say(byId("state"), "");
    say(byId("link-error"), messageOf(failure));
    return;
  }
  const form = byId<HTMLFormElement>("registration");
  form.hidden = false;
  byId("delete-box").hidden = false;
  const map = new PinMap(config);
  const fields = new RegistrationFields(byId("form-fields"), map, config.max_cameras);
  map.start();
  fields.fill(registration);
  show(registration);

  byId("confirm").addEventListener("click", async () => {
    try {
      show(await must(publicApi.POST("/api/registration/confirm", { headers })));
    } catch (failure) {
      say(byId("link-error"), messageOf(failure));
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    say(byId("form-error"));
    const body = fields.read(form);
    if (!body) return;
    try {
      const saved = await must(publicApi.PUT("/api/registration", { headers, body }));
      show(saved);
      if (saved.email !== registration.email) {
        say(byId("state"), "Saved. We sent a confirmation link to your new e-mail address; this link no longer works.");
      } else {
        say(byId("state"), `Saved. ${describe(saved)}`);
      }
      registration = saved;
    } catch (failure) {
      say(byId("form-error"), `Not saved: ${messageOf(failure)}`);
    }
  });
  const dialog = byId<HTMLDialogElement>("delete-dialog");
  byId("delete").addEventListener("click", () => dialog.showModal());
  dialog.addEventListener("close", async () => {
    if (dialog.returnValue !== "delete") return;
    try {
      await must(publicApi.DELETE("/api/registration", { headers }));
      form.hidden = true;
      byId("delete-box").hidden = true;
      byId("confirm-box").hidden = true;
      say(byId("state"), "Your registration is deleted. Thank you for having taken part.");
      byId("state").dataset.status = "deleted";
    } catch (failure) {
      say(byId("link-error"), messageOf(failure));
    }
  });
}

main().catch((failure) => say(byId("link-error"), `The page could not start: ${messageOf(failure)}`));
