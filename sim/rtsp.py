"""Serve simulated cameras over RTSP with GStreamer's gst-rtsp-server.

One shared pipeline per mount (`/cam1`, `/cam2`, ...) serves every client.
An `appsrc` is fed one access unit per buffer with continuous timestamps
across loop wrap-around, at real-time pace (the sinks sync to the clock).
Each media starts at loop frame `int(time.time() * fps) % n_frames`, which
is what `sim.truth.passes_between` assumes.

With `params_in_sdp`, SPS/PPS are stripped from the stream and given only as
avcC codec data, so they reach clients only in the SDP's
sprop-parameter-sets, as many real cameras do.
"""

from __future__ import annotations

import logging
import struct
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

from sim.clip import Clip  # noqa: E402

logger = logging.getLogger(__name__)

_BYTESTREAM = "video/x-h264,stream-format=byte-stream,alignment=au"
_LAUNCH = "( appsrc name=src is-live=true format=time do-timestamp=false caps={caps} ! {parse}rtph264pay name=pay0 pt=96 config-interval={interval} )"


def _nals(access_unit: bytes) -> list[bytes]:
    parts = access_unit.replace(b"\x00\x00\x00\x01", b"\x00\x00\x01").split(b"\x00\x00\x01")
    return [p for p in parts if p]


def to_avc(clip: Clip) -> tuple[bytes, list[bytes]]:
    """avcC codec data and length-prefixed access units without SPS/PPS/AUD."""
    sps = pps = None
    units = []
    for access_unit in clip.access_units:
        kept = []
        for nal in _nals(access_unit):
            kind = nal[0] & 0x1F
            if kind == 7:
                sps = sps or nal
            elif kind == 8:
                pps = pps or nal
            elif kind != 9:
                kept.append(struct.pack(">I", len(nal)) + nal)
        units.append(b"".join(kept))
    if sps is None or pps is None:
        raise ValueError("clip has no SPS/PPS")
    avcc = bytes([1, sps[1], sps[2], sps[3], 0xFF, 0xE1]) + struct.pack(">H", len(sps)) + sps
    avcc += bytes([1]) + struct.pack(">H", len(pps)) + pps
    return avcc, units


class LoopingCameraFactory(GstRtspServer.RTSPMediaFactory):
    """A mount serving one clip in a loop, shared by all its clients."""

    def __init__(self, clip: Clip, *, params_in_sdp: bool) -> None:
        super().__init__()
        self.clip = clip
        self.params_in_sdp = params_in_sdp
        self.frame_ns = Gst.SECOND // clip.spec.fps
        if params_in_sdp:
            codec_data, self.units = to_avc(clip)
            caps = f"video/x-h264,stream-format=avc,alignment=au,codec_data=(buffer){codec_data.hex()}"
            self.launch = _LAUNCH.format(caps=f'"{caps}"', parse="", interval=0)
        else:
            self.units = clip.access_units
            self.launch = _LAUNCH.format(caps=_BYTESTREAM, parse="h264parse ! ", interval=-1)
        self.set_shared(True)

    def do_create_element(self, url):  # noqa: N802 - GStreamer virtual method
        return Gst.parse_launch(self.launch)

    def do_configure(self, media):  # noqa: N802 - GStreamer virtual method
        source = media.get_element().get_child_by_name("src")
        n_frames = len(self.units)
        state = {"sent": 0, "offset": int(time.time() * self.clip.spec.fps) % n_frames}

        def on_need_data(src, _length):
            sent = state["sent"]
            data = self.units[(state["offset"] + sent) % n_frames]
            buffer = Gst.Buffer.new_wrapped(data)
            buffer.pts = buffer.dts = sent * self.frame_ns
            buffer.duration = self.frame_ns
            if (state["offset"] + sent) % self.clip.spec.gop_frames:
                buffer.set_flags(Gst.BufferFlags.DELTA_UNIT)
            state["sent"] = sent + 1
            src.emit("push-buffer", buffer)

        source.connect("need-data", on_need_data)


class CameraServer:
    """An RTSP server with one looping mount per clip."""

    def __init__(self, clips: list[Clip], *, host: str, port: int, params_in_sdp: bool) -> None:
        Gst.init(None)
        self.server = GstRtspServer.RTSPServer()
        self.server.set_address(host)
        self.server.set_service(str(port))
        self.host, self.port = host, port
        mounts = self.server.get_mount_points()
        self.paths = []
        for n, clip in enumerate(clips, start=1):
            path = f"/cam{n}"
            mounts.add_factory(path, LoopingCameraFactory(clip, params_in_sdp=params_in_sdp))
            self.paths.append(path)
        self.loop = GLib.MainLoop()

    def start(self) -> None:
        if self.server.attach(None) == 0:
            raise OSError(f"cannot listen on {self.host}:{self.port} (port in use?)")

    @property
    def urls(self) -> list[str]:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return [f"rtsp://{host}:{self.port}{path}" for path in self.paths]

    def run(self) -> None:
        self.loop.run()

    def quit(self) -> None:
        self.loop.quit()
