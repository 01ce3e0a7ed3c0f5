"""A camera made of real photos: each labelled photo shown for a few seconds, zooming toward its plate.

Stands for a camera at a gate or a barrier watching real cars: the photos of
a folder laid out like `../shared/data/alpr/<region>/` (`NAME.jpg` with
`NAME.txt` holding one tab-separated line `NAME.jpg x y w h PLATE`, the
plate's box in the photo) follow one another with no gap, so each car takes
the place of the one before it. Every photo fills a 16:9 frame (the largest
16:9 window of the photo around its plate) and zooms toward the plate over
`seconds_per_photo`, at a constant rate, until the plate is a quarter of the
frame's width (at most 3x): a car driving up. The ground truth is one pass
per photo, its plate fully in view from the first frame to the last.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from sim.truth import Box, PlatePass

MAX_ZOOM = 3.0
END_PLATE_SHARE = 0.25  # of the frame's width, where the zoom stops (unless MAX_ZOOM stops it first)


class PhotoLabelError(ValueError):
    """A photo folder has no labelled photo, or a label line is not `NAME.jpg x y w h PLATE`."""


@dataclass(frozen=True, slots=True)
class LabelledPhoto:
    path: Path
    plate: str
    box: tuple[int, int, int, int]  # the plate in the photo: x, y, w, h


def labelled_photos(folder: Path) -> list[LabelledPhoto]:
    """Every photo of `folder` with a label, in name order."""
    photos = []
    for label in sorted(folder.glob("*.txt")):
        fields = label.read_text().split()
        if len(fields) != 6 or not all(f.isdigit() for f in fields[1:5]):
            raise PhotoLabelError(f"{label.name}: expected 'NAME.jpg x y w h PLATE'")
        x, y, w, h = (int(f) for f in fields[1:5])
        image = folder / fields[0]
        if not image.is_file() or w <= 0 or h <= 0:
            raise PhotoLabelError(f"{label.name}: no photo {fields[0]} or an empty plate box")
        photos.append(LabelledPhoto(image, fields[5].upper(), (x, y, w, h)))
    if not photos:
        raise PhotoLabelError(f"no labelled photos in {folder}")
    return photos


def folder_digest(folders: list[Path]) -> str:
    """Changes when any photo or label of `folders` does (names, sizes, label text): the clip's cache key."""
    digest = hashlib.sha256()
    for folder in folders:
        for photo in labelled_photos(folder):
            digest.update(f"{photo.path.name}\t{photo.path.stat().st_size}\t{photo.plate}\t{photo.box}\n".encode())
    return digest.hexdigest()[:16]


Window = tuple[float, float, float]  # centre x, centre y, width, in the photo's pixels (height: width * 9 / 16)


def zoom_windows(image_size: tuple[int, int], plate: tuple[int, int, int, int],
                 aspect: float) -> tuple[Window, Window]:
    """The first and last window of a photo's zoom: the largest `aspect` window around the plate, then one
    centred on it where the plate is `END_PLATE_SHARE` of the width (zooming at most `MAX_ZOOM`)."""
    width, height = image_size
    x, y, w, h = plate
    start_w = min(width, height * aspect)
    end_w = min(start_w, max(start_w / MAX_ZOOM, w / END_PLATE_SHARE))
    return _inside((x + w / 2, y + h / 2, start_w), image_size, aspect), \
        _inside((x + w / 2, y + h / 2, end_w), image_size, aspect)


def _inside(window: Window, image_size: tuple[int, int], aspect: float) -> Window:
    cx, cy, w = window
    h = w / aspect
    return min(max(cx, w / 2), image_size[0] - w / 2), min(max(cy, h / 2), image_size[1] - h / 2), w


class PhotoScene:
    """Renders the frames and the ground truth of a photo camera (see the module docstring)."""

    def __init__(self, photos: list[LabelledPhoto], *, width: int, height: int, fps: int,
                 seconds_per_photo: float = 3.0) -> None:
        self.photos, self.width, self.height, self.fps = photos, width, height, fps
        self.per_photo = max(2, round(fps * seconds_per_photo))
        self.n_frames = self.per_photo * len(photos)

    def _window(self, index: int, step: int, image_size: tuple[int, int]) -> Window:
        start, end = zoom_windows(image_size, self.photos[index].box, self.width / self.height)
        t = step / (self.per_photo - 1)
        return (start[0] + (end[0] - start[0]) * t, start[1] + (end[1] - start[1]) * t,
                start[2] * (end[2] / start[2]) ** t)

    def _transform(self, window: Window) -> np.ndarray:
        """The affine map from the photo to the frame that shows `window`."""
        cx, cy, w = window
        scale = self.width / w
        return np.float32([[scale, 0, self.width / 2 - cx * scale], [0, scale, self.height / 2 - cy * scale]])

    def _plate_box(self, index: int, step: int, image_size: tuple[int, int]) -> Box:
        matrix = self._transform(self._window(index, step, image_size))
        x, y, w, h = self.photos[index].box
        scale = float(matrix[0, 0])
        return Box(round(x * scale + matrix[0, 2]), round(y * scale + matrix[1, 2]), round(w * scale), round(h * scale))

    def truth(self) -> tuple[PlatePass, ...]:
        passes = []
        for index, photo in enumerate(self.photos):
            size = _image_size(photo.path)
            first = index * self.per_photo
            passes.append(PlatePass(photo.plate, first, first + self.per_photo - 1,
                                    self._plate_box(index, 0, size), self._plate_box(index, self.per_photo - 1, size)))
        return tuple(passes)

    def frames(self) -> Iterator[np.ndarray]:
        for index, photo in enumerate(self.photos):
            image = _load(photo.path)
            size = (image.shape[1], image.shape[0])
            for step in range(self.per_photo):
                yield cv2.warpAffine(image, self._transform(self._window(index, step, size)),
                                     (self.width, self.height), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REPLICATE)


def _load(path: Path) -> np.ndarray:
    """The photo as the plate reader's own image loading sees it (EXIF orientation applied, as the labels are)."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise PhotoLabelError(f"{path.name} is not a readable image")
    return image


def _image_size(path: Path) -> tuple[int, int]:
    image = _load(path)
    return image.shape[1], image.shape[0]
