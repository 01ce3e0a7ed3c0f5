"""The owner's word at the box: WebAuthn assertions checked field by field, keys learnt only through a pairing
code the box showed, policies only from a key the box holds, versions only going up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.cli import main as edge_main
from edge.config import load_config
from edge.consent.guard import ConsentGuard
from edge.consent.owners import MAX_FAILED_OFFERS
from edge.recording.storage import Layout
from tests.edge_support import config_text
from tests.owner_support import SoftwareAuthenticator, pair_at_box, signed_policy
from wire import consent as c
from wire import owner as wo

DEVICE = "dev-aaaaaaaaaaaa"
OPEN = c.Policy(sharing="always", modes=["live", "playback"], max_session_s=900)


@pytest.fixture
def guard(tmp_path: Path):
    g = ConsentGuard(tmp_path / "consent.sqlite3", device_id=DEVICE, cameras=["front", "back"])
    yield g
    g.close()


def _tampered(signed: wo.OwnerSigned, **fields) -> wo.OwnerSigned:
    return signed.model_copy(update={"assertion": signed.assertion.model_copy(update=fields)})


def test_an_assertion_verifies_only_for_its_document_key_party_and_presence():
    owner = SoftwareAuthenticator()
    keys = {owner.credential_id: owner.owner_key()}
    signed = owner.sign('{"a":1}')
    assert wo.verify_assertion(signed, keys).credential_id == owner.credential_id
    with pytest.raises(wo.OwnerSignatureError, match="over another document"):
        wo.verify_assertion(signed.model_copy(update={"document": '{"a":2}'}), keys)
    with pytest.raises(wo.OwnerSignatureError, match="not one of the owner keys"):
        wo.verify_assertion(SoftwareAuthenticator().sign('{"a":1}'), keys)
    with pytest.raises(wo.OwnerSignatureError, match="another site"):
        wo.verify_assertion(owner.sign('{"a":1}', origin="https://evil.example"), keys)
    with pytest.raises(wo.OwnerSignatureError, match="user-presence"):
        absent = SoftwareAuthenticator(user_present=False)
        wo.verify_assertion(absent.sign("{}"), {absent.credential_id: absent.owner_key()})
    with pytest.raises(wo.OwnerSignatureError, match="another relying party"):
        elsewhere = SoftwareAuthenticator(rp_id="hub.example.org", origin="https://hub.example.org")
        key = elsewhere.owner_key().model_copy(update={"rp_id": "127.0.0.1"})
        wo.verify_assertion(elsewhere.sign("{}", origin="http://127.0.0.1:8000"), {elsewhere.credential_id: key})
    registration_data = json.dumps({"type": "webauthn.create", "challenge": wo.challenge_for('{"a":1}'),
                                    "origin": owner.origin}).encode()
    with pytest.raises(wo.OwnerSignatureError, match="not a WebAuthn assertion"):
        wo.verify_assertion(_tampered(signed, client_data_json=wo.b64url(registration_data)), keys)
    flipped = wo.from_b64url(signed.assertion.signature)
    with pytest.raises(wo.OwnerSignatureError, match="does not verify"):
        wo.verify_assertion(_tampered(signed, signature=wo.b64url(flipped[:-1] + bytes([flipped[-1] ^ 1]))), keys)


def test_a_key_is_learnt_only_with_a_code_the_box_showed_and_each_code_once(guard):
    owner = SoftwareAuthenticator()
    with pytest.raises(wo.OwnerSignatureError, match="no pairing code is open"):
        guard.enrol_owner_key(owner.offer(DEVICE, "AAAA-BBBB-CCCC"))
    code = guard.open_pairing()
    with pytest.raises(wo.OwnerSignatureError, match="does not match"):
        guard.enrol_owner_key(owner.offer(DEVICE, "AAAA-BBBB-CCCC"))  # the hub guessing
    with pytest.raises(wo.OwnerSignatureError, match="not this one"):
        guard.enrol_owner_key(owner.offer("dev-bbbbbbbbbbbb", code))
    key = guard.enrol_owner_key(owner.offer(DEVICE, code.lower().replace("-", " ")))  # typed loosely
    assert key.credential_id in guard.owners.keys()
    second = SoftwareAuthenticator()
    with pytest.raises(wo.OwnerSignatureError, match="no pairing code is open"):
        guard.enrol_owner_key(second.offer(DEVICE, code))  # spent
    log = guard.access_log()
    assert [row["accepted"] for row in log] == [0, 0, 0, 1, 0]
    assert log[3]["decision"].startswith("owner key added: test passkey (fingerprint ")


def test_too_many_wrong_offers_void_the_open_code(guard):
    code = guard.open_pairing()
    owner = SoftwareAuthenticator()
    for _ in range(MAX_FAILED_OFFERS):
        with pytest.raises(wo.OwnerSignatureError):
            guard.enrol_owner_key(owner.offer(DEVICE, "WRON-GCOD-EXXX"))
    with pytest.raises(wo.OwnerSignatureError, match="no pairing code is open"):
        guard.enrol_owner_key(owner.offer(DEVICE, code))


def test_only_a_policy_signed_by_a_held_key_and_newer_counts(guard):
    owner, stranger = SoftwareAuthenticator(), SoftwareAuthenticator()
    pair_at_box(guard, owner)
    with pytest.raises(c.ConsentError, match="not one of the owner keys held here"):
        guard.accept_policy(signed_policy(stranger, device_id=DEVICE, camera="front", version=1, policy=OPEN))
    v1 = signed_policy(owner, device_id=DEVICE, camera="front", version=1, policy=OPEN)
    v2 = signed_policy(owner, device_id=DEVICE, camera="front", version=2, policy=OPEN.model_copy(
        update={"sharing": "off"}))
    guard.accept_policy(v1)
    guard.accept_policy(v2)
    with pytest.raises(c.ConsentError, match="version 1 is not newer than 2"):
        guard.accept_policy(v1)  # replayed by a hub that kept it: validly signed, stale
    with pytest.raises(c.ConsentError, match="device dev-bbbbbbbbbbbb"):
        guard.accept_policy(signed_policy(owner, device_id="dev-bbbbbbbbbbbb", camera="front", version=3,
                                          policy=OPEN))
    assert guard.policy("front").version == 2 and guard.policy("front").policy.sharing == "off"
    refusals = [(row["camera"], row["decision"]) for row in guard.access_log() if not row["accepted"]]
    assert refusals == [
        ("front", "policy refused: signed by a key that is not one of the owner keys held here"),
        ("front", "policy refused: policy version 1 is not newer than 2"),
        ("front", "policy refused: policy is for device dev-bbbbbbbbbbbb, not this one")]


def test_a_removed_key_no_longer_speaks_for_the_owner(guard):
    owner = SoftwareAuthenticator()
    pair_at_box(guard, owner)
    guard.accept_policy(signed_policy(owner, device_id=DEVICE, camera="front", version=1, policy=OPEN))
    assert guard.policy("front") is not None
    assert guard.owners.remove(owner.credential_id)
    assert guard.policy("front") is None  # sharing off until the owner signs with a key the box holds


def test_the_owners_command_pairs_lists_and_removes_at_the_box(tmp_path: Path, capsys):
    config = tmp_path / "edge.toml"
    config.write_text(config_text(tmp_path / "data", ["rtsp://127.0.0.1:1/none"]))
    assert edge_main(["owners", "pair", "--config", str(config)]) == 0
    code = capsys.readouterr().out.split("pairing code: ")[1].split()[0]
    assert len(wo.normalise_code(code)) == wo.PAIRING_CODE_LENGTH
    guard = ConsentGuard(Layout(load_config(config).appliance.data_dir).consent_path, device_id=DEVICE)
    owner = SoftwareAuthenticator()
    try:
        guard.enrol_owner_key(owner.offer(DEVICE, code, label="phone"))
    finally:
        guard.close()
    assert edge_main(["owners", "list", "--config", str(config), "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["label"] == "phone" and listed["fingerprint"] == owner.owner_key().fingerprint()
    assert edge_main(["owners", "remove", owner.credential_id, "--config", str(config)]) == 0
    assert edge_main(["owners", "remove", owner.credential_id, "--config", str(config)]) == 2
    assert "no such owner key" in capsys.readouterr().err


def test_the_hub_verifies_a_passkey_registration_and_its_challenge_is_this_hubs(tmp_path: Path):
    from tests.hub_support import HubApi
    from tests.owner_support import OwnerAtHub
    from tests.test_access_api import setup

    api = HubApi(tmp_path)
    try:
        _, owner, other_owner, analyst = setup(api)
        with api.client(owner) as c, api.client(other_owner) as other:
            options = c.post("/api/owner/passkeys/options").json()
            assert options["pubKeyCredParams"] == [{"type": "public-key", "alg": -7}]  # ES256: what boxes check
            elsewhere = SoftwareAuthenticator(origin="https://evil.example")
            r = c.post("/api/owner/passkeys", json={"credential": elsewhere.registration(options)})
            assert r.status_code == 422 and "origin" in r.json()["detail"]
            theirs = other.post("/api/owner/passkeys/options").json()
            r = c.post("/api/owner/passkeys", json={"credential": SoftwareAuthenticator().registration(theirs)})
            assert r.status_code == 422 and "challenge" in r.json()["detail"]
            r = c.post("/api/owner/passkeys", json={"credential": {"response": {"clientDataJSON": "e30"}}})
            assert r.status_code == 422 and "e30" not in r.text
            helper = OwnerAtHub(c)
            made = helper.register("laptop")
            assert made["fingerprint"] == helper.authenticator.owner_key().fingerprint() and made["boxes"] == []
            again = helper.authenticator.registration(c.post("/api/owner/passkeys/options").json())
            assert c.post("/api/owner/passkeys", json={"credential": again}).status_code == 409
            assert [p["label"] for p in c.get("/api/owner/passkeys").json()] == ["laptop"]
            assert other.get("/api/owner/passkeys").json() == []
        with api.client(analyst) as c:
            assert c.post("/api/owner/passkeys/options").status_code == 403
    finally:
        api.close()


def test_migration_0011_keeps_old_consent_unsigned_and_goes_down_and_up(tmp_path: Path, database_url: str | None):
    """Old versions stay (unsigned: never sent to a box again); the owner-key tables come and go."""
    import datetime as dt

    from alembic import command
    from sqlalchemy import inspect, text

    from hub.db import Database, alembic_config
    from hub.tables import ConsentVersion

    database = Database(database_url or f"sqlite:///{tmp_path / 'hub.db'}")
    command.upgrade(alembic_config(database.engine), "0009")
    try:
        now = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)
        with database.engine.begin() as connection:
            connection.execute(text("INSERT INTO businesses (id, name, created_at) VALUES (1, 'Bakery', :t)"),
                               {"t": now})
            connection.execute(text(
                "INSERT INTO appliances (id, device_id, business_id, name, state, cert_serial, certificate_pem, "
                "enrolled_at, online, last_event_seq, hotlist_version_acked) VALUES (1, 'dev-aaaaaaaaaaaa', 1, '', "
                "'ACTIVE', '1', '', :t, false, 0, -1)"), {"t": now})
            connection.execute(text("INSERT INTO cameras (id, appliance_id, name, status, plate_sharing) VALUES "
                                    "(1, 1, 'front', 'RECORDING', 'NONE')"))
            connection.execute(text(
                "INSERT INTO consent_versions (id, camera_id, version, policy, created_by, created_at) VALUES "
                "(1, 1, 1, '{\"sharing\": \"always\"}', 'owner', :t)"), {"t": now})
        database.migrate()
        with database.session() as session:
            assert session.get(ConsentVersion, 1).signed is None
        assert {"owner_passkeys", "appliance_owner_keys"} <= set(inspect(database.engine).get_table_names())
        command.downgrade(alembic_config(database.engine), "0009")
        assert "owner_passkeys" not in inspect(database.engine).get_table_names()
        with database.engine.begin() as connection:
            assert connection.execute(text("SELECT count(*) FROM consent_versions")).scalar() == 1
        database.migrate()
    finally:
        database.dispose()
