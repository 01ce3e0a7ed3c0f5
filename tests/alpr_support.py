"""Where the third-party plate models and the real evaluation photos are, when this machine has them."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_MODELS = REPO.parent / "shared" / "models"
SHARED_ALPR_DATA = REPO.parent / "shared" / "data" / "alpr"
FAST_MODEL_FILES = ("hyperlpr3_y5fu_320x_sim.onnx", "hyperlpr3_y5fu_640x_sim.onnx", "cct_xs_v1_global.onnx")


def shared_models() -> Path:
    if not all((SHARED_MODELS / name).is_file() for name in FAST_MODEL_FILES):
        pytest.skip(f"the fast backend's models are not in {SHARED_MODELS}")
    return SHARED_MODELS


def shared_alpr_data() -> Path:
    if not SHARED_ALPR_DATA.is_dir():
        pytest.skip(f"no evaluation photos in {SHARED_ALPR_DATA}")
    return SHARED_ALPR_DATA


def readable_photo_set(folder: Path, regions: tuple[str, ...], per_region: int, backend) -> Path:
    """A folder of the first `per_region` photos of each region (in name order) whose plate `backend` reads right
    on the last frame of its zoom in the photo camera and in which it reads no other text confidently (every
    fifth frame of the zoom looked at), regions interleaved, labels rewritten for the new names.

    The photo camera then holds only single-plate photos the still-photo path reads: what the video path must
    not lose or merge. (Signs read as plates are a different failure, counted by `bench/alpr_video.py`.)"""
    from sim.photos import LabelledPhoto, PhotoScene, labelled_photos
    from wire.plates import canonical, within_one_edit

    chosen: list[tuple[int, str, LabelledPhoto]] = []
    for region in regions:
        found = 0
        for photo in labelled_photos(shared_alpr_data() / region):
            frames = list(PhotoScene([photo], width=1920, height=1080, fps=15).frames())
            others = {read.text for frame in frames[::5] for read in backend.read(frame)
                      if read.confidence >= 0.6 and not within_one_edit(canonical(read.text), canonical(photo.plate))}
            if not others and any(read.text == photo.plate for read in backend.read(frames[-1])[:1]):
                chosen.append((found, region, photo))
                found += 1
            if found == per_region:
                break
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    for rank, (_, region, photo) in enumerate(sorted(chosen, key=lambda c: c[:2])):  # one of each region in turn
        name = f"{rank:02d}-{region}-{photo.path.stem}"
        (folder / f"{name}.jpg").symlink_to(photo.path)
        (folder / f"{name}.txt").write_text(f"{name}.jpg\t" + "\t".join(map(str, photo.box)) + f"\t{photo.plate}\n")
    return folder
