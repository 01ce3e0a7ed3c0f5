"""The offline backend: PP-OCRv4 text detection and recognition with our own pre- and post-processing.

The two models ship inside the rapidocr-onnxruntime wheel; only their ONNX
files are used (the wheel's code needs pyclipper and shapely, which the box
does not have). Per image:

1. Detection (DB). The image is shrunk so its long side is at most
   `det_limit` (sides rounded to multiples of 32), normalised as PaddleOCR does
   ((x/255 - 0.5) / 0.5 on BGR) and run through the detector. Its probability
   map is thresholded; each contour becomes a minimum-area rectangle, scored by
   the mean probability inside it and grown on every side by
   area * unclip_ratio / perimeter (what DB's polygon offset does to a rectangle).
   The detector's cost grows with the pixels it sees and is most of the
   backend's time, but it only finds text a dozen or more pixels high, so small
   plates need the larger sizes: on the 216 labelled photos 640 read 0.63
   exactly, 800 (the default) 0.70, 960 0.70 with more reads within one
   character, at about 1 : 1.9 : 2.5 times the time.
2. Candidates. Text lines tall enough and shaped like a plate's line of
   characters are kept, best detection score first, and each is cut out of the
   full-resolution image with a perspective warp (turned upright if it stands).
3. Recognition. Crops are scaled to 48 px high (width by aspect) and
   recognised by the CTC recogniser, crops of similar width in one batch so
   that little of a batch is padding. Its classes are the model's `character`
   metadata lines, preceded by the CTC blank and followed by a space.
4. Decoding (`ctc_decode`). Restricted to 0-9A-Z: lower case is folded into
   upper case and every other class counts as "no character here".
5. Ranking. Reads of 4-8 characters with at least one digit are kept and
   ordered by a plate-likeness score (detection score, character confidence,
   length, letter/digit mix, dark characters on a light ground); a read inside
   a better one's box is dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from edge.alpr.base import ALPHABET, CharGuess, ImageError, ModelError, PlateRead
from edge.alpr.onnx import open_session

REC_HEIGHT = 48
PLATE_MARGIN = 0.10  # of the plate's size around its corners (second opinion): a corner inside clips nothing
BLANK = 0

RotatedRect = tuple[tuple[float, float], tuple[float, float], float]  # cv2.minAreaRect: centre, size, angle


@dataclass(frozen=True, slots=True)
class OfflineSettings:
    """Tuning of the offline backend; the defaults were measured on the 216 labelled plate photos."""

    det_limit: int = 800  # long side given to the detector; smaller is faster but misses small plates
    det_threshold: float = 0.3  # DB probability that counts as text
    box_threshold: float = 0.5  # least mean probability inside a text box
    unclip_ratio: float = 1.5  # how far a DB box is grown back to the text's extent
    min_text_height: float = 8.0  # image pixels; shorter lines cannot be read
    min_aspect: float = 1.5  # a plate's line of 4-8 characters is well wider than tall ...
    max_aspect: float = 8.0  # ... but not a sentence
    max_candidates: int = 4  # text lines recognised per image, best detection score first


@dataclass(frozen=True, slots=True)
class TextBox:
    """A detected text line: four corners in image pixels (clockwise from top-left) and its DB score."""

    corners: np.ndarray
    score: float

    @property
    def width(self) -> float:
        return float(np.linalg.norm(self.corners[1] - self.corners[0]))

    @property
    def height(self) -> float:
        return float(np.linalg.norm(self.corners[3] - self.corners[0]))


# ---------------------------------------------------------------- CTC decoding (pure)


def load_dictionary(metadata: dict[str, str], classes: int) -> list[str]:
    """The recogniser's class labels: blank, the metadata's `character` lines, then a space."""
    if "character" not in metadata:
        raise ModelError("recognition model has no 'character' metadata (not a PP-OCR recogniser?)")
    labels = ["<blank>", *metadata["character"].split("\n"), " "]
    if len(labels) != classes:
        raise ModelError(f"dictionary has {len(labels)} classes with blank and space, the model outputs {classes}")
    return labels


def alphabet_index(labels: list[str]) -> np.ndarray:
    """For every class, its position in `ALPHABET` (lower case folded to upper case), or -1 if ignored."""
    index = np.full(len(labels), -1, np.int64)
    for position, label in enumerate(labels):
        if position != BLANK and label.isascii() and label.upper() in ALPHABET and len(label) == 1:
            index[position] = ALPHABET.index(label.upper())
    return index


def fold_alphabet(probs: np.ndarray, allowed_index: np.ndarray) -> np.ndarray:
    """[T, C] class probabilities → [T, 1 + 36]: "no character" (blank and every ignored class), then ALPHABET."""
    keep = np.flatnonzero(allowed_index >= 0)
    folded = np.zeros((probs.shape[0], 1 + len(ALPHABET)), np.float64)
    np.add.at(folded.T, allowed_index[keep] + 1, probs[:, keep].T)
    folded[:, 0] = np.clip(1.0 - folded[:, 1:].sum(axis=1), 0.0, 1.0)
    return folded


def ctc_decode(probs: np.ndarray, allowed_index: np.ndarray) -> tuple[CharGuess, ...]:
    """Greedy CTC decoding of one [T, C] softmax, restricted to `ALPHABET`.

    Per timestep the best of {no character, each ALPHABET symbol} wins; repeats
    collapse and "no character" separates. A character's confidence is the
    highest probability it reaches over its timesteps: CTC usually fires a
    symbol on one or two frames and shares the frames at its edges with the
    blank, so a mean would penalise where the run starts and ends rather than
    doubt about which symbol it is. `probs` are the symbol's timestep's
    probabilities over ALPHABET, renormalised without the blank."""
    folded = fold_alphabet(probs, allowed_index)
    best = folded.argmax(axis=1)
    guesses: list[CharGuess] = []
    start = 0
    for t in range(1, len(best) + 1):
        if t < len(best) and best[t] == best[start]:
            continue
        if best[start] != BLANK:
            guesses.append(_guess(folded[start:t], int(best[start])))
        start = t
    return tuple(guesses)


def _guess(run: np.ndarray, symbol: int) -> CharGuess:
    peak = run[int(run[:, symbol].argmax())]
    symbols = peak[1:]
    total = float(symbols.sum()) or 1.0
    return CharGuess(ALPHABET[symbol - 1], float(peak[symbol]), tuple((symbols / total).tolist()))


# ---------------------------------------------------------------- detection (DB)


def detection_input(image: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """The detector's [1, 3, H, W] input and the (x, y) scale from its pixels back to the image's."""
    height, width = image.shape[:2]
    scale = min(1.0, limit / max(height, width))
    size_w = max(32, round(width * scale / 32) * 32)
    size_h = max(32, round(height * scale / 32) * 32)
    resized = cv2.resize(image, (size_w, size_h), interpolation=cv2.INTER_LINEAR)
    return _normalised(resized)[np.newaxis], np.array([width / size_w, height / size_h], np.float32)


def _normalised(image: np.ndarray) -> np.ndarray:
    """BGR uint8 H x W x 3 → float32 3 x H x W in [-1, 1] ((x/255 - 0.5) / 0.5), PaddleOCR's normalisation."""
    return cv2.dnn.blobFromImage(image, 1 / 127.5, mean=(127.5, 127.5, 127.5))[0]


