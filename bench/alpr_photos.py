"""Plate reading on real photos: accuracy and time per image for each backend, one core.

Runs the same evaluation as `canvass-alpr eval` (models/evaluate.py) on a folder
laid out like ../shared/data/alpr (region sub-folders), for the fast and the
offline backend, after one warm-up pass over a few images. Each backend's
onnxruntime sessions use one intra-op thread with spinning off, so the time is
one core's. Prints one JSON object with `--json`.

    .venv/bin/python bench/alpr_photos.py --data ../shared/data/alpr --json

`--variant plain` measures the plain y5fu_320 → cct_xs pipeline instead (first detection, no margin,
threshold 0.4, no format rules: the one ../shared/models/README.md measured), `--variant one-view` the fast
pipeline with one OCR view instead of two; both only for the fast backend.

Targets (issue 3): fast ≥ 0.88 exact at ≤ 20 ms median; offline ≥ 0.75 exact at ≤ 150 ms median.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.measure import print_figures  # noqa: E402
from edge.alpr.backends import make_backend  # noqa: E402
from edge.alpr.base import AlprError  # noqa: E402
from edge.alpr.cli import best_text  # noqa: E402
from edge.alpr.formats import REGION_FORMATS  # noqa: E402
from edge.alpr.images import read_image  # noqa: E402
from edge.alpr.registry import ModelStore, default_model_dir  # noqa: E402
from models.evaluate import evaluate, labels  # noqa: E402


def _backend(name: str, store: ModelStore, variant: str):
    if name != "fast" or variant == "default":
        return make_backend(name, store)
    from edge.alpr.fast import FastBackend

    detector, ocr = store.load("hyperlpr3-y5fu-320"), store.load("fast-plate-ocr-cct-xs-v1-global")
    if variant == "one-view":
        return FastBackend(detector, ocr, fallback_detector_model=store.load("hyperlpr3-y5fu-640"), margins=(0.15,))
    backend = FastBackend(detector, ocr, max_plates=1, margins=(0.0,))  # plain
    backend.detector.score_threshold = 0.4
    return backend


def bench_backend(name: str, store: ModelStore, data: Path, variant: str = "default") -> dict:
    try:
        backend = _backend(name, store, variant)
    except AlprError as exc:
        return {"skipped": str(exc)}
    rules = variant != "plain"
    for label in list(labels(data))[:5]:  # warm-up: first runs allocate
        backend.read(read_image(label.image))

    def read(image, region):
        reads = backend.read(image)
        if not rules:
            return reads, reads[0].text if reads else ""
        return reads, best_text(reads, region if region in REGION_FORMATS else None)

    return evaluate(data, read)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "alpr")
    parser.add_argument("--model-dir", type=Path, default=None, help=f"default {default_model_dir()}")
    parser.add_argument("--backends", nargs="+", choices=("fast", "offline"), default=["fast", "offline"])
    parser.add_argument("--variant", choices=("default", "plain", "one-view"), default="default")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"no evaluation data at {args.data}", file=sys.stderr)
        return 2
    store = ModelStore(args.model_dir or default_model_dir())
    result = {"bench": "alpr_photos", "data": str(args.data), "variant": args.variant}
    for name in args.backends:
        result[name] = bench_backend(name, store, args.data, args.variant)
    result["machine"] = f"{platform.machine()} {os.cpu_count()} cores, {platform.processor() or platform.platform()}"
    print_figures(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
