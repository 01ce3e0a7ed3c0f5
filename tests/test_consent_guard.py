"""The appliance judges grants itself: real hub keys and audit log, an owner passkey paired at the box (a
software authenticator producing real WebAuthn signatures), the hub's own checks bypassed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.consent.guard import ConsentGuard
from hub.access.grants import issue_grant
from hub.keys import public_pem
from tests.hub_support import HubApi
from tests.owner_support import SoftwareAuthenticator, pair_at_box, signed_approval, signed_policy
from wire import audit as wa
from wire import consent as c

DEVICE = "dev-aaaaaaaaaaaa"
OPEN = c.Policy(sharing="always", modes=["live", "playback", "clip"], max_session_s=900)
REASON = "armed robbery reported at the corner store"


@pytest.fixture
def hub(tmp_path: Path):
    api = HubApi(tmp_path / "hub")
    yield api
    api.close()


@pytest.fixture
def guard(hub: HubApi, tmp_path: Path):
    g = ConsentGuard(tmp_path / "box" / "consent.sqlite3", device_id=DEVICE, cameras=["front", "back"],
                     grant_key_pem=hub.hub.grant_public_key_pem, audit_key_pem=public_pem(hub.hub.audit_key),
                     audit_origin=hub.settings.audit_origin)
    yield g
    g.close()


@pytest.fixture
def owner(guard: ConsentGuard) -> SoftwareAuthenticator:
    authenticator = SoftwareAuthenticator()
    pair_at_box(guard, authenticator)
    return authenticator


def set_policy(owner: SoftwareAuthenticator, guard: ConsentGuard, policy: c.Policy, version: int,
               camera: str = "front") -> None:
    guard.accept_policy(signed_policy(owner, device_id=DEVICE, camera=camera, version=version, policy=policy))


def grant(hub: HubApi, **overrides) -> c.Signed:
    args = dict(device_id=DEVICE, camera="front", mode="live", analyst="ana", reason=REASON,
                case_number="2026-000123", policy_version=1, lifetime_s=600)
    args.update(overrides)
    return issue_grant(hub.hub, **args)


def test_a_proper_grant_is_accepted_once(hub, guard, owner):
    set_policy(owner, guard, OPEN, 1)
    signed = grant(hub)
    assert guard.judge(signed).accepted
    replay = guard.judge(signed)
    assert not replay.accepted and replay.reason == "replayed grant: already used"
    log = [row for row in guard.access_log() if row["grant_id"]]
    assert [(row["accepted"], row["decision"]) for row in log] == [(1, "accepted"), (0, replay.reason)]
    assert log[0]["case_number"] == "2026-000123" and log[0]["analyst"] == "ana"


def refused(guard: ConsentGuard, signed: c.Signed, now: dt.datetime | None = None) -> str:
    decision = guard.judge(signed, now)
    assert not decision.accepted
    return decision.reason


def test_each_bad_grant_is_refused_with_its_reason(hub, guard, owner):
    set_policy(owner, guard, c.Policy(sharing="always", modes=["playback"], max_session_s=900,
                                    schedule=[c.Window(days=[0, 1, 2, 3, 4], start_minute=9 * 60, end_minute=17 * 60)]),
               1)
    monday_noon = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.timezone.utc)
    ok = grant(hub, mode="playback", not_before=monday_noon - dt.timedelta(minutes=1))
    assert guard.judge(ok, monday_noon).accepted

    forged = c.sign(c.Grant.model_validate_json(ok.document), Ed25519PrivateKey.generate())
    assert refused(guard, forged, monday_noon).startswith("forged grant")
    tampered = c.Signed(document=ok.document.replace("2026-000123", "2026-999999"), signature=ok.signature)
    assert refused(guard, tampered, monday_noon).startswith("forged grant")
    assert refused(guard, grant(hub, mode="playback", not_before=monday_noon - dt.timedelta(hours=1)),
                   monday_noon) == "grant expired"
    assert refused(guard, grant(hub, mode="playback", device_id="dev-bbbbbbbbbbbb",
                                not_before=monday_noon), monday_noon).startswith("wrong device")
    assert refused(guard, grant(hub, mode="playback", camera="garage", not_before=monday_noon),
                   monday_noon).startswith("wrong camera")
    assert refused(guard, grant(hub, mode="live", not_before=monday_noon),
                   monday_noon) == "mode live is not allowed for this camera"
    sunday = monday_noon - dt.timedelta(days=1)
    assert refused(guard, grant(hub, mode="playback", not_before=sunday), sunday) == \
        "outside the camera's allowed schedule"
    assert refused(guard, grant(hub, mode="playback", not_before=monday_noon, lifetime_s=7200),
                   monday_noon) == "grant lasts longer than the camera's maximum session"
    assert refused(guard, grant(hub, mode="playback", not_before=monday_noon, policy_version=2),
                   monday_noon).startswith("grant was issued under policy version 2")
    assert refused(guard, ok, monday_noon) == "replayed grant: already used"
    reasons = [row["decision"] for row in guard.access_log() if not row["accepted"]]
    assert len(reasons) == 10  # each refusal is on the owner's access log


def test_a_grant_missing_from_the_audit_log_is_refused(hub, guard, owner, tmp_path):
    set_policy(owner, guard, OPEN, 1)
    real = c.Grant.model_validate_json(grant(hub).document)
    # Signed with the hub's grant key (a compromised grant path) but pointing at someone else's audit entry.
    other = c.Grant.model_validate_json(grant(hub).document)
    fake = real.model_copy(update={"grant_id": __import__("uuid").uuid4(), "audit_index": other.audit_index,
                                   "audit_entry": other.audit_entry, "audit_proof": other.audit_proof,
                                   "audit_checkpoint": other.audit_checkpoint})
    assert refused(guard, c.sign(fake, hub.hub.signing_key)) == "the audit entry does not record this grant"
    invented = real.model_copy(update={"grant_id": __import__("uuid").uuid4(),
                                       "audit_entry": real.audit_entry.replace(str(real.grant_id), "x")})
    assert refused(guard, c.sign(invented, hub.hub.signing_key)) == \
        "the grant's audit entry is not in the hub's signed audit log"


def test_consent_off_or_paused_on_the_box_wins_over_any_hub(hub, guard, owner):
    # No policy at all: off.
    assert refused(guard, grant(hub)) == "no consent policy for this camera: sharing is off"
    set_policy(owner, guard, OPEN, 1)
    guard.pause("front", note="owner pressed pause")
    assert refused(guard, grant(hub)) == "sharing paused on the appliance by its owner"
    guard.resume("front")
    guard.pause()  # every camera
    assert refused(guard, grant(hub)) == "sharing paused on the appliance by its owner"
    guard.resume()
    assert guard.judge(grant(hub)).accepted
    set_policy(owner, guard, c.Policy(sharing="off", modes=["live"]), 2)
    assert refused(guard, grant(hub, policy_version=2)) == "sharing is off for this camera"
    # The hub cannot roll the policy back to an older, more permissive version.
    with pytest.raises(c.ConsentError, match="not newer"):
        set_policy(owner, guard, OPEN, 1)
    with pytest.raises(c.ConsentError, match="not one of the owner keys held here"):
        guard.accept_policy(signed_policy(SoftwareAuthenticator(), device_id=DEVICE, camera="front", version=9,
                                          policy=OPEN))


def approval(hub: HubApi, *, approve: bool = True, window=None, mode: str = "playback") -> int:
    """The owner's decision as the hub records it (hub.api.consent.decide)."""
    from hub import audit

    window = window or WINDOW
    with hub.hub.db.session() as session:
        return audit.append(session, actor="owner", action="access.owner_decision",
                            outcome="success" if approve else "denied", object="camera:1", reason="ok",
                            case_number="2026-000123", approved=approve, request_id=1, camera="front",
                            device_id=DEVICE, mode=mode, window_from=window[0].isoformat(),
                            window_to=window[1].isoformat())


