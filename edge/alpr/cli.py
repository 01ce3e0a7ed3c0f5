"""`canvass-alpr`: install models, read plates in images, evaluate a backend on a labelled folder."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import httpx
import numpy as np

from edge.alpr.backends import BACKENDS, make_backend
from edge.alpr.base import AlprError, PlateBackend, PlateRead
from edge.alpr.formats import REGION_FORMATS, correct_chars
from edge.alpr.images import read_image
from edge.alpr.registry import ModelStore, default_model_dir
from models.evaluate import evaluate

DEFAULT_BACKEND = "offline"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="canvass-alpr", description="Canvass plate reading tools")
    parser.add_argument("--model-dir", type=Path, default=None,
                        help=f"installed models (default: {default_model_dir()})")
    sub = parser.add_subparsers(dest="command", required=True)
    models = sub.add_parser("models", help="install and check the manifest's models")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    fetch = models_sub.add_parser("fetch", help="download the models (or install them from a folder)")
    fetch.add_argument("--from", dest="source", type=Path, help="install from this folder instead of downloading")
    models_sub.add_parser("list", help="every model in the manifest and whether it is installed and intact")
    for name, text in (("read", "read the plates in images"), ("eval", "score a backend on a labelled folder")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--backend", choices=BACKENDS, default=DEFAULT_BACKEND)
        cmd.add_argument("--json", action="store_true")
        if name == "read":
            cmd.add_argument("images", nargs="+", type=Path)
            cmd.add_argument("--region", choices=sorted(REGION_FORMATS), default=None)
        else:
            cmd.add_argument("directory", type=Path)
            cmd.add_argument("--region", choices=sorted(REGION_FORMATS), default=None,
                             help="plate formats to apply (default: the folder's name when it is a region)")
    return parser


def _store(args: argparse.Namespace) -> ModelStore:
    return ModelStore(args.model_dir or default_model_dir())


def _cmd_models(args: argparse.Namespace) -> int:
    store = _store(args)
    if args.models_command == "list":
        for entry in store.manifest.model:
            state = "installed" if store.intact(entry.name) else (
                "damaged" if store.available(entry.name) else "missing")
            print(f"{entry.name:34} {state:9} {entry.licence:11} {entry.file}")
        return 0
    if args.source is not None:
        installed, problems = store.install_from(args.source)
    else:
        with httpx.Client(timeout=60) as client:
            installed, problems = store.fetch(client=client)
    for name in installed:
        print(f"installed {name} into {store.directory}")
    for problem in problems:
        print(f"canvass-alpr: {problem}", file=sys.stderr)
    return 1 if problems else 0


def best_text(reads: list[PlateRead], region: str | None) -> str:
    return "".join(c.char for c in correct_chars(reads[0].chars, region)) if reads else ""


def _read_json(read: PlateRead, region: str | None) -> dict:
    chars = correct_chars(read.chars, region)
    return {
        "text": "".join(c.char for c in chars),
        "raw_text": read.text,
        "confidence": round(min((c.confidence for c in chars), default=0.0), 4),
        "detection_confidence": round(read.detection_confidence, 4),
        "box": list(read.box),
        "corners": np.round(read.corners.astype(np.float64), 1).tolist(),
        "char_confidences": [round(c.confidence, 4) for c in chars],
    }


def _cmd_read(args: argparse.Namespace) -> int:
    backend = make_backend(args.backend, _store(args))
    results, failed = [], 0
    for path in args.images:
        try:
            image = read_image(path)
        except AlprError as exc:
            failed += 1
            results.append({"image": str(path), "error": str(exc)})
            if args.json:
                print(f"canvass-alpr: {exc}", file=sys.stderr)
            continue
        started = time.perf_counter()
        reads = backend.read(image)
        ms = (time.perf_counter() - started) * 1000
        results.append({"image": str(path), "ms": round(ms, 2), "plates": [_read_json(r, args.region) for r in reads]})
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for result in results:
            if "error" in result:
                print(f"canvass-alpr: {result['error']}", file=sys.stderr)
                continue
            print(f"{result['image']}: {', '.join(p['text'] for p in result['plates']) or '(no plate)'}")
    return 1 if failed else 0


def _cmd_eval(args: argparse.Namespace) -> int:
    backend: PlateBackend = make_backend(args.backend, _store(args))

    def read(image: np.ndarray, region: str) -> tuple[list[PlateRead], str]:
        reads = backend.read(image)
        chosen = args.region or (region if region in REGION_FORMATS else None)
        return reads, best_text(reads, chosen)

    result = {"backend": args.backend, **evaluate(args.directory, read)}
    print(json.dumps(result, indent=None if args.json else 2))
    return 0 if result["n"] else 1


COMMANDS = {"models": _cmd_models, "read": _cmd_read, "eval": _cmd_eval}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except AlprError as exc:
        print(f"canvass-alpr: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
