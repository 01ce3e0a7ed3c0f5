"""The hub's own access checks as plain functions (the appliance repeats the consent ones against its own copy
of the policy regardless)."""

from __future__ import annotations

import datetime as dt

from hub.tables import Role, User
from wire import consent as c


def policy_refusal(policy: c.Policy | None, mode: c.AccessMode, duration_s: int, now: dt.datetime,
                   purpose: str | None = None) -> str | None:
    """Why the camera's consent in force (`policy`, None if never set) refuses `mode` for `duration_s` now, for
    `purpose`."""
    if policy is None or policy.sharing == "off":
        return "the owner does not share this camera"
    if mode not in policy.modes:
        return f"the owner does not allow {mode} for this camera"
    if policy.sharing == "request_only" and mode == "live":
        return "this camera shares recorded footage on request only, never live"
    if problem := policy.purpose_problem(mode, purpose):
        return problem
    if not policy.in_schedule(now):
        return "outside the camera's allowed schedule"
    if duration_s > policy.max_session_s:
        return f"longer than the camera's maximum session of {policy.max_session_s} s"
    return None


def window_problem(mode: c.AccessMode, window_from: dt.datetime | None, window_to: dt.datetime | None, *,
                   now: dt.datetime, max_age_s: int, max_length_s: int) -> str | None:
    """Recorded footage (playback, clip) needs a window that starts before it ends, no longer than
    `max_length_s`, starting in what a box can still hold (the last `max_age_s`) and not in the future."""
    if mode == "live":
        return None
    if window_from is None or window_to is None or window_to <= window_from:
        return "playback and clip need window_from < window_to"
    if (window_to - window_from).total_seconds() > max_length_s:
        return f"the footage window is longer than {max_length_s} s"
    if window_from > now:
        return "the footage window starts in the future"
    if (now - window_from).total_seconds() > max_age_s:
        return f"the footage window starts more than {max_age_s // 86400} days ago: no appliance keeps it"
    return None


def sees_business(user: User, business_id: int) -> bool:
    """Owners see their own business only; the other roles see every business."""
    return user.role != Role.OWNER or user.business_id == business_id


def changes_business(user: User) -> bool:
    """Who may change a business it sees (its consent, its requests' decisions): its owner, or an admin."""
    return user.role in (Role.ADMIN, Role.OWNER)
