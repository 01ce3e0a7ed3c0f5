"""Cutting an evidence clip on the box: a 10-minute 1080p15 window out of recorded 60 s segments.

The segments are made the way the recorder makes them: the simulator's 1080p15 ~3 Mbit/s H.264 clip
(sim/, looped) written frame by frame through the recorder's own `SegmentFile` (fMP4, a fragment per
frame), cut every 60 s, hashed and indexed as closed. Then, `--repeats` times each, alternating:

- `hash`: only the SHA-256 of the window's source segments (a part of `cut`);
- `cut`: `edge.clips.cut.cut_clip` alone (every source segment's SHA-256 checked, packets copied into one
  faststart MP4);
- `export`: `edge.clips.export.export_clip_blocking`, what the agent runs for a request (the cut, the
  clip's SHA-256, the signed manifest, fsync and rename of both).

Each is run with the segments in the page cache (`warm`: just recorded) and evicted from it
(`cold`: posix_fadvise DONTNEED on the segment files only, the usual case for older footage). Figures:
wall seconds, CPU seconds of this process (all threads), clip MB per wall second; medians of the repeats.
`--masked-seconds N` also times the masked path (decode, paint, libx264) over N seconds of the window.

    .venv/bin/python bench/clip_cut.py --json
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.measure import print_figures  # noqa: E402
from edge.clips.cut import cut_clip  # noqa: E402
from edge.clips.export import export_clip_blocking  # noqa: E402
from edge.clips.manifest import BoxSigner  # noqa: E402
from edge.recording.h264 import NAL_IDR, iter_nals, nal_type, parameter_sets  # noqa: E402
from edge.recording.index import SegmentIndex  # noqa: E402
from edge.recording.packets import MediaPacket, StreamInfo  # noqa: E402
from edge.recording.segment_file import SegmentFile  # noqa: E402
from edge.recording.storage import Layout, sha256_file  # noqa: E402
from edge.recording.durability import Syncer  # noqa: E402
from sim.clip import ClipSpec, prepare_clip  # noqa: E402
from tests.cut_support import enrol  # noqa: E402
from wire.evidence import file_sha256  # noqa: E402

T0_US = 1_800_000_000_000_000
TICKS = 90_000
MASKS = [[(0.0, 0.0), (0.3, 0.0), (0.3, 0.4), (0.0, 0.4)]]


def record(layout: Layout, index: SegmentIndex, *, minutes: int, segment_s: int, start_us: int = T0_US,
           camera: str = "cam1") -> int:
    """`minutes` of the simulator's clip as closed, indexed segments of `segment_s` from `start_us`; returns the
    bytes."""
    spec = ClipSpec()
    units = prepare_clip(spec, "cam1", REPO / ".cache" / "sim").access_units
    step = TICKS // spec.fps
    stream = StreamInfo(camera, 1, "h264", spec.width, spec.height, Fraction(1, TICKS), step,
                        parameter_sets(units[0]))
    syncer = Syncer(1.0)  # registered, never started: one fdatasync per segment at close, as the bench needs
    per_segment, total = spec.fps * segment_s, 0
    for first in range(0, spec.fps * 60 * minutes, per_segment):
        segment_us = start_us + first * 1_000_000 // spec.fps
        relpath = layout.segment_relpath(camera, segment_us)
        path = layout.absolute(relpath)
        path.parent.mkdir(parents=True, exist_ok=True)
        file = None
        for n in range(first, first + per_segment):
            data = units[n % len(units)]
            keyframe = any(nal_type(nal) == NAL_IDR for nal in iter_nals(data[:256]))
            packet = MediaPacket(stream, data, n * step, n * step, step, keyframe, start_us + n * 1_000_000 // spec.fps)
            file = file or SegmentFile(path, packet, syncer=syncer)
            file.write(packet)
        file.close()
        size = path.stat().st_size
        index.add_segment(camera=camera, start_us=segment_us, end_us=segment_us + segment_s * 1_000_000, size=size,
                          frames=per_segment, sha256=sha256_file(path), path=relpath, state="closed")
        total += size
    return total


def evict(layout: Layout) -> None:
    """Drop the segment files (only them) from the page cache."""
    evict_files(layout.recordings.rglob("*.mp4"))


def evict_files(paths) -> None:
    """Drop these files (only them) from the page cache."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def timed(run) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    size = run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"wall_s": wall, "cpu_s": cpu, "mb_per_s": size / wall / 1e6, "bytes": size}


def trial(kind: str, layout: Layout, index: SegmentIndex, signer: BoxSigner, out: Path, window: tuple[int, int],
          label: str, masks=()) -> dict:
    from_us, to_us = window
    if kind == "hash":  # the part of a cut that checks every source segment's SHA-256

        def run():
            segments = index.segments("cam1", from_us=from_us, to_us=to_us)
            return sum(file_sha256(layout.absolute(segment.path))[1] for segment in segments)
    elif kind == "cut":
        target = out / f"cut-{label}.mp4"

        def run():
            cut_clip(index, layout.recordings, "cam1", from_us=from_us, to_us=to_us, out_path=target, masks=masks)
            return target.stat().st_size
    else:
        def run():
            exported = export_clip_blocking(index=index, recordings_dir=layout.recordings, signer=signer,
                                            camera="cam1", from_us=from_us, to_us=to_us, out_dir=out / f"export-{label}")
            return exported.clip_bytes
    return timed(run)


def median_of(runs: list[dict]) -> dict:
    return {key: round(statistics.median(r[key] for r in runs), 3) for key in ("wall_s", "cpu_s", "mb_per_s")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--minutes", type=int, default=10, help="length of the window cut")
    parser.add_argument("--segment-seconds", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--masked-seconds", type=int, default=0, help="also time the masked path over this long")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-clip-") as tmp:
        root = Path(tmp)
        layout = Layout(root / "data")
        index = SegmentIndex(layout.index_path)
        identity, _ = enrol(root / "identity", root / "ca", "dev-bench0000000")
        signer = BoxSigner.from_identity(identity)
        recorded = record(layout, index, minutes=args.minutes + 1, segment_s=args.segment_seconds)
        window = (T0_US + 30_500_000, T0_US + 30_500_000 + args.minutes * 60_000_000)  # starts mid-segment
        out = root / "out"
        out.mkdir()
        runs: dict[str, list[dict]] = {}
        for n in range(args.repeats):
            for kind in ("hash", "cut", "export"):
                for cache in ("warm", "cold"):
                    if cache == "cold":
                        evict(layout)
                    figures = trial(kind, layout, index, signer, out, window, f"{n}-{cache}")
                    runs.setdefault(f"{kind}_{cache}", []).append(figures)
        result = {"window_minutes": args.minutes, "segments_bytes": recorded,
                  "clip_bytes": runs["cut_warm"][0]["bytes"], "repeats": args.repeats,
                  **{name: median_of(r) for name, r in runs.items()},
                  "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"}
        if args.masked_seconds:
            masked_window = (window[0], window[0] + args.masked_seconds * 1_000_000)
            result["masked"] = {"seconds": args.masked_seconds,
                                **median_of([trial("cut", layout, index, signer, out, masked_window, "masked", MASKS)])}
        index.close()
    print_figures(result, args.json)


if __name__ == "__main__":
    main()
