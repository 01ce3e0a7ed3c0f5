"""What the owner's snapshot costs the box: process CPU seconds to decode a camera's newest keyframe and write it
as the bounded JPEG (`edge.streaming.snapshot`), beside the decode alone (the baseline, same run, same keyframe).

The keyframe is the first of a simulated camera's H.264 clip (1920×1080, from .cache/sim; run the test suite or
`canvass-sim` once to make it). CPU time (time.process_time), median of `--trials`: the machine is shared.

    python bench/owner_snapshot.py [--trials 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from fractions import Fraction
from pathlib import Path

import av

from edge.recording.packets import MediaPacket, StreamInfo
from edge.streaming.snapshot import decode_keyframe, jpeg_of

CACHE = Path(__file__).resolve().parent.parent / ".cache" / "sim"


def first_gop(path: Path) -> list[MediaPacket]:
    with av.open(str(path), format="h264") as container:
        stream = container.streams.video[0]
        info = StreamInfo("bench", 1, "h264", stream.codec_context.width or 1920, stream.codec_context.height or 1080,
                          Fraction(1, 90000), 3600, b"")
        packets = []
        for i, packet in enumerate(container.demux(stream)):
            if packet.size == 0:
                continue
            if packets and packet.is_keyframe:
                break
            packets.append(MediaPacket(info, bytes(packet), i * 3600, i * 3600, 3600, packet.is_keyframe, 0))
        return packets


def cpu_median(work, trials: int) -> float:
    samples = []
    for _ in range(trials):
        start = time.process_time()
        work()
        samples.append(time.process_time() - start)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    clips = sorted(CACHE.glob("clip-*.h264"))
    if not clips:
        print(f"no simulated clip in {CACHE}: run canvass-sim or the tests once", file=sys.stderr)
        return 2
    gop = first_gop(clips[0])
    frame = decode_keyframe(gop)
    jpeg, width, height = jpeg_of(frame, max_width=960)
    decode_s = cpu_median(lambda: decode_keyframe(gop), args.trials)
    snapshot_s = cpu_median(lambda: jpeg_of(decode_keyframe(gop), max_width=960), args.trials)
    result = {"source": f"{frame.width}x{frame.height}", "snapshot": f"{width}x{height}", "jpeg_bytes": len(jpeg),
              "trials": args.trials, "decode_cpu_s_median": round(decode_s, 4),
              "snapshot_cpu_s_median": round(snapshot_s, 4)}
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
