"""Plate reading on real photos: accuracy and time per image for each backend, one core.

Runs the same evaluation as `canvass-alpr eval` (models/evaluate.py) on a folder
laid out like ../shared/data/alpr (region sub-folders), for the fast and the
offline backend, after one warm-up pass over a few images. Each backend's
onnxruntime sessions use one intra-op thread with spinning off, so the time is
one core's. Prints one JSON object with `--json`.

    .venv/bin/python bench/alpr_photos.py --data ../shared/data/alpr --json

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


def bench_backend(name: str, store: ModelStore, data: Path) -> dict:
    try:
        backend = make_backend(name, store)
    except AlprError as exc:
        return {"skipped": str(exc)}
    for label in list(labels(data))[:5]:  # warm-up: first runs allocate
        backend.read(read_image(label.image))

    def read(image, region):
        reads = backend.read(image)
        return reads, best_text(reads, region if region in REGION_FORMATS else None)

    return evaluate(data, read)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "alpr")
    parser.add_argument("--model-dir", type=Path, default=None, help=f"default {default_model_dir()}")
    parser.add_argument("--backends", nargs="+", choices=("fast", "offline"), default=["fast", "offline"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"no evaluation data at {args.data}", file=sys.stderr)
        return 2
    store = ModelStore(args.model_dir or default_model_dir())
    result = {"bench": "alpr_photos", "data": str(args.data)}
    for name in args.backends:
        result[name] = bench_backend(name, store, args.data)
    result["machine"] = f"{platform.machine()} {os.cpu_count()} cores, {platform.processor() or platform.platform()}"
    print_figures(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