def boxes_from_map(prob: np.ndarray, settings: OfflineSettings) -> list[TextBox]:
    """Text boxes (in the map's pixels) from DB's [H, W] probability map."""
    mask = cv2.dilate((prob > settings.det_threshold).astype(np.uint8), np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    boxes = []
    for contour in contours:
        rect = cv2.minAreaRect(contour)
        if min(rect[1]) < 3:
            continue
        score = box_score(prob, cv2.boxPoints(rect))
        if score < settings.box_threshold:
            continue
        grown = unclip(rect, settings.unclip_ratio)
        boxes.append(TextBox(order_corners(cv2.boxPoints(grown)), score))
    return boxes


def box_score(prob: np.ndarray, corners: np.ndarray) -> float:
    """Mean probability inside the polygon `corners`."""
    height, width = prob.shape
    x0, y0 = np.clip(np.floor(corners.min(axis=0)).astype(int), 0, [width - 1, height - 1])
    x1, y1 = np.clip(np.ceil(corners.max(axis=0)).astype(int), 0, [width - 1, height - 1])
    mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
    cv2.fillPoly(mask, [np.round(corners - [x0, y0]).astype(np.int32)], 1)
    return float(cv2.mean(prob[y0:y1 + 1, x0:x1 + 1], mask)[0])


def unclip(rect: RotatedRect, ratio: float) -> RotatedRect:
    """The rotated rectangle grown by area * ratio / perimeter on every side."""
    (cx, cy), (w, h), angle = rect
    distance = w * h * ratio / (2 * (w + h))
    return (cx, cy), (w + 2 * distance, h + 2 * distance), angle


def order_corners(points: np.ndarray) -> np.ndarray:
    """Four points ordered clockwise from top-left (float32, (4, 2))."""
    by_x = points[np.argsort(points[:, 0], kind="stable")]
    left = by_x[:2][np.argsort(by_x[:2, 1], kind="stable")]
    right = by_x[2:][np.argsort(by_x[2:, 1], kind="stable")]
    return np.array([left[0], right[0], right[1], left[1]], np.float32)


def to_image(box: TextBox, scale: np.ndarray, shape: tuple[int, ...]) -> TextBox:
    """A box from the detector's pixels to the image's, clipped to the image."""
    height, width = shape[:2]
    corners = np.clip(box.corners * scale, 0, [width - 1, height - 1]).astype(np.float32)
    return TextBox(corners, box.score)


# ---------------------------------------------------------------- candidates


def plausible(box: TextBox, settings: OfflineSettings) -> bool:
    """A box that could hold a plate's characters: tall enough, wider than tall, not a paragraph."""
    short, long = sorted((box.width, box.height))
    return short >= settings.min_text_height and settings.min_aspect <= long / short <= settings.max_aspect


def candidates(boxes: list[TextBox], settings: OfflineSettings) -> list[TextBox]:
    """The boxes worth reading, best detection first, at most `max_candidates`."""
    kept = [box for box in boxes if plausible(box, settings)]
    kept.sort(key=lambda box: box.score, reverse=True)
    return kept[: settings.max_candidates]


def crop(image: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """The quadrilateral `corners` warped to a rectangle of its own size; a standing one is turned
    a quarter anticlockwise (PaddleOCR's convention), so the crop is always wider than tall."""
    width = max(np.linalg.norm(corners[1] - corners[0]), np.linalg.norm(corners[2] - corners[3]))
    height = max(np.linalg.norm(corners[3] - corners[0]), np.linalg.norm(corners[2] - corners[1]))
    if height > width:
        corners, width, height = np.roll(corners, -1, axis=0), height, width
    out_w, out_h = max(2, round(width)), max(2, round(height))
    target = np.float32([[0, 0], [out_w, 0], [out_w, out_h], [0, out_h]])
    transform = cv2.getPerspectiveTransform(corners.astype(np.float32), target)
    return cv2.warpPerspective(image, transform, (out_w, out_h), flags=cv2.INTER_CUBIC,
                               borderMode=cv2.BORDER_REPLICATE)


# ---------------------------------------------------------------- recognition


def recognition_input(crops: list[np.ndarray]) -> np.ndarray:
    """[B, 3, 48, W] batch: each crop 48 px high, width by aspect, zero-padded on the right to the widest."""
    widths = [max(REC_HEIGHT // 2, math.ceil(REC_HEIGHT * c.shape[1] / c.shape[0])) for c in crops]
    batch = np.zeros((len(crops), 3, REC_HEIGHT, max(widths)), np.float32)
    for i, (image, width) in enumerate(zip(crops, widths, strict=True)):
        shrink = image.shape[0] > REC_HEIGHT
        resized = cv2.resize(image, (width, REC_HEIGHT), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        batch[i, :, :, :width] = _normalised(resized)
    return batch


def width_groups(aspects: list[float], *, spread: float = 1.25) -> list[list[int]]:
    """Indices grouped so that within a group the widest crop is at most `spread` times the narrowest."""
    groups: list[list[int]] = []
    for i in sorted(range(len(aspects)), key=aspects.__getitem__):
        if groups and aspects[i] <= spread * aspects[groups[-1][0]]:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


# ---------------------------------------------------------------- ranking (pure)


def looks_like_plate(chars: tuple[CharGuess, ...]) -> bool:
    """4-8 characters with at least one digit."""
    text = "".join(c.char for c in chars)
    return 4 <= len(text) <= 8 and any(c.isdigit() for c in text)


def plate_score(detection: float, chars: tuple[CharGuess, ...], *, dark_text: bool) -> float:
    """How plate-like a read is: detection and character confidence, plus length, letter/digit mix and
    dark characters on a light ground (most plates; overlaid timestamps and watermarks are light)."""
    text = "".join(c.char for c in chars)
    mean_confidence = sum(c.confidence for c in chars) / max(1, len(chars))
    score = detection + mean_confidence
    score += 0.5 if 5 <= len(text) <= 8 else 0.0
    score += 0.3 if any(c.isalpha() for c in text) and any(c.isdigit() for c in text) else 0.0
    score += 0.2 if dark_text else 0.0
    return score


def dark_on_light(image: np.ndarray) -> bool:
    """Whether a text crop's strokes (the smaller of its two Otsu classes) are darker than their ground."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    _, mask = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    light = mask > 0
    return bool(light.mean() > 0.5)


def drop_overlaps(reads: list[PlateRead]) -> list[PlateRead]:
    """Reads in order, without those whose box mostly lies inside an earlier (better) read's box."""
    kept: list[PlateRead] = []
    for read in reads:
        if all(_overlap(read.box, other.box) < 0.5 for other in kept):
            kept.append(read)
    return kept


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    smaller = min(a[2] * a[3], b[2] * b[3])
    return max(0, w) * max(0, h) / smaller if smaller > 0 else 0.0


def bounding_box(corners: np.ndarray) -> tuple[int, int, int, int]:
    x0, y0 = np.floor(corners.min(axis=0)).astype(int)
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int)
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)


# ---------------------------------------------------------------- the backend


class TextRecogniser:
    """PP-OCRv4's CTC text recogniser restricted to `ALPHABET` (steps 3 and 4 above): text-line crops → characters.
    Also the fast backend's second opinion on close characters (`edge.alpr.opinion`)."""

    def __init__(self, rec_model: bytes) -> None:
        self.session = open_session(rec_model)
        self.input_name = self.session.get_inputs()[0].name
        classes = int(self.session.get_outputs()[0].shape[-1])
        labels = load_dictionary(self.session.get_modelmeta().custom_metadata_map, classes)
        self.allowed_index = alphabet_index(labels)

    def recognise(self, crops: list[np.ndarray]) -> list[tuple[CharGuess, ...]]:
        """The characters of every crop (BGR, wider than tall); crops of similar width share a batch so little
        is padding."""
        texts: list[tuple[CharGuess, ...]] = [()] * len(crops)
        for group in width_groups([c.shape[1] / c.shape[0] for c in crops]):
            batch = recognition_input([crops[i] for i in group])
            probs = self.session.run(None, {self.input_name: batch})[0]
            for i, p in zip(group, probs, strict=True):
                texts[i] = ctc_decode(p, self.allowed_index)
        return texts




class OfflineBackend:
    """PP-OCRv4 DB text detector → plate-like text lines → PP-OCRv4 CTC recogniser restricted to 0-9A-Z."""

    name = "offline"
    plate_detector = False  # PP-OCRv4 finds text lines: a badge is as text-like as a plate

    def __init__(self, det_model: bytes, rec_model: bytes, *, settings: OfflineSettings | None = None) -> None:
        self.settings = settings or OfflineSettings()
        self.detector = open_session(det_model)
        self.det_input = self.detector.get_inputs()[0].name
        self.recogniser = TextRecogniser(rec_model)

    def read(self, image: np.ndarray, *, look_harder: bool = True) -> list[PlateRead]:  # noqa: ARG002 - one pass
        """Every plate-like text line in `image` (BGR uint8), most plate-like first."""
        _check(image)
        found = candidates(self.detect(image), self.settings)
        if not found:
            return []
        crops = [crop(image, box.corners) for box in found]
        texts = self.recognise(crops)
        scored = [
            (plate_score(box.score, chars, dark_text=dark_on_light(image_crop)), self._plate(box, chars, image_crop))
            for box, image_crop, chars in zip(found, crops, texts, strict=True)
            if looks_like_plate(chars)
        ]
        scored.sort(key=lambda pair: pair[0], reverse=True)
        return drop_overlaps([read for _, read in scored])

    def detect(self, image: np.ndarray) -> list[TextBox]:
        """Text boxes in image pixels."""
        tensor, scale = detection_input(image, self.settings.det_limit)
        prob = self.detector.run(None, {self.det_input: tensor})[0][0, 0]
        return [to_image(box, scale, image.shape) for box in boxes_from_map(prob, self.settings)]

    def recognise(self, crops: list[np.ndarray]) -> list[tuple[CharGuess, ...]]:
        return self.recogniser.recognise(crops)

    @staticmethod
    def _plate(box: TextBox, chars: tuple[CharGuess, ...], image_crop: np.ndarray) -> PlateRead:
        return PlateRead(corners=box.corners, box=bounding_box(box.corners), detection_confidence=box.score,
                         chars=chars, crop=image_crop)


def _check(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ImageError(f"expected a BGR uint8 H x W x 3 image, got {getattr(image, 'shape', type(image))}")
    if image.size == 0:
        raise ImageError("empty image (0 pixels)")


def plate_patch(read: PlateRead, *, margin: float = PLATE_MARGIN) -> np.ndarray | None:
    """The plate of `read` cut from its frame context at its own size and aspect, `margin` around it (a text
    line as the recogniser expects it: not squeezed to the slot OCR's 128 x 64); None without a context."""
    if read.context is None or read.context_corners is None:
        return None
    centre = read.context_corners.mean(axis=0)
    grown = centre + (read.context_corners - centre) * (1 + margin)
    height, width = read.context.shape[:2]
    return crop(read.context, np.clip(grown, 0, [width - 1, height - 1]).astype(np.float32))


class SecondOpinion:
    """A second OCR opinion for the fast backend on characters its vote over a pass left close (look-alikes such
    as 7/T, 0/O, 8/B the frames disagree on): this recogniser, trained on other data, errs differently. It reads
    the pass's best plate patches; the tracker averages its reads with the vote where the vote is close
    (`edge.alpr.tracker.settle_close`). On the plate reader's worker thread."""

    def __init__(self, recogniser: TextRecogniser) -> None:
        self.recogniser = recogniser

    def read(self, reads: list[PlateRead]) -> list[tuple[CharGuess, ...]]:
        patches = [patch for read in reads if (patch := plate_patch(read)) is not None]
        return self.recogniser.recognise(patches) if patches else []
