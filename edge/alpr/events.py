"""Plate events, and what of them may leave the box.

The plate reader hands every stored read, with its hot-list hit if any (a
high-priority event), to its `on_event` callback: the agent's, which sends
the hub what the camera owner's `plate_sharing` allows — none, hits_only
(hot-list hits only) or all. `may_leave_box` is that rule, and `hub_message`
the `PlateRead` the hub gets — with the read's thumbnail when it has one no
larger than the wire allows: the thumbnail leaves the box only with its read.

Light to import (the types of reads and matches are for annotations only):
the agent imports it whether or not it reads plates.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from wire import messages as wire

if TYPE_CHECKING:  # edge.alpr.reads loads OpenCV and numpy
    from edge.alpr.matching import HotListMatch
    from edge.alpr.reads import StoredRead

logger = logging.getLogger(__name__)

PlateSharing = Literal["none", "hits_only", "all"]


@dataclass(frozen=True, slots=True)
class PlateEvent:
    read: StoredRead
    hit: HotListMatch | None

    @property
    def priority(self) -> Literal["high", "normal"]:
        return "high" if self.hit is not None else "normal"


def may_leave_box(event: PlateEvent, sharing: PlateSharing) -> bool:
    return sharing == "all" or (sharing == "hits_only" and event.hit is not None)


def hub_message(event: PlateEvent, sharing: PlateSharing) -> wire.PlateRead | None:
    """The read as the hub gets it (with its hot-list hit and thumbnail), or None if `sharing` keeps it on the
    box."""
    if not may_leave_box(event, sharing):
        return None
    hit = None
    if event.hit is not None:
        hit = wire.HotListHit(list_name=event.hit.entry.list_name, entry_plate=event.hit.entry.plate,
                              reason=event.hit.entry.reason)
    read = event.read
    return wire.PlateRead(camera=read.camera, plate=read.plate, confidence=min(1.0, read.confidence),
                          first_seen=_utc(read.first_seen_us), last_seen=_utc(read.last_seen_us), hit=hit,
                          thumbnail_jpeg=thumbnail_for_hub(read.thumbnail))


def thumbnail_for_hub(path: Path | None) -> str | None:
    """The thumbnail at `path` as the wire carries it, or None: no file, or larger than the wire allows (the read
    then goes without it)."""
    if path is None:
        return None
    try:
        with open(path, "rb") as file:
            data = file.read(wire.MAX_THUMBNAIL_BYTES + 1)
    except OSError as exc:
        logger.warning("thumbnail %s not sent: %s", path, exc)
        return None
    if len(data) > wire.MAX_THUMBNAIL_BYTES or not data.startswith(b"\xff\xd8\xff"):
        logger.info("thumbnail %s not sent: not a JPEG of at most %d bytes", path, wire.MAX_THUMBNAIL_BYTES)
        return None
    return wire.PlateRead.encode_thumbnail(data)


def _utc(us: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(us / 1_000_000, dt.UTC)