WINDOW = (dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.timezone.utc),
          dt.datetime(2026, 11, 20, 10, 5, tzinfo=dt.timezone.utc))


def owner_signed(owner: SoftwareAuthenticator, window=WINDOW, **overrides) -> str:
    args = dict(device_id=DEVICE, camera="front", request_id=1, mode="playback", case_number="2026-000123",
                window=window)
    return signed_approval(owner, **{**args, **overrides})


def test_request_only_needs_the_owners_signed_and_logged_approval(hub, guard, owner):
    set_policy(owner, guard, c.Policy(sharing="request_only", modes=["live", "playback"]), 1)
    assert refused(guard, grant(hub)) == "this camera shares recorded footage on request only, never live"
    assert refused(guard, grant(hub, mode="playback", window=WINDOW)) == \
        "this camera needs its owner's approval for each request, and the grant carries none signed by the owner"
    # The hub's record that the owner approved is not the owner's word.
    assert refused(guard, grant(hub, mode="playback", window=WINDOW, approval_index=approval(hub))) == \
        "this camera needs its owner's approval for each request, and the grant carries none signed by the owner"
    stranger = SoftwareAuthenticator()  # a passkey the hub holds, never paired at this box
    assert refused(guard, grant(hub, mode="playback", window=WINDOW, approval_index=approval(hub),
                                owner_approval=owner_signed(stranger))) == \
        "the approval is not the owner's: signed by a key that is not one of the owner keys held here"
    other = (WINDOW[0] - dt.timedelta(days=1), WINDOW[1])
    assert refused(guard, grant(hub, mode="playback", window=other, approval_index=approval(hub),
                                owner_approval=owner_signed(owner))) == \
        "the grant asks for other footage than the owner approved"
    assert refused(guard, grant(hub, mode="playback", window=WINDOW, approval_index=approval(hub),
                                owner_approval=owner_signed(owner, case_number="2026-999999"))) == \
        "the owner's signed approval does not cover this grant"
    assert refused(guard, grant(hub, mode="playback", window=WINDOW, approval_index=approval(hub, approve=False),
                                owner_approval=owner_signed(owner))) \
        == "the owner's approval does not cover this grant"
    assert guard.judge(grant(hub, mode="playback", window=WINDOW, approval_index=approval(hub),
                             owner_approval=owner_signed(owner))).accepted


