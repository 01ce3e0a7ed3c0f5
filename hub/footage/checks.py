"""The footage-request rules as plain functions over plain data."""

from __future__ import annotations

import datetime as dt

FUTURE_SKEW_S = 60  # clocks differ: a window may end this far after the hub's now


def clip_window_problem(window_from: dt.datetime, window_to: dt.datetime, *, now: dt.datetime, max_age_s: int,
                        max_length_s: int) -> str | None:
    """What is wrong with a requested footage window, or None: it must start before it ends, be at most
    `max_length_s` long, not reach into the future and start within what a box keeps (`max_age_s`)."""
    if window_to <= window_from:
        return "the window must end after it starts"
    if (window_to - window_from).total_seconds() > max_length_s:
        return f"the window is longer than the {max_length_s} s allowed per camera"
    if window_to > now + dt.timedelta(seconds=FUTURE_SKEW_S):
        return "the window reaches into the future: footage can be asked for once it is recorded"
    if (now - window_from).total_seconds() > max_age_s:
        return f"the window starts more than {max_age_s // 86400} days ago: no appliance keeps it"
    return None


def trim_problem(requested: tuple[dt.datetime, dt.datetime], approved: tuple[dt.datetime, dt.datetime]) -> str | None:
    """An owner may approve the requested window or a part of it, never more."""
    if approved[1] <= approved[0]:
        return "the approved window must end after it starts"
    if approved[0] < requested[0] or approved[1] > requested[1]:
        return "the approved window must lie inside the requested one"
    return None
