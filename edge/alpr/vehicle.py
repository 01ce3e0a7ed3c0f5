"""Which tracked texts are on one vehicle: text that moves with a plate (a badge, a dealer's name, a phone
number painted on a van) keeps its offset from the plate, in plate widths, and its size ratio to it while the
vehicle approaches or crosses the view; another vehicle at another distance or speed does not for long, and
standing still any two plates keep their offset (two cars parked side by side), so only motion is evidence.
A vehicle shows one plate at the end facing the camera: of such texts only the most plate-like is a pass
(`edge.alpr.tracker`). Pure functions over plain data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.alpr.base import Box

MIN_SHARED_FRAMES = 3  # frames two tracks must share for their motion to be compared
MIN_MOTION = 0.25  # least change of a plate's width (as a share) or of its place (in its widths) that is motion
RIGID_OFFSET = 0.3  # plate widths (plus RIGID_OFFSET_SHARE of the offset) two places on one vehicle may wander
RIGID_OFFSET_SHARE = 0.1
RIGID_SIZE_RATIO = 1.5  # how far the two sizes' ratio may wander (detector boxes jitter by a tenth or so)


@dataclass(frozen=True, slots=True)
class Trail:
    """Where a track's plate was in each frame it was read, and how plate-like the detector found it."""

    times: tuple[float, ...]
    boxes: tuple[Box, ...]
    plate_likeness: float
    text: str  # canonical
    last_seen: float


def co_moving(a: Trail, b: Trail) -> bool:
    """Whether two tracks moved as one body: in the frames both were read (at least `MIN_SHARED_FRAMES`), the
    first moved (its width changed by `MIN_MOTION` or it travelled that many of its widths), and the second
    kept its offset from it, measured in the first's widths, and its size ratio to it. Parts of one vehicle
    approaching or crossing keep both; another vehicle at another distance or speed does not for long."""
    where_b = dict(zip(b.times, b.boxes, strict=True))
    shared = [(box, where_b[t]) for t, box in zip(a.times, a.boxes, strict=True) if t in where_b]
    if len(shared) < MIN_SHARED_FRAMES:
        return False
    widths = np.array([max(1, box_a[2]) for box_a, _ in shared], dtype=float)
    centres_a = np.array([(x + w / 2, y + h / 2) for (x, y, w, h), _ in shared])
    centres_b = np.array([(x + w / 2, y + h / 2) for _, (x, y, w, h) in shared])
    travelled = np.linalg.norm(centres_a - centres_a[0], axis=1).max() / widths.min()
    if widths.max() / widths.min() < 1 + MIN_MOTION and travelled < MIN_MOTION:
        return False  # standing still: two parked cars keep their offset too
    offsets = (centres_b - centres_a) / widths[:, None]
    typical = np.median(offsets, axis=0)
    wander = np.linalg.norm(offsets - typical, axis=1).max()
    ratios = np.array([max(1, box_b[2]) for _, box_b in shared]) / widths
    return bool(wander <= RIGID_OFFSET + RIGID_OFFSET_SHARE * np.linalg.norm(typical)
                and ratios.max() / ratios.min() <= RIGID_SIZE_RATIO)
