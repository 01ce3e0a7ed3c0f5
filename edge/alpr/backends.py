"""The backend factory: a backend by name, its models loaded (hash-checked) from the model store."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from edge.alpr.base import ModelError, PlateBackend
from edge.alpr.registry import ModelStore

if TYPE_CHECKING:
    from edge.alpr.offline import SecondOpinion

BackendName = Literal["fast", "offline"]
BACKENDS: tuple[BackendName, ...] = ("fast", "offline")
VIDEO_FALLBACK_MIN_SIDE = 4 * 320  # pixels: where the 320 detector shrinks a frame fourfold or more


def make_backend(name: str, store: ModelStore, *, video: bool = False) -> PlateBackend:
    """A ready backend. `video=True` tunes it for frames that come many per vehicle: the second, larger
    detector only on large frames or motion regions (four times the small detector's input or more: a
    distant plate there is too small for it), and one OCR view per plate (the tracker's vote over frames
    does what the second view does for a single photo)."""
    # Imported only when a backend is made: both load ONNX Runtime, which `canvass-alpr models` never needs.
    if name == "fast":
        from edge.alpr.fast import FastBackend

        fallback = store.load("hyperlpr3-y5fu-640") if store.available("hyperlpr3-y5fu-640") else None
        return FastBackend(store.load("hyperlpr3-y5fu-320"), store.load("fast-plate-ocr-cct-xs-v1-global"),
                           fallback_detector_model=fallback, margins=(0.15,) if video else (0.10, 0.20),
                           max_plates=4 if video else 2, every_plate=video,
                           fallback_min_side=VIDEO_FALLBACK_MIN_SIDE if video else 0)
    if name == "offline":
        from edge.alpr.offline import OfflineBackend, OfflineSettings

        # Video: a smaller detection size (plates in a motion region are larger than in a whole photo, and
        # 800 px costs ~270 ms a frame here, too much for several cameras at a few frames a second).
        settings = OfflineSettings(det_limit=640) if video else None
        return OfflineBackend(store.load("ppocr-v4-det"), store.load("ppocr-v4-rec"), settings=settings)
    raise ModelError(f"unknown plate backend {name!r}: choose one of {', '.join(BACKENDS)}")


def make_second_opinion(name: str, store: ModelStore) -> SecondOpinion | None:
    """PP-OCRv4 recognition (the offline backend's model, in the rapidocr wheel) as a second OCR opinion on the
    characters the fast backend's vote leaves close; None for the offline backend (it is that model already)
    or when the wheel is not installed."""
    if name != "fast" or not store.available("ppocr-v4-rec"):
        return None
    from edge.alpr.offline import SecondOpinion, TextRecogniser

    return SecondOpinion(TextRecogniser(store.load("ppocr-v4-rec")))
