"""Ground truth of the simulated cameras: which plate is in view when.

Pure and typed. A camera's clip loops forever; the loop frame shown at wall
time t is `int(t * fps) % n_frames` (the server starts each media at that
frame), so the passes in any wall-clock interval can be computed.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class Box:
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True, slots=True)
class PlatePass:
    """One vehicle crossing the view; the plate is fully visible from `first_frame` to `last_frame`."""

    plate: str
    first_frame: int
    last_frame: int
    first_box: Box
    last_box: Box

    def box_at(self, frame: int) -> Box:
        """The plate's box at a loop frame (linear motion between first and last)."""
        span = max(1, self.last_frame - self.first_frame)
        f = min(max(frame - self.first_frame, 0), span) / span
        a, b = self.first_box, self.last_box
        return Box(round(a.x + (b.x - a.x) * f), round(a.y + (b.y - a.y) * f), a.w, a.h)


@dataclass(frozen=True, slots=True)
class CameraTruth:
    camera: str
    fps: int
    n_frames: int
    width: int
    height: int
    passes: tuple[PlatePass, ...]

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> CameraTruth:
        passes = tuple(
            PlatePass(p["plate"], p["first_frame"], p["last_frame"], Box(**p["first_box"]), Box(**p["last_box"]))
            for p in data["passes"]
        )
        return cls(data["camera"], data["fps"], data["n_frames"], data["width"], data["height"], passes)


@dataclass(frozen=True, slots=True)
class WallPass:
    """A plate pass at wall-clock times (seconds since the epoch)."""

    plate: str
    t_first: float
    t_last: float


def passes_between(truth: CameraTruth, t_from: float, t_to: float) -> list[WallPass]:
    """Every pass whose visible interval overlaps [t_from, t_to), in time order."""
    loop_s = truth.n_frames / truth.fps
    found = []
    for plate_pass in truth.passes:
        first_s = plate_pass.first_frame / truth.fps
        last_s = (plate_pass.last_frame + 1) / truth.fps
        m_lo = math.floor((t_from - last_s) / loop_s)
        m_hi = math.ceil((t_to - first_s) / loop_s)
        for m in range(m_lo, m_hi + 1):
            start, end = m * loop_s + first_s, m * loop_s + last_s
            if start < t_to and end > t_from:
                found.append(WallPass(plate_pass.plate, start, end))
    return sorted(found, key=lambda p: p.t_first)


def dump_truths(truths: list[CameraTruth]) -> str:
    return json.dumps([t.to_json() for t in truths], indent=2)


def load_truths(text: str) -> list[CameraTruth]:
    return [CameraTruth.from_json(item) for item in json.loads(text)]


@dataclass(frozen=True, slots=True)
class SeenRead:
    """A plate read as the box stored it: its text and when the plate was first and last seen (epoch s)."""

    id: str
    text: str
    first_seen: float
    last_seen: float


def attribute_reads(passes: list[WallPass], reads: list[SeenRead], *,
                    tolerance_s: float) -> tuple[list[list[SeenRead]], list[SeenRead]]:
    """Each read given to the pass it is of: among the passes its time overlaps (each widened by `tolerance_s`,
    the stream's latency), the one with its text if there is one, else the one it overlaps longest. Returns
    the reads of each pass (in the order of `passes`) and the reads of no pass. Cars that follow each other
    with no gap overlap a read of either by the latency; longest overlap, not any overlap, decides."""
    given: list[list[SeenRead]] = [[] for _ in passes]
    unmatched = []
    for read in reads:
        overlaps = [(min(read.last_seen, p.t_last + tolerance_s) - max(read.first_seen, p.t_first - tolerance_s), i)
                    for i, p in enumerate(passes)]
        candidates = [(overlap, i) for overlap, i in overlaps if overlap > 0]
        if not candidates:
            unmatched.append(read)
            continue
        same_text = [(overlap, i) for overlap, i in candidates if passes[i].plate == read.text]
        _, index = max(same_text or candidates)
        given[index].append(read)
    return given, unmatched


def merge_repeats(passes: list[WallPass], within_s: float) -> list[WallPass]:
    """Passes in time order, a pass of the plate that just left (within `within_s`) merged into its pass: the
    box reads a plate seen again that soon as the same stay (`same_plate_window_s`), so the truth must too."""
    merged: list[WallPass] = []
    for p in passes:
        same = [i for i, m in enumerate(merged) if m.plate == p.plate and p.t_first - m.t_last <= within_s]
        if same:
            m = merged[same[-1]]
            merged[same[-1]] = WallPass(m.plate, m.t_first, max(m.t_last, p.t_last))
        else:
            merged.append(p)
    return merged
