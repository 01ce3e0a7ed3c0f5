// The public registration page: the form, sent once; then "check your e-mail". No account, no CAPTCHA: the
// e-mail confirmation is the proof.
import "../styles/base.css";
import "../styles/public.css";
import { byId, say } from "../lib/dom";
import { messageOf } from "../api/client";
import { RegistrationFields } from "./fields";
import { must, nameAgency, publicApi } from "./link";
import { PinMap } from "./pinmap";

async function main(): Promise<void> {
  const form = byId<HTMLFormElement>("registration");
  const error = byId("form-error");
  const config = await must(publicApi.GET("/api/registrations/config"));
  nameAgency(config.agency);
  const map = new PinMap(config);
  const fields = new RegistrationFields(byId("form-fields"), map, config.max_cameras);
  map.start();
  fields.addCamera();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    say(error);
    const body = fields.read(form);
    if (!body) return;
    const button = form.querySelector("button[data-testid=register]") as HTMLButtonElement;
    button.disabled = true;
    try {
      const accepted = await must(publicApi.POST("/api/registrations", { body }));
      form.hidden = true;
      byId("sent").hidden = false;
      say(byId("sent-message"), accepted.message);
    } catch (failure) {
      say(error, `Not registered: ${messageOf(failure)}`);
    } finally {
      button.disabled = false;
    }
  });
}

main().catch((failure) => say(byId("form-error"), `The page could not start: ${messageOf(failure)}`));
