"""The real-photo camera's scene: labelled photos, one after another, each zooming toward its plate (pure)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from sim.clip import ClipSpec
from sim.photos import PhotoLabelError, PhotoScene, labelled_photos


def photo(folder: Path, name: str, size: tuple[int, int], box: tuple[int, int, int, int], plate: str) -> None:
    image = np.full((size[1], size[0], 3), 90, np.uint8)
    x, y, w, h = box
    cv2.rectangle(image, (x, y), (x + w, y + h), (255, 255, 255), -1)
    cv2.imwrite(str(folder / f"{name}.jpg"), image)
    (folder / f"{name}.txt").write_text(f"{name}.jpg\t{x}\t{y}\t{w}\t{h}\t{plate}\n")


def test_each_photo_is_one_pass_of_three_seconds_zooming_until_the_plate_is_a_quarter_of_the_frame(
        tmp_path: Path) -> None:
    photo(tmp_path, "a", (1280, 720), (600, 500, 64, 32), "abc123")
    photo(tmp_path, "b", (800, 800), (100, 600, 600, 150), "XYZ987")  # already large, square photo
    scene = PhotoScene(labelled_photos(tmp_path), width=1920, height=1080, fps=15)
    first, second = scene.truth()
    assert (first.plate, first.first_frame, first.last_frame) == ("ABC123", 0, 44)
    assert (second.first_frame, second.last_frame) == (45, 89) and scene.n_frames == 90
    assert first.first_box.w == 96  # 1280 → 1920: 1.5 x
    assert first.last_box.w == 96 * 3  # the zoom stops at 3 x before the plate is a quarter of the frame
    assert second.first_box.w == second.last_box.w == round(600 * 1920 / 800)  # no zoom: it is large already
    frames = list(scene.frames())
    assert len(frames) == 90 and frames[0].shape == (1080, 1920, 3)
    x, y, w, h = first.last_box.x, first.last_box.y, first.last_box.w, first.last_box.h
    assert frames[44][y + h // 2, x + w // 2].min() > 200  # the plate is where the truth says
    assert 0 <= first.first_box.x and first.first_box.x + first.first_box.w <= 1920


@pytest.mark.parametrize("label", ["a.jpg 1 2 3", "a.jpg x 2 3 4 ABC", "missing.jpg 1 2 3 4 ABC", "a.jpg 1 2 0 4 ABC"])
def test_a_bad_label_is_a_clear_error(tmp_path: Path, label: str) -> None:
    photo(tmp_path, "a", (64, 64), (1, 1, 10, 5), "ABC")
    (tmp_path / "a.txt").write_text(label.replace(" ", "\t"))
    with pytest.raises(PhotoLabelError, match="a.txt"):
        labelled_photos(tmp_path)


def test_the_photo_clip_is_cached_by_the_photos_it_shows(tmp_path: Path) -> None:
    photo(tmp_path, "a", (64, 64), (1, 1, 10, 5), "ABC")
    spec = ClipSpec(scene="photos", photos=(str(tmp_path),))
    before = spec.key()
    photo(tmp_path, "b", (64, 64), (1, 1, 10, 5), "DEF")
    assert spec.key() != before
    assert ClipSpec().key() == ClipSpec(scene="street").key()


def test_the_simulator_refuses_photos_without_the_photos_scene_and_an_empty_folder(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "sim.cli", "clip", "--cache-dir", str(tmp_path / "c"), *args],
                              capture_output=True, text=True, timeout=60)

    wrong = run("--photos", str(tmp_path))
    assert wrong.returncode != 0 and "--photos goes with --scene photos" in wrong.stderr
    empty = run("--scene", "photos", "--photos", str(tmp_path))
    assert empty.returncode == 1 and "no labelled photos" in empty.stderr and "Traceback" not in empty.stderr
