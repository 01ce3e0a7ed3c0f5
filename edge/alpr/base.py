"""The plate backend interface and the plain data passed between ALPR parts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from edge.errors import EdgeError

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

Box = tuple[int, int, int, int]  # x, y, width, height in pixels


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two axis-aligned boxes."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(0, w) * max(0, h)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


class AlprError(EdgeError):
    """Base of every error the plate reader raises on purpose."""


class ImageError(AlprError):
    """An image could not be read: corrupt, empty, not an image, or too large to analyse."""


class ModelError(AlprError):
    """A model file is missing, has the wrong SHA-256, or is not the model the manifest describes."""


@dataclass(frozen=True, slots=True)
class CharGuess:
    """One character of a read: the best symbol and the probability of every symbol in `ALPHABET`.

    `probs` may be None when a backend only knows the best symbol's confidence."""

    char: str
    confidence: float
    probs: tuple[float, ...] | None = None


@dataclass(frozen=True, slots=True)
class PlateRead:
    """One plate found in one image.

    `corners` are the plate's four corners in image pixels, clockwise from top-left
    (float32, shape (4, 2)); `box` is the axis-aligned box around them (x, y, w, h);
    `crop` the rectified plate (BGR) that was read; `context` the part of the frame around the plate (video:
    kept for a second look at the best frames of a pass) and `context_corners` the plate's corners in it."""

    corners: np.ndarray
    box: tuple[int, int, int, int]
    detection_confidence: float
    chars: tuple[CharGuess, ...]
    crop: np.ndarray | None = None
    context: np.ndarray | None = None
    context_corners: np.ndarray | None = None

    @property
    def text(self) -> str:
        return "".join(c.char for c in self.chars)

    @property
    def confidence(self) -> float:
        """The weakest character's confidence (a read is as good as its worst character)."""
        return min((c.confidence for c in self.chars), default=0.0)


class PlateBackend(Protocol):
    """Finds and reads plates in a BGR image. Not thread-safe: one instance per worker thread."""

    name: str
    # Whether `PlateRead.detection_confidence` is a plate detector's (how plate-like the found thing is), not a
    # text detector's (how text-like): the tracker tells a plate from text on its vehicle by it only then.
    plate_detector: bool

    def read(self, image: np.ndarray, *, look_harder: bool = True) -> list[PlateRead]:
        """Every plate found in `image` (H x W x 3 uint8 BGR), best detection first. `look_harder=False`: no
        second, costlier pass when nothing is found (a still frame while a plate is tracked)."""
        ...
