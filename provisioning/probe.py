"""`canvass-provision probe URL`: what an RTSP camera sends, and whether it suits the appliance.

Opens the camera the way the recorder does (TCP, small probe), reads packets
for a few seconds without decoding, and reports codec, resolution, frame
rate (measured from timestamps), keyframe interval and whether SPS/PPS come
in the SDP. A keyframe interval over 2 s is flagged: live streams start at a
keyframe, so it delays "stream now".
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, field

import av

from wire.urls import redact_url

MAX_GOP_S = 2.0


class ProbeError(RuntimeError):
    pass


@dataclass
class ProbeResult:
    url: str
    codec: str
    width: int
    height: int
    fps: float | None
    keyframe_interval_s: float | None
    params_in_sdp: bool
    packets: int
    seconds: float
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def probe(url: str, *, seconds: float = 5.0, open_timeout_s: float = 10.0) -> ProbeResult:
    shown = redact_url(url)
    options = {"rtsp_transport": "tcp", "analyzeduration": "100000", "probesize": "100000",
               "timeout": str(int(open_timeout_s * 1_000_000))}
    try:
        container = av.open(url, options=options, timeout=(open_timeout_s, open_timeout_s))
    except (av.error.FFmpegError, OSError) as exc:
        raise ProbeError(f"cannot open {shown}: {exc.__class__.__name__}: {getattr(exc, 'strerror', '') or exc}"
                         ) from None
    try:
        if not container.streams.video:
            raise ProbeError(f"{shown} has no video stream")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        time_base = float(stream.time_base or 1 / 90_000)
        dts_seen: list[int] = []
        keyframes: list[int] = []
        packets = 0
        started = time.monotonic()
        for packet in container.demux(stream):
            if packet.size == 0 or packet.dts is None:
                continue
            packets += 1
            dts_seen.append(packet.dts)
            if packet.is_keyframe:
                keyframes.append(packet.dts)
            if time.monotonic() - started >= seconds and len(keyframes) >= 3:
                break
            if time.monotonic() - started >= seconds * 3:
                break
        elapsed = time.monotonic() - started
    except av.error.FFmpegError as exc:
        raise ProbeError(f"reading {shown} failed: {exc}") from None
    finally:
        container.close()
    fps = None
    if len(dts_seen) >= 2 and dts_seen[-1] > dts_seen[0]:
        fps = round((len(dts_seen) - 1) / ((dts_seen[-1] - dts_seen[0]) * time_base), 2)
    gop = None
    if len(keyframes) >= 2:
        gop = round(statistics.median(b - a for a, b in zip(keyframes, keyframes[1:])) * time_base, 3)
    result = ProbeResult(url=shown, codec=ctx.name, width=ctx.width, height=ctx.height, fps=fps,
                         keyframe_interval_s=gop, params_in_sdp=bool(ctx.extradata), packets=packets,
                         seconds=round(elapsed, 2))
    result.warnings = warnings_for(result)
    return result


def warnings_for(result: ProbeResult) -> list[str]:
    found = []
    if result.codec != "h264":
        found.append(f"codec {result.codec} is not H.264: the appliance records H.264 only")
    if result.keyframe_interval_s is None:
        found.append("fewer than two keyframes seen: keyframe interval unknown (is the GOP very long?)")
    elif result.keyframe_interval_s > MAX_GOP_S:
        found.append(f"keyframe interval {result.keyframe_interval_s:.1f} s is over {MAX_GOP_S:.0f} s: "
                     "live streams will take that long to start; set the camera's I-frame interval to ≤ 2 s")
    return found
