"""The access decisions as plain functions: the hub's checks (`hub.access.rules`) and the box's
(`edge.consent.judge`) on plain data, no database, no keys, no clock."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from edge.consent import judge
from hub.access import rules
from wire import consent as c

MONDAY_NOON = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)
OPEN = c.Policy(sharing="always", modes=["live", "playback"], max_session_s=900)
OFFICE_HOURS = c.Window(days=[0, 1, 2, 3, 4], start_minute=9 * 60, end_minute=17 * 60)


@pytest.mark.parametrize("policy, mode, duration_s, why", [
    (None, "live", 60, "the owner does not share this camera"),
    (c.Policy(sharing="off", modes=["live"]), "live", 60, "the owner does not share this camera"),
    (OPEN, "clip", 60, "the owner does not allow clip for this camera"),
    (c.Policy(sharing="request_only", modes=["live", "playback"]), "live", 60,
     "this camera shares recorded footage on request only, never live"),
    (OPEN.model_copy(update={"schedule": [c.Window(days=[6], start_minute=0, end_minute=60)]}), "live", 60,
     "outside the camera's allowed schedule"),
    (OPEN, "live", 901, "longer than the camera's maximum session of 900 s"),
    (OPEN.model_copy(update={"schedule": [OFFICE_HOURS]}), "playback", 900, None),
])
def test_the_hubs_policy_check(policy, mode, duration_s, why):
    assert rules.policy_refusal(policy, mode, duration_s, MONDAY_NOON) == why


def test_emergency_live_means_live_in_an_emergency_and_recorded_footage_on_approval():
    policy = c.Policy(sharing="emergency_live", modes=["live", "playback"])
    assert "emergency only" in rules.policy_refusal(policy, "live", 60, MONDAY_NOON, "traffic")
    assert "emergency only" in rules.policy_refusal(policy, "live", 60, MONDAY_NOON, None)
    assert rules.policy_refusal(policy, "live", 60, MONDAY_NOON, "emergency") is None
    assert [policy.needs_approval(mode) for mode in ("live", "playback")] == [False, True]
    assert [c.Policy(sharing=s).needs_approval("playback") for s in ("always", "request_only")] == [False, True]
    assert judge.policy_problem(grant(purpose="traffic"), policy, MONDAY_NOON).endswith(
        "missing_person)") and judge.policy_problem(grant(purpose="violent_crime"), policy, MONDAY_NOON) is None


def test_recorded_footage_needs_a_window_a_box_can_still_serve():
    bounds = dict(now=MONDAY_NOON, max_age_s=30 * 86400, max_length_s=7200)
    before = MONDAY_NOON - dt.timedelta(minutes=5)
    assert rules.window_problem("live", None, None, **bounds) is None
    assert rules.window_problem("playback", before, MONDAY_NOON, **bounds) is None
    for window in ((None, before), (before, None), (MONDAY_NOON, before), (before, before)):
        assert rules.window_problem("clip", *window, **bounds) == "playback and clip need window_from < window_to"
    ten_years = (MONDAY_NOON - dt.timedelta(days=3650), MONDAY_NOON)
    assert rules.window_problem("clip", *ten_years, **bounds) == "the footage window is longer than 7200 s"
    in_2100 = (dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc), dt.datetime(2100, 1, 1, 1, tzinfo=dt.timezone.utc))
    assert rules.window_problem("playback", *in_2100, **bounds) == "the footage window starts in the future"
    old = (MONDAY_NOON - dt.timedelta(days=31), MONDAY_NOON - dt.timedelta(days=31) + dt.timedelta(hours=1))
    assert "more than 30 days ago" in rules.window_problem("playback", *old, **bounds)


def grant(**overrides) -> c.Grant:
    fields = dict(grant_id=uuid.uuid4(), device_id="dev-aaaaaaaaaaaa", camera="front", mode="live", analyst="ana",
                  reason="a reason long enough", case_number="2026-1", not_before=MONDAY_NOON,
                  expires_at=MONDAY_NOON + dt.timedelta(minutes=10), policy_version=2, audit_index=0,
                  audit_entry="{}", audit_proof=[], audit_checkpoint="")
    fields.update(overrides)
    return c.Grant(**fields)


def document(policy: c.Policy = OPEN, version: int = 2) -> c.PolicyDocument:
    return c.PolicyDocument(device_id="dev-aaaaaaaaaaaa", camera="front", version=version, issued_at=MONDAY_NOON,
                            policy=policy)


def test_the_box_checks_whom_and_when_a_grant_is_for():
    mine = dict(device_id="dev-aaaaaaaaaaaa", cameras={"front"}, now=MONDAY_NOON + dt.timedelta(minutes=1))
    assert judge.grant_problem(grant(), **mine) is None
    assert judge.grant_problem(grant(device_id="dev-bbbbbbbbbbbb"), **mine).startswith("wrong device")
    assert judge.grant_problem(grant(camera="back"), **mine).startswith("wrong camera")
    assert judge.grant_problem(grant(not_before=MONDAY_NOON + dt.timedelta(minutes=2)), **mine) == \
        "grant not yet valid"
    assert judge.grant_problem(grant(expires_at=MONDAY_NOON), **mine) == "grant expired"


def test_the_box_checks_the_grant_against_its_own_copy_of_the_policy():
    now = MONDAY_NOON + dt.timedelta(minutes=1)
    assert judge.consent_problem(grant(), document(), now) is None
    assert judge.consent_problem(grant(), None, now) == "no consent policy for this camera: sharing is off"
    assert judge.consent_problem(grant(), document(c.Policy(sharing="off")), now) == "sharing is off for this camera"
    assert "policy version 2, the camera's is 3" in judge.consent_problem(grant(), document(version=3), now)
    assert judge.consent_problem(grant(mode="playback"), document(OPEN.model_copy(update={"modes": ["live"]})),
                                 now) == "mode playback is not allowed for this camera"
    too_long = grant(expires_at=MONDAY_NOON + dt.timedelta(seconds=961))
    assert judge.consent_problem(too_long, document(), now) == "grant lasts longer than the camera's maximum session"


def test_a_running_session_ends_on_pause_revocation_schedule_or_new_masks():
    now = MONDAY_NOON + dt.timedelta(minutes=1)
    square = [(0.1, 0.1), (0.2, 0.1), (0.2, 0.2)]
    masked = document(OPEN.model_copy(update={"privacy_masks": [square]}))
    assert judge.session_problem(grant(), document(), now, paused=False) is None
    assert judge.session_problem(grant(), document(), now, paused=True) == \
        "sharing paused on the appliance by its owner"
    assert judge.session_problem(grant(), None, now, paused=False) == "the owner stopped sharing this camera"
    assert judge.session_problem(grant(), masked, now, paused=False, masks=[]) == "the owner changed the privacy masks"
    assert judge.session_problem(grant(), masked, now, paused=False, masks=[square]) is None
    assert judge.session_problem(grant(), document(), MONDAY_NOON + dt.timedelta(hours=1), paused=False) == \
        "grant expired"
