"""Reading plates in images: bad input gets a clear error; real photos are read; the two backends agree."""

from __future__ import annotations

import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from edge.alpr.backends import make_backend
from edge.alpr.base import ImageError
from edge.alpr.cli import main as alpr_main
from edge.alpr.fast import rectify
from edge.alpr.images import MAX_PIXELS, decode_image, read_image
from edge.alpr.registry import ModelStore
from models.evaluate import edit_distance, labels, normalise
from tests.alpr_support import shared_alpr_data, shared_models

# A few real photos, one per region, chosen for clear plates (not for being read right).
PARITY_IMAGES = ("br/HPM9362.jpg", "eu/eu3.jpg", "us/car11.jpg")


def jpeg(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (128, 128, 128)).save(buffer, "JPEG")
    return buffer.getvalue()


def test_bad_images_get_a_clear_error(tmp_path: Path) -> None:
    good = jpeg(64, 48)
    assert decode_image(good).shape == (48, 64, 3)
    with pytest.raises(ImageError, match="empty"):
        decode_image(b"")
    with pytest.raises(ImageError, match="not a readable image"):
        decode_image(good[: len(good) // 3])  # a truncated JPEG
    with pytest.raises(ImageError, match="not a readable image"):
        decode_image(b"GIF89a but not really" * 10)
    with pytest.raises(ImageError, match="cannot read"):
        read_image(tmp_path / "absent.jpg")


def test_a_huge_image_is_refused_before_it_is_decoded() -> None:
    # A 20000x20000 JPEG header on a few KB: a decompression bomb. Refused from the header alone.
    data = jpeg(16, 16)
    big = bytearray(data)
    sof = big.index(b"\xff\xc0")
    big[sof + 5:sof + 9] = (20000).to_bytes(2, "big") + (20000).to_bytes(2, "big")
    with pytest.raises(ImageError, match="pixels"):
        decode_image(bytes(big))
    assert 20000 * 20000 > MAX_PIXELS


def test_read_cli_reports_bad_files_and_reads_the_good_ones(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0garbage")
    (tmp_path / "grey.jpg").write_bytes(jpeg(320, 240))
    code = alpr_main(["read", "--backend", "offline", "--json", str(tmp_path / "empty.jpg"),
                      str(tmp_path / "corrupt.jpg"), str(tmp_path / "grey.jpg")])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert "empty" in out[0]["error"] and "not a readable image" in out[1]["error"]
    assert out[2]["plates"] == []


def test_rectify_undoes_a_perspective_view() -> None:
    plate = np.full((64, 128, 3), 255, np.uint8)
    cv2.putText(plate, "AB12", (8, 46), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (0, 0, 0), 4)
    square = np.float32([[0, 0], [127, 0], [127, 63], [0, 63]])
    seen = np.float32([[300, 210], [520, 240], [515, 330], [296, 290]])  # seen from the side and below
    frame = cv2.warpPerspective(plate, cv2.getPerspectiveTransform(square, seen), (800, 600))
    back = rectify(frame, seen, margin=0.0)
    assert back.shape == (64, 128, 3)
    assert np.mean(np.abs(back.astype(int) - plate.astype(int))) < 25


@pytest.fixture(scope="module")
def fast_backend(tmp_path_factory):
    source = shared_models()
    store = ModelStore(tmp_path_factory.mktemp("models"))
    store.install_from(source)
    return make_backend("fast", store)


@pytest.fixture(scope="module")
def offline_backend(tmp_path_factory):
    return make_backend("offline", ModelStore(tmp_path_factory.mktemp("no-models")))


def _photo(name: str):
    data = shared_alpr_data()
    label = next(lb for lb in labels(data / name.split("/")[0]) if lb.image.name == name.split("/")[1])
    return read_image(label.image), normalise(label.plate), label.box


@pytest.mark.parametrize("name", PARITY_IMAGES)
def test_backends_agree_on_real_photos(name: str, fast_backend, offline_backend) -> None:
    """Both backends find the labelled plate and read it within one character of the label and of each other."""
    image, plate, box = _photo(name)
    fast, offline = fast_backend.read(image), offline_backend.read(image)
    assert fast and offline, "both find a plate"
    assert edit_distance(fast[0].text, plate) <= 1, fast[0].text
    assert edit_distance(offline[0].text, plate) <= 1, offline[0].text
    assert edit_distance(fast[0].text, offline[0].text) <= 2
    for read in (fast[0], offline[0]):
        x, y, w, h = read.box
        assert x < box[0] + box[2] and box[0] < x + w and y < box[1] + box[3] and box[1] < y + h, "on the plate"


def test_eval_cli_prints_the_figures(tmp_path: Path, capsys) -> None:
    """`canvass-alpr eval DIR --json` on a small folder in the evaluation layout."""
    data = shared_alpr_data()
    folder = tmp_path / "br"
    folder.mkdir()
    for label in list(labels(data / "br"))[:4]:
        (folder / label.image.name).write_bytes(label.image.read_bytes())
        (folder / label.image.with_suffix(".txt").name).write_text(label.image.with_suffix(".txt").read_text())
    assert alpr_main(["eval", str(folder), "--json", "--backend", "offline"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 4
    assert set(result) >= {"exact", "within_one", "detection_recall", "median_ms", "p95_ms"}
    assert 0 <= result["exact"] <= result["within_one"] <= 1


def test_video_looks_again_with_the_larger_detector_only_on_large_frames(tmp_path: Path) -> None:
    """Distant plates in whole 1080p frames (the first frame of each of the first 20 US photos' zoom): some the
    320 detector misses (the frame shrunk sixfold) the 640 one reads; each plate is one read (the two
    detectors' finds of one plate are merged); on a frame under four times the small detector's input (here
    the same frame shrunk) the larger detector is not run, so a plate the 320 one misses stays missed."""
    from edge.alpr.base import iou
    from edge.alpr.fast import FastBackend
    from sim.photos import PhotoScene, labelled_photos

    store = ModelStore(tmp_path / "models")
    store.install_from(shared_models())
    video = make_backend("fast", store, video=True)
    small_only = FastBackend(store.load("hyperlpr3-y5fu-320"), store.load("fast-plate-ocr-cct-xs-v1-global"),
                             margins=(0.15,), max_plates=4, every_plate=True)
    found_by_640 = []
    for photo in labelled_photos(shared_alpr_data() / "us")[:20]:
        frame = next(iter(PhotoScene([photo], width=1920, height=1080, fps=15).frames()))
        reads = video.read(frame)
        assert all(iou(a.box, b.box) < 0.3 for i, a in enumerate(reads) for b in reads[i + 1:]), photo.plate
        if not small_only.read(frame) and photo.plate in [r.text for r in reads]:
            found_by_640.append(photo.plate)
            shrunk = cv2.resize(frame, (1270, 714), interpolation=cv2.INTER_AREA)
            assert video.read(shrunk) == small_only.read(shrunk) == []
    assert found_by_640, "the 640 detector reads some plate the 320 one misses"
