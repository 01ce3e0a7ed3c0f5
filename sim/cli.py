"""`canvass-sim`: simulated IP cameras for tests, benchmarks and the demo."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

from sim.clip import SCENES, ClipSpec, prepare_clip
from sim.photos import PhotoLabelError
from sim.truth import dump_truths


def _bounded(kind, lo, hi):
    def parse(text: str):
        value = kind(text)
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be between {lo} and {hi}, got {text}")
        return value

    return parse


def _clip_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--width", type=_bounded(int, 64, 3840), default=1920)
    parser.add_argument("--height", type=_bounded(int, 64, 2160), default=1080)
    parser.add_argument("--fps", type=_bounded(int, 1, 60), default=15)
    parser.add_argument("--bitrate", type=_bounded(int, 100, 50_000), default=3000, help="kbit/s")
    parser.add_argument("--gop-seconds", type=_bounded(float, 0.2, 10), default=1.0)
    parser.add_argument("--loop-seconds", type=_bounded(float, 4, 600), default=30.0)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--scene", choices=SCENES, default="street",
                        help="street: cars cross one at a time; queue: cars stop at one spot one after another; "
                        "photos: real labelled photos, each zooming toward its plate (one camera per --photos)")
    parser.add_argument("--photos", type=Path, action="append", default=[],
                        help="a folder of NAME.jpg + NAME.txt ('NAME.jpg x y w h PLATE'), one camera each")
    parser.add_argument("--seconds-per-photo", type=_bounded(float, 1, 30), default=3.0)


def _spec(args: argparse.Namespace, camera: int) -> ClipSpec:
    """The clip of camera number `camera` (1-based)."""
    if args.width % 2 or args.height % 2:
        raise SystemExit("canvass-sim: --width and --height must be even")
    if (args.scene == "photos") != bool(args.photos):
        raise SystemExit("canvass-sim: --photos goes with --scene photos, and --scene photos needs --photos")
    if args.photos and camera > len(args.photos):
        raise SystemExit(f"canvass-sim: camera {camera} has no --photos folder (there are {len(args.photos)})")
    photos = (str(args.photos[camera - 1].resolve()),) if args.photos else ()
    return ClipSpec(args.width, args.height, args.fps, args.bitrate, args.gop_seconds, args.loop_seconds, camera,
                    scene=args.scene, photos=photos, seconds_per_photo=args.seconds_per_photo)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="canvass-sim", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    camera = sub.add_parser("camera", help="serve N simulated cameras over RTSP and print their URLs")
    camera.add_argument("--port", type=_bounded(int, 1, 65535), required=True)
    camera.add_argument("--host", default="127.0.0.1")
    camera.add_argument("--count", type=_bounded(int, 1, 16), default=1)
    camera.add_argument("--params-in-sdp", action="store_true", help="send SPS/PPS only in the SDP")
    camera.add_argument("--truth-out", type=Path, help="write the plate ground truth of every camera as JSON")
    _clip_args(camera)
    clip = sub.add_parser("clip", help="generate (or find cached) the clip of one camera and print its path")
    clip.add_argument("--camera", type=_bounded(int, 1, 16), default=1)
    _clip_args(clip)
    return parser


def _cmd_camera(args: argparse.Namespace) -> int:
    from sim.rtsp import CameraServer  # needs Debian's gi: imported only here

    count = len(args.photos) or args.count
    clips = [prepare_clip(_spec(args, n), f"cam{n}", args.cache_dir) for n in range(1, count + 1)]
    if args.truth_out:
        args.truth_out.write_text(dump_truths([c.truth for c in clips]))
    server = CameraServer(clips, host=args.host, port=args.port, params_in_sdp=args.params_in_sdp)
    server.start()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: server.quit())
    print("\n".join(server.urls), flush=True)
    server.run()
    return 0


def _cmd_clip(args: argparse.Namespace) -> int:
    clip = prepare_clip(_spec(args, args.camera), f"cam{args.camera}", args.cache_dir)
    print(clip.path)
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    args = _parser().parse_args(argv)
    try:
        return {"camera": _cmd_camera, "clip": _cmd_clip}[args.command](args)
    except (OSError, PhotoLabelError) as exc:
        print(f"canvass-sim: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
