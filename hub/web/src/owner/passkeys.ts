// The owner's passkeys in the browser (@simplewebauthn/browser): registering one, signing a document the hub
// prepared (the challenge is the document's SHA-256, so the assertion signs exactly those bytes), and the
// pairing offer for a box: the key's enrolment with an HMAC keyed by the code only the box showed.
import { startAuthentication, startRegistration, type PublicKeyCredentialRequestOptionsJSON }
  from "@simplewebauthn/browser";
import { api, must, type Schemas } from "../api/client";

export type Passkey = Schemas["PasskeyOut"];
export type OwnerSigned = Schemas["OwnerSigned"];

export interface NewPasskey {
  passkey: Passkey;
  publicKey: string; // SubjectPublicKeyInfo, base64url: from the authenticator itself, not from the hub
}

/** A new passkey on this device, registered at the hub. */
export async function registerPasskey(label: string): Promise<NewPasskey> {
  const options = await must(api.POST("/api/owner/passkeys/options"));
  // The hub's options are py_webauthn's JSON: the shape @simplewebauthn expects.
  const credential = await startRegistration({ optionsJSON: options as never });
  if (!credential.response.publicKey) throw new Error("this browser does not tell the passkey's public key");
  const passkey = await must(api.POST("/api/owner/passkeys", {
    body: { credential: credential as unknown as Record<string, unknown>, label } }));
  return { passkey, publicKey: credential.response.publicKey };
}

/** Sign `document` with one of the owner's passkeys (the options come with the document from the hub). */
export async function signDocument(document: string, options: Record<string, unknown>): Promise<OwnerSigned> {
  const challenge = await sha256Base64Url(document);
  if (options.challenge !== challenge) throw new Error("the hub's signing options are not for this document");
  const assertion = await startAuthentication({ optionsJSON: options as unknown as PublicKeyCredentialRequestOptionsJSON });
  return {
    document,
    assertion: {
      credential_id: assertion.id, authenticator_data: assertion.response.authenticatorData,
      client_data_json: assertion.response.clientDataJSON, signature: assertion.response.signature,
    },
  };
}

function base64Url(bytes: ArrayBuffer): string {
  let text = "";
  new Uint8Array(bytes).forEach((b) => { text += String.fromCharCode(b); });
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function sha256Base64Url(text: string): Promise<string> {
  return base64Url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/** The code as the box keeps it: upper case, without the spaces and dashes between groups. */
export function normaliseCode(code: string): string {
  return code.toUpperCase().replace(/[\s-]/g, "");
}

async function hmacHex(code: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(normaliseCode(code)),
                                            { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(text)));
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Offer a passkey to a box: the hub carries it; the box takes it only if `code` is one it showed. */
export async function offerToBox(deviceId: string, rpId: string, credentialId: string, publicKey: string,
                                 label: string, code: string): Promise<Schemas["BoxAnswerOut"]> {
  const enrolment = JSON.stringify({
    kind: "owner_key", device_id: deviceId, issued_at: new Date().toISOString(),
    key: { credential_id: credentialId, public_key: publicKey, rp_id: rpId, label },
  });
  return must(api.POST("/api/appliances/{device_id}/owner-keys", {
    params: { path: { device_id: deviceId } }, body: { enrolment, mac: await hmacHex(code, enrolment) } }));
}
