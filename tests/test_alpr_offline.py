"""The offline backend: golden CTC decoding, DB box geometry, and reads of synthetic and real plates."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from edge.alpr.base import ALPHABET, CharGuess, ImageError, ModelError, PlateRead
from edge.alpr.images import read_image
from edge.alpr.offline import (
    OfflineBackend,
    SecondOpinion,
    alphabet_index,
    ctc_decode,
    load_dictionary,
    order_corners,
    unclip,
    width_groups,
)
from models.evaluate import edit_distance, labels, normalise
from tests.alpr_support import shared_alpr_data

# A small fake dictionary laid out like PP-OCR's: blank first, a space last, Chinese and punctuation between.
FAKE_LABELS = ["<blank>", "a", "B", "1", "-", "中", "A", "0", "Z", " "]
BLANK, LOWER_A, B, ONE, DASH, HAN, UPPER_A, ZERO, Z, SPACE = range(len(FAKE_LABELS))

# One real photo per region, chosen for clear plates (not for being read right).
REAL_IMAGES = ("br/JGZ3298.jpg", "eu/test_003.jpg", "us/car14.jpg")


def probs_for(steps: list[int | dict[int, float]]) -> np.ndarray:
    """[T, C] probabilities: a class index means that class at 0.9 (the rest on the blank),
    a dict gives the probabilities of that timestep outright (the rest on the blank)."""
    probs = np.zeros((len(steps), len(FAKE_LABELS)), np.float32)
    for t, step in enumerate(steps):
        row = step if isinstance(step, dict) else {step: 0.9}
        for index, p in row.items():
            probs[t, index] += p
        probs[t, BLANK] += 1.0 - sum(row.values())
    return probs


def text_of(guesses) -> str:
    return "".join(g.char for g in guesses)


@pytest.fixture(scope="module")
def allowed() -> np.ndarray:
    return alphabet_index(FAKE_LABELS)


def test_fake_dictionary_maps_only_ascii_letters_and_digits(allowed: np.ndarray) -> None:
    assert allowed.tolist() == [-1, ALPHABET.index("A"), ALPHABET.index("B"), 1, -1, -1,
                                ALPHABET.index("A"), 0, ALPHABET.index("Z"), -1]


def test_ctc_decode_collapses_repeats_and_a_blank_separates_doubles(allowed: np.ndarray) -> None:
    steps = [BLANK, B, B, BLANK, ONE, ONE, BLANK, ONE, ZERO, ZERO, BLANK, Z, BLANK]
    assert text_of(ctc_decode(probs_for(steps), allowed)) == "B110Z"


def test_ctc_decode_folds_lower_case_into_upper_case(allowed: np.ndarray) -> None:
    guesses = ctc_decode(probs_for([LOWER_A, BLANK, {LOWER_A: 0.3, UPPER_A: 0.35, ZERO: 0.3}]), allowed)
    assert text_of(guesses) == "AA"
    assert guesses[1].confidence == pytest.approx(0.65)


def test_ctc_decode_never_emits_punctuation_spaces_or_chinese(allowed: np.ndarray) -> None:
    steps = [HAN, HAN, B, DASH, B, SPACE, ONE, {HAN: 0.6, ONE: 0.3}, ONE, DASH]
    guesses = ctc_decode(probs_for(steps), allowed)
    # Other classes mean "no character here": they drop out and, like the blank, separate doubles.
    assert text_of(guesses) == "BB11"
    assert all(g.char in ALPHABET for g in guesses)


def test_ctc_decode_confidence_is_the_peak_and_probs_are_renormalised(allowed: np.ndarray) -> None:
    steps = [{B: 0.5, ZERO: 0.1}, {B: 0.8, ONE: 0.05, ZERO: 0.05}, {B: 0.55}]
    (guess,) = ctc_decode(probs_for(steps), allowed)
    assert guess.char == "B"
    assert guess.confidence == pytest.approx(0.8)
    assert guess.probs is not None and len(guess.probs) == len(ALPHABET)
    assert sum(guess.probs) == pytest.approx(1.0)
    assert guess.probs[ALPHABET.index("B")] == pytest.approx(0.8 / 0.9)
    assert guess.probs[ALPHABET.index("1")] == pytest.approx(0.05 / 0.9)


def test_ctc_decode_of_only_blanks_is_empty(allowed: np.ndarray) -> None:
    assert ctc_decode(probs_for([BLANK] * 6), allowed) == ()


@given(hnp.arrays(np.float32, st.tuples(st.integers(1, 24), st.just(len(FAKE_LABELS))),
                  elements=st.floats(0, 1, width=32)))
def test_ctc_decode_emits_only_alphabet_characters_with_sound_probabilities(raw: np.ndarray) -> None:
    probs = raw / np.maximum(raw.sum(axis=1, keepdims=True), 1e-6)
    guesses = ctc_decode(probs, alphabet_index(FAKE_LABELS))
    assert len(guesses) <= len(probs)
    for guess in guesses:
        assert guess.char in ALPHABET
        assert 0.0 <= guess.confidence <= 1.0 + 1e-6
        assert guess.probs is not None and max(guess.probs) == pytest.approx(guess.probs[ALPHABET.index(guess.char)])


def test_dictionary_must_match_the_model_output() -> None:
    assert load_dictionary({"character": "a\nB"}, 4) == ["<blank>", "a", "B", " "]
    with pytest.raises(ModelError, match="classes"):
        load_dictionary({"character": "a\nB"}, 5)
    with pytest.raises(ModelError, match="character"):
        load_dictionary({}, 4)


def test_unclip_grows_every_side_by_area_ratio_over_perimeter() -> None:
    (cx, cy), (w, h), angle = unclip(((50.0, 20.0), (100.0, 20.0), 5.0), 1.5)
    distance = 100 * 20 * 1.5 / 240
    assert (cx, cy, angle) == (50.0, 20.0, 5.0)
    assert (w, h) == pytest.approx((100 + 2 * distance, 20 + 2 * distance))


def test_corners_are_ordered_clockwise_from_top_left() -> None:
    points = cv2.boxPoints(((100.0, 50.0), (80.0, 20.0), 10.0))
    ordered = order_corners(np.float32(points))
    top_left, top_right, bottom_right, bottom_left = ordered
    assert top_left[0] < top_right[0] and bottom_left[0] < bottom_right[0]
    assert top_left[1] < bottom_left[1] and top_right[1] < bottom_right[1]


def test_crops_of_similar_width_share_a_batch() -> None:
    assert width_groups([4.0, 2.0, 4.4, 2.2, 8.0]) == [[1, 3], [0, 2], [4]]


# ---------------------------------------------------------------- the real models


def wheel_models() -> tuple[bytes, bytes]:
    spec = importlib.util.find_spec("rapidocr_onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("rapidocr-onnxruntime (the PP-OCRv4 models) is not installed")
    folder = Path(spec.submodule_search_locations[0]) / "models"
    return (folder / "ch_PP-OCRv4_det_infer.onnx").read_bytes(), (folder / "ch_PP-OCRv4_rec_infer.onnx").read_bytes()


@pytest.fixture(scope="module")
def backend() -> OfflineBackend:
    return OfflineBackend(*wheel_models())


def test_the_real_dictionary_has_blank_first_space_last_and_every_plate_symbol(backend: OfflineBackend) -> None:
    metadata = backend.recogniser.session.get_modelmeta().custom_metadata_map
    dictionary = load_dictionary(metadata, int(backend.recogniser.session.get_outputs()[0].shape[-1]))
    assert len(dictionary) == 6625 and dictionary[-1] == " "
    allowed = backend.recogniser.allowed_index
    assert set(allowed[allowed >= 0].tolist()) == set(range(len(ALPHABET)))


def synthetic_plate() -> np.ndarray:
    image = np.full((480, 640, 3), 128, np.uint8)
    cv2.rectangle(image, (160, 200), (480, 290), (255, 255, 255), -1)
    cv2.putText(image, "ABC1234", (180, 268), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (0, 0, 0), 5)
    return image


def test_a_synthetic_plate_is_read(backend: OfflineBackend) -> None:
    (read, *_) = backend.read(synthetic_plate())
    assert read.text == "ABC1234"
    x, y, w, h = read.box
    assert 150 <= x and x + w <= 490 and 195 <= y and y + h <= 295, "on the drawn plate"
    assert read.corners.shape == (4, 2) and read.corners.dtype == np.float32
    assert read.crop is not None and read.crop.shape[1] > read.crop.shape[0]
    assert 0.5 <= read.detection_confidence <= 1.0 and read.confidence > 0.5
    assert all(c.probs is not None and len(c.probs) == len(ALPHABET) for c in read.chars)


def test_the_second_opinion_reads_the_plate_in_a_frame_context_at_its_own_aspect(backend: OfflineBackend) -> None:
    """The fast backend's read of a pass's best frame keeps the frame around its plate and the plate's corners
    in it; PP-OCRv4 reads that plate (cut at its own size, not squeezed to 128 x 64), each character with its
    probabilities over the alphabet for the vote. A read without a context gives no opinion."""
    corners = np.float32([[160, 200], [480, 200], [480, 290], [160, 290]])
    chars = tuple(CharGuess(c, 0.9) for c in "ABC1234")
    with_context = PlateRead(corners=corners, box=(160, 200, 320, 90), detection_confidence=0.9, chars=chars,
                             context=synthetic_plate(), context_corners=corners)
    without = PlateRead(corners=corners, box=(160, 200, 320, 90), detection_confidence=0.9, chars=chars)
    (opinion,) = SecondOpinion(backend.recogniser).read([with_context, without])
    assert text_of(opinion) == "ABC1234"
    assert all(c.probs is not None and abs(sum(c.probs) - 1) < 1e-6 for c in opinion)
    assert SecondOpinion(backend.recogniser).read([without]) == []


@pytest.mark.parametrize("value", [0, 128, 255])
def test_a_uniform_image_has_no_plate(backend: OfflineBackend, value: int) -> None:
    assert backend.read(np.full((480, 640, 3), value, np.uint8)) == []


def test_an_image_that_is_not_bgr_is_refused(backend: OfflineBackend) -> None:
    with pytest.raises(ImageError, match="BGR"):
        backend.read(np.zeros((480, 640), np.uint8))


@pytest.mark.parametrize("name", REAL_IMAGES)
def test_real_photos_are_read_within_one_character(backend: OfflineBackend, name: str) -> None:
    region, filename = name.split("/")
    label = next(lb for lb in labels(shared_alpr_data() / region) if lb.image.name == filename)
    reads = backend.read(read_image(label.image))
    assert reads, "a plate is found"
    assert edit_distance(reads[0].text, normalise(label.plate)) <= 1, reads[0].text
