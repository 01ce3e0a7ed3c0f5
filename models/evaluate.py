"""Score a plate reader on a labelled folder laid out like ../shared/data/alpr/<region>/.

Each `NAME.txt` holds one tab-separated line `filename x y w h PLATE`. A folder
whose sub-folders hold such files is evaluated as the union of them, each with
its sub-folder's name as the region (format rules need to know the country,
as a deployed box does). Time per image covers reading only (decode excluded).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge.alpr.base import AlprError, PlateRead, iou
from edge.alpr.images import read_image


@dataclass(frozen=True, slots=True)
class Label:
    image: Path
    box: tuple[int, int, int, int]
    plate: str
    region: str


@dataclass(slots=True)
class Scores:
    n: int = 0
    exact: int = 0
    within_one: int = 0
    detected: int = 0
    errors: int = 0
    millis: list[float] = field(default_factory=list)

    def add(self, label: Label, reads: list[PlateRead], text: str, ms: float) -> None:
        self.n += 1
        self.millis.append(ms)
        truth = normalise(label.plate)
        self.exact += text == truth
        self.within_one += edit_distance(text, truth) <= 1
        self.detected += any(iou(read.box, label.box) >= 0.3 for read in reads)

    def summary(self) -> dict[str, float | int]:
        millis = sorted(self.millis)
        return {
            "n": self.n,
            "exact": round(self.exact / self.n, 4) if self.n else 0.0,
            "within_one": round(self.within_one / self.n, 4) if self.n else 0.0,
            "detection_recall": round(self.detected / self.n, 4) if self.n else 0.0,
            "median_ms": round(statistics.median(millis), 2) if millis else 0.0,
            "p95_ms": round(millis[min(len(millis) - 1, int(0.95 * len(millis)))], 2) if millis else 0.0,
            "unreadable_images": self.errors,
        }


def normalise(plate: str) -> str:
    return plate.upper().replace(" ", "").replace("-", "")


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def labels(directory: Path) -> Iterator[Label]:
    """The labels of `directory`, or of each of its sub-folders (region = sub-folder name)."""
    own = sorted(directory.glob("*.txt"))
    if own:
        yield from (_label(path, directory.name) for path in own)
        return
    for sub in sorted(p for p in directory.iterdir() if p.is_dir()):
        yield from (_label(path, sub.name) for path in sorted(sub.glob("*.txt")))


def _label(path: Path, region: str) -> Label:
    fields = path.read_text().strip().split("\t")
    if len(fields) != 6:
        raise AlprError(f"{path}: expected 'filename x y w h PLATE' tab-separated, got {len(fields)} fields")
    name, x, y, w, h, plate = fields
    return Label(path.with_name(name), (int(x), int(y), int(w), int(h)), plate, region)


Reader = Callable[[np.ndarray, str], tuple[list[PlateRead], str]]


def evaluate(directory: Path, read: Reader, *, clock: Callable[[], float] = time.perf_counter) -> dict:
    """Run `read(image, region) -> (reads, text)` over every labelled image; the JSON-ready scores."""
    total, by_region = Scores(), {}
    for label in labels(directory):
        region_scores = by_region.setdefault(label.region, Scores())
        try:
            image = read_image(label.image)
        except AlprError:
            total.errors += 1
            region_scores.errors += 1
            continue
        started = clock()
        reads, text = read(image, label.region)
        ms = (clock() - started) * 1000
        for scores in (total, region_scores):
            scores.add(label, reads, text, ms)
    result = total.summary()
    if len(by_region) > 1:
        result["regions"] = {region: scores.summary() for region, scores in sorted(by_region.items())}
    return result
