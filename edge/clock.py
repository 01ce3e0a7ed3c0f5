"""Is the box's clock synchronised? Footage is requested by time, so it matters.

Asks the kernel (adjtimex, as timedatectl's NTPSynchronized does): an
unsynchronised clock is an alarm. Works in containers without systemd.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass

TIME_ERROR = 5  # adjtimex() return value: clock not synchronised (STA_UNSYNC)
_TIMEX_SIZE = 512  # larger than struct timex on every Linux ABI


@dataclass(frozen=True, slots=True)
class ClockStatus:
    synchronised: bool | None  # None: could not be determined
    detail: str


def clock_status() -> ClockStatus:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        buffer = ctypes.create_string_buffer(_TIMEX_SIZE)  # modes = 0: read only, no privilege needed
        state = libc.adjtimex(buffer)
    except (OSError, AttributeError) as exc:
        return ClockStatus(None, f"adjtimex unavailable: {exc}")
    if state < 0:
        return ClockStatus(None, f"adjtimex failed (errno {ctypes.get_errno()})")
    if state == TIME_ERROR:
        return ClockStatus(False, "kernel reports the clock unsynchronised (no NTP/chrony sync)")
    return ClockStatus(True, "kernel reports the clock synchronised")
