"""Decoding images given to the plate reader, with clear errors for bad input."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from edge.alpr.base import ImageError

MAX_PIXELS = 40_000_000  # 40 MP: larger than any camera this box records; refuses decompression bombs
MAX_FILE_BYTES = 64 << 20


def decode_image(data: bytes, *, source: str = "image") -> np.ndarray:
    """A BGR uint8 image from encoded bytes (JPEG, PNG, ...); `ImageError` says what is wrong."""
    if not data:
        raise ImageError(f"{source}: empty (0 bytes)")
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(f"{source}: {len(data)} bytes is more than the {MAX_FILE_BYTES} accepted")
    width, height = _header_size(data)
    if width and height and width * height > MAX_PIXELS:
        raise ImageError(f"{source}: {width}x{height} is more than the {MAX_PIXELS} pixels accepted")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise ImageError(f"{source}: not a readable image (corrupt or unsupported format)")
    if image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise ImageError(f"{source}: {image.shape[1]}x{image.shape[0]} is more than the {MAX_PIXELS} pixels accepted")
    return image


def read_image(path: Path) -> np.ndarray:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return decode_image(data, source=str(path))


def _header_size(data: bytes) -> tuple[int, int]:
    """Width and height from the header, before decoding (0, 0 if the header is not understood)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Image.DecompressionBombError as exc:
        raise ImageError(f"too many pixels to decode safely ({exc})") from exc
    except (UnidentifiedImageError, OSError, ValueError):
        return 0, 0