def test_a_running_session_ends_when_the_masks_it_paints_are_no_longer_the_owners(hub, guard, owner):
    square = [(0.1, 0.1), (0.4, 0.1), (0.4, 0.4), (0.1, 0.4)]
    set_policy(owner, guard, OPEN.model_copy(update={"privacy_masks": [square]}), 1)
    accepted = guard.judge(grant(hub)).grant
    assert guard.session_problem(accepted, masks=[square]) is None
    set_policy(owner, guard, OPEN.model_copy(update={"privacy_masks": [square]}), 2)  # a new version, same masks
    assert guard.session_problem(accepted, masks=[square]) is None
    set_policy(owner, guard, OPEN, 3)  # the owner removed the mask
    assert guard.session_problem(accepted, masks=[square]) == "the owner changed the privacy masks"
    assert guard.session_problem(accepted) is None  # a caller that paints nothing does not ask


def test_a_grant_whose_audit_entry_names_other_footage_or_another_camera_is_refused(hub, guard, owner):
    set_policy(owner, guard, OPEN, 1)
    set_policy(owner, guard, OPEN, 1, camera="back")
    signed = grant(hub, mode="playback", window=WINDOW)
    real = c.Grant.model_validate_json(signed.document)
    details = wa.AuditEntry.parse(real.audit_entry).details
    assert (details["window_from"], details["window_to"]) == ("2026-11-20T10:00:00+00:00",
                                                              "2026-11-20T10:05:00+00:00")
    live = wa.AuditEntry.parse(c.Grant.model_validate_json(grant(hub).document).audit_entry).details
    assert (live["window_from"], live["window_to"]) == (None, None)  # live footage has no window
    # Signed with the hub's grant key (a compromised grant path), the logged entry left as it is: what the
    # auditor reads (five minutes of camera front) is not what the box would show.
    earlier = real.model_copy(update={"window_from": WINDOW[0] - dt.timedelta(days=1)})
    longer = real.model_copy(update={"window_to": WINDOW[1] + dt.timedelta(hours=1)})
    for other in (earlier, longer):
        assert refused(guard, c.sign(other, hub.hub.signing_key)) == \
            "the audit entry names other footage than the grant"
    back = real.model_copy(update={"camera": "back"})
    assert refused(guard, c.sign(back, hub.hub.signing_key)) == "the audit entry names another camera than the grant"
    clip = real.model_copy(update={"mode": "clip"})
    assert refused(guard, c.sign(clip, hub.hub.signing_key)) == "the audit entry does not record this grant"
    assert guard.judge(signed).accepted
