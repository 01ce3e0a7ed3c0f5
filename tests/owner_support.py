"""The owner's side in tests: an owner with a software passkey (sim/owner_key.py) working through the hub's API as the
owner console does, and signed documents made without a hub. TEST FIXTURE: each key is made fresh in memory and
never leaves the test.
"""

from __future__ import annotations

import datetime as dt

from sim.owner_key import ORIGIN, RP_ID, SoftwareAuthenticator  # noqa: F401 (re-exported)
from wire import owner as wo


class OwnerAtHub:
    """An owner with a passkey, working through the hub's API as the owner console does."""

    def __init__(self, client, authenticator: SoftwareAuthenticator | None = None):
        self.client, self.authenticator = client, authenticator or SoftwareAuthenticator()

    def register(self, label: str = "test passkey") -> dict:
        options = self.client.post("/api/owner/passkeys/options").json()
        rp_id = options["rp"]["id"]
        if rp_id != self.authenticator.rp_id:  # a hub with a public URL of its own (https, as in production)
            self.authenticator.rp_id, self.authenticator.origin = rp_id, f"https://{rp_id}"
        r = self.client.post("/api/owner/passkeys", json={"credential": self.authenticator.registration(options),
                                                           "label": label})
        assert r.status_code == 201, r.text
        return r.json()

    def pair(self, guard, label: str = "test passkey") -> None:
        """Register the passkey at the hub if needed, then pair it with the box whose consent guard is `guard`:
        the code the box shows (as `canvass-edge owners pair` does), offered through the hub."""
        if not any(p["credential_id"] == self.authenticator.credential_id
                   for p in self.client.get("/api/owner/passkeys").json()):
            self.register(label)
        r = self.pair_box(guard.device_id, guard.open_pairing(), label)
        assert r.status_code == 200 and r.json()["accepted"], r.text

    def pair_box(self, device_id: str, code: str, label: str = "test passkey"):
        """Offer this passkey to the box (through the hub) with the code the box showed; the hub's response."""
        offer = self.authenticator.offer(device_id, code, label)
        return self.client.post(f"/api/appliances/{device_id}/owner-keys", json=offer.model_dump())

    def put_consent(self, camera_id: int, policy: dict):
        """Sign `policy` as the camera's next version and save it (the hub pushes it to the box)."""
        r = self.client.post(f"/api/cameras/{camera_id}/consent/document", json=policy)
        if r.status_code != 200:
            return r
        signed = self.authenticator.sign(r.json()["document"])
        return self.client.put(f"/api/cameras/{camera_id}/consent", json=signed.model_dump())

    def decide(self, request_id: int, *, approve: bool, note: str = "", window: tuple[str, str] | None = None,
               path: str = "footage-requests"):
        """Approve (signing the approval, maybe for a trimmed window) or deny a request."""
        body: dict = {"approve": approve, "note": note}
        if approve:
            ask = {"window_from": window[0], "window_to": window[1]} if window else {}
            r = self.client.post(f"/api/{path}/{request_id}/approval-document", json=ask)
            if r.status_code != 200:
                return r
            body["signed_approval"] = self.authenticator.sign(r.json()["document"]).model_dump()
            body.update(ask)
        return self.client.post(f"/api/{path}/{request_id}/decision", json=body)


# -- at the box, without a hub: the pairing step and signed documents -------------------------------


def pair_at_box(guard, authenticator: SoftwareAuthenticator, label: str = "test passkey") -> wo.OwnerKey:
    """What an owner at the box does: `canvass-edge owners pair` shows a code, the console MACs the key with it."""
    code = guard.open_pairing()
    return guard.enrol_owner_key(authenticator.offer(guard.device_id, code, label))


def signed_policy(authenticator: SoftwareAuthenticator, *, device_id: str, camera: str, version: int,
                  policy, issued_at: dt.datetime | None = None) -> wo.OwnerSigned:
    from wire import consent as c

    document = c.PolicyDocument(device_id=device_id, camera=camera, version=version, policy=policy,
                                issued_at=issued_at or dt.datetime.now(dt.timezone.utc))
    return authenticator.sign(c.canonical(document))


def signed_approval(authenticator: SoftwareAuthenticator, *, device_id: str, camera: str, request_id: int,
                    mode: str, case_number: str, window: tuple[dt.datetime, dt.datetime]) -> str:
    """An owner-signed approval as the hub stores it (OwnerSigned JSON), for `issue_grant(owner_approval=…)`."""
    from wire import consent as c

    document = c.ApprovalDocument(device_id=device_id, camera=camera, request_id=request_id, mode=mode,
                                  case_number=case_number, window_from=window[0], window_to=window[1],
                                  issued_at=dt.datetime.now(dt.timezone.utc))
    return authenticator.sign(c.canonical(document)).model_dump_json()


# -- one passkey per owner session, for tests that only need the owner to sign ------------------------

_PASSKEYS: dict[str, OwnerAtHub] = {}


def passkey_of(client) -> OwnerAtHub:
    """The test passkey of the owner signed in on `client` (registered at the hub on first use)."""
    token = client.headers.get("authorization", "")
    owner = _PASSKEYS.get(token)
    if owner is None:
        owner = _PASSKEYS[token] = OwnerAtHub(client)
        owner.register()
    owner.client = client
    return owner


def put_consent(client, camera_id: int, policy: dict):
    """`PUT /api/cameras/{id}/consent` as the owner console does it: the next version, signed with the passkey."""
    return passkey_of(client).put_consent(camera_id, policy)


def pair_box(client, device_id: str, consent) -> None:
    """Pair the owner's passkey with a running box, `consent` its consent guard or the path of its consent
    database: open a code there (what `canvass-edge owners pair` does at the box) and offer the key through
    the hub."""
    from edge.consent.guard import ConsentGuard

    if isinstance(consent, ConsentGuard):
        code = consent.open_pairing()
    else:
        guard = ConsentGuard(consent, device_id=device_id)
        try:
            code = guard.open_pairing()
        finally:
            guard.close()
    r = passkey_of(client).pair_box(device_id, code)
    assert r.status_code == 200 and r.json()["accepted"], r.text


def decide(client, request_id: int, *, approve: bool, note: str = "", window: tuple[str, str] | None = None,
           path: str = "footage-requests"):
    """An owner's decision as the console sends it (an approval signed with the passkey)."""
    return passkey_of(client).decide(request_id, approve=approve, note=note, window=window, path=path)
