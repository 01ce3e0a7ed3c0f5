"""The fast backend: HyperLPR3 y5fu corner detector, perspective rectification, fast-plate-ocr.

Detector: the frame letterboxed into a square (top-left, zero padding), RGB/255;
each output row is cx, cy, w, h, objectness, the plate's four corners and two
class scores. Rows above the score threshold go through NMS. Each kept plate
is warped from its four corners to the OCR's 128x64 input (rectification: a
plate seen at an angle is read as if seen square-on), and all plates of a frame
are read in one OCR batch. The OCR has 9 fixed slots over 0-9A-Z and '_'
(padding); every slot keeps its probabilities for voting and format rules.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.alpr.base import ALPHABET, CharGuess, PlateRead, iou
from edge.alpr.onnx import open_session

OCR_ALPHABET = ALPHABET + "_"
OCR_WIDTH, OCR_HEIGHT = 128, 64


class CornerDetector:
    """HyperLPR3 y5fu: plate boxes with four corners."""

    def __init__(self, model: bytes, *, score_threshold: float = 0.25, nms_iou: float = 0.5) -> None:
        self.session = open_session(model)
        self.input_name = self.session.get_inputs()[0].name
        self.size = int(self.session.get_inputs()[0].shape[2])
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou

    def detect(self, image: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """(corners (4, 2) float32 clockwise from top-left, score) per plate, best first."""
        tensor, scale = self._letterbox(image)
        rows = self.session.run(None, {self.input_name: tensor})[0][0]
        scores = rows[:, 4] * rows[:, 13:15].max(axis=1)
        keep = np.flatnonzero(scores >= self.score_threshold)
        if keep.size == 0:
            return []
        rows, scores = rows[keep], scores[keep]
        boxes = np.stack([rows[:, 0] - rows[:, 2] / 2, rows[:, 1] - rows[:, 3] / 2, rows[:, 2], rows[:, 3]], axis=1)
        chosen = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), self.score_threshold, self.nms_iou)
        found = []
        for i in np.asarray(chosen).reshape(-1):
            corners = (rows[i, 5:13].reshape(4, 2) / scale).astype(np.float32)
            found.append((corners, float(scores[i])))
        return found

    def _letterbox(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        height, width = image.shape[:2]
        scale = self.size / max(height, width)
        resized = shrink(image, max(1, round(width * scale)), max(1, round(height * scale)))
        canvas = np.zeros((self.size, self.size, 3), np.uint8)
        canvas[: resized.shape[0], : resized.shape[1]] = resized
        tensor = cv2.dnn.blobFromImage(canvas, 1 / 255.0, swapRB=True)
        return tensor, scale


def shrink(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """`image` resized to width x height, antialiased when shrinking.

    Area averaging straight from a 1-3 MP photo costs 4-17 ms on this box; bilinear to twice the target and
    then area averaging by exactly two costs about 1 ms and keeps the detector's accuracy (plain bilinear,
    which aliases, lost some plates)."""
    if width * 2 >= image.shape[1] or height * 2 >= image.shape[0]:
        return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    double = cv2.resize(image, (width * 2, height * 2), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(double, (width, height), interpolation=cv2.INTER_AREA)


def rectify(image: np.ndarray, corners: np.ndarray, *, size: tuple[int, int] = (OCR_WIDTH, OCR_HEIGHT),
            margin: float = 0.15) -> np.ndarray:
    """The plate warped from its four corners to `size`, with `margin` (a fraction of the plate's size) around it.

    The OCR was trained on plate crops with some border around the characters; a crop cut exactly at the
    detector's corners clips characters whenever a corner is a few pixels inside."""
    width, height = size
    centre = corners.mean(axis=0)
    source = (centre + (corners - centre) * (1 + margin)).astype(np.float32)
    target = np.float32([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]])
    transform = cv2.getPerspectiveTransform(source, target)
    return cv2.warpPerspective(image, transform, (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)


def decode_slots(probs: np.ndarray) -> tuple[CharGuess, ...]:
    """Fixed-slot OCR output [9, 37] → the characters, padding slots dropped.

    Each character keeps its probabilities over `ALPHABET` (padding removed, renormalised)."""
    guesses = []
    pad = len(OCR_ALPHABET) - 1
    for slot in probs:
        best = int(slot.argmax())
        if best == pad:
            continue
        alnum = slot[:pad]
        total = float(alnum.sum()) or 1.0
        guesses.append(CharGuess(OCR_ALPHABET[best], float(slot[best]), tuple((alnum / total).tolist())))
    return tuple(guesses)


class SlotOcr:
    """fast-plate-ocr cct-xs-v1-global: uint8 RGB [B, 64, 128, 3] → [B, 9, 37]."""

    def __init__(self, model: bytes) -> None:
        self.session = open_session(model)
        self.input_name = self.session.get_inputs()[0].name

    def read(self, crops: list[np.ndarray], *, views: int = 1) -> list[tuple[CharGuess, ...]]:
        """The characters of each plate; with `views` > 1, `crops` holds that many views of each plate in a row
        and their slot probabilities are averaged."""
        if not crops:
            return []
        batch = np.stack([cv2.cvtColor(_fit(crop), cv2.COLOR_BGR2RGB) for crop in crops])
        probs = self.session.run(None, {self.input_name: batch})[0]
        probs = probs.reshape(-1, views, *probs.shape[1:]).mean(axis=1)
        return [decode_slots(p) for p in probs]


def _fit(crop: np.ndarray) -> np.ndarray:
    if crop.shape[:2] == (OCR_HEIGHT, OCR_WIDTH):
        return crop
    return cv2.resize(crop, (OCR_WIDTH, OCR_HEIGHT), interpolation=cv2.INTER_LINEAR)


class FastBackend:
    """Corner detector → rectified crops → slot OCR, best plate first.

    Up to `max_plates` detections are read (one OCR batch, `margins` views each, averaged); they are ranked by
    detection score times the weakest character's confidence, so a sign or a sticker the detector liked loses
    to a plate the OCR can read (for video, `every_plate`: all of them are kept). With `fallback_detector_model`
    (the 640 model), an image whose best read scores below `second_look_below` (nothing found, or less than even
    odds) gets a second look at 640: small, far plates. Only images whose longer side is at least
    `fallback_min_side` get it: video sets it to four times the small detector's input, so the 640 model runs
    only where the 320 one shrinks a frame (or the region that moved) fourfold or more and a distant plate
    shrinks below what it finds; smaller motion regions, most of which hold no plate, never pay for it; nor do
    still frames analysed while a plate is tracked (`look_harder=False`: the car that left, or stands still).
    """

    name = "fast"
    plate_detector = True

    def __init__(self, detector_model: bytes, ocr_model: bytes, *, fallback_detector_model: bytes | None = None,
                 max_plates: int = 2, margins: tuple[float, ...] = (0.10, 0.20),
                 second_look_below: float = 0.5, every_plate: bool = False, fallback_min_side: int = 0) -> None:
        self.detector = CornerDetector(detector_model)
        self.fallback = CornerDetector(fallback_detector_model) if fallback_detector_model else None
        self.ocr = SlotOcr(ocr_model)
        self.max_plates = max_plates
        self.margins = margins
        self.second_look_below = second_look_below
        self.every_plate = every_plate
        self.fallback_min_side = fallback_min_side

    def read(self, image: np.ndarray, *, look_harder: bool = True) -> list[PlateRead]:
        reads = self._read_with(self.detector, image)
        if not look_harder or self.fallback is None or max(image.shape[:2]) < self.fallback_min_side:
            return reads
        if not reads or _score(reads[0]) < self.second_look_below:
            reads = _distinct(sorted(reads + self._read_with(self.fallback, image), key=_score, reverse=True))
        return reads

    def _read_with(self, detector: CornerDetector, image: np.ndarray) -> list[PlateRead]:
        """The best detection is read first; the next ones only if it scores below `second_look_below`
        (a photo of one vehicle), or always with `every_plate` (video: several vehicles in view)."""
        found = detector.detect(image)[: self.max_plates]
        if self.every_plate:
            return sorted(self._ocr(image, found), key=_score, reverse=True)
        first = self._ocr(image, found[:1])
        if first and _score(first[0]) >= self.second_look_below:
            return first
        return sorted(first + self._ocr(image, found[1:]), key=_score, reverse=True)

    def _ocr(self, image: np.ndarray, found: list[tuple[np.ndarray, float]]) -> list[PlateRead]:
        if not found:
            return []
        views = [rectify(image, corners, margin=margin) for corners, _ in found for margin in self.margins]
        texts = self.ocr.read(views, views=len(self.margins))
        crops = views[:: len(self.margins)]
        return [
            PlateRead(corners=corners, box=_bounding_box(corners, image.shape), detection_confidence=score,
                      chars=chars, crop=crop)
            for (corners, score), crop, chars in zip(found, crops, texts, strict=True)
        ]


def _distinct(reads: list[PlateRead], overlap: float = 0.3) -> list[PlateRead]:
    """`reads` (best first) without those of a plate already in the list: both detectors found it."""
    kept: list[PlateRead] = []
    for read in reads:
        if all(iou(read.box, other.box) < overlap for other in kept):
            kept.append(read)
    return kept


def _score(read: PlateRead) -> float:
    return read.detection_confidence * read.confidence


def _bounding_box(corners: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    height, width = shape[:2]
    x0, y0 = np.floor(corners.min(axis=0)).astype(int)
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int)
    x0, y0 = max(0, int(x0)), max(0, int(y0))
    x1, y1 = min(width, int(x1)), min(height, int(y1))
    return x0, y0, max(0, x1 - x0), max(0, y1 - y0)
