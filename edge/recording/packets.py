"""The typed objects that flow from a camera connection to its consumers."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What a consumer needs to mux or decode one camera connection's packets.

    A new StreamInfo (new `connection`) is made each time the camera is
    (re)opened; `extradata` holds SPS/PPS (Annex-B), from the SDP or the
    first keyframe, so cameras that send them only in the SDP still work."""

    camera: str
    connection: int
    codec: str
    width: int
    height: int
    time_base: Fraction
    frame_duration: int  # in time_base units, nominal
    extradata: bytes


@dataclass(frozen=True, slots=True)
class MediaPacket:
    """One encoded video frame, copied out of the demuxer so it can be shared.

    `pts`/`dts` are never None (missing camera timestamps are filled in);
    `wall_us` is the box's UTC wall-clock time of the frame, anchored when
    the connection opened and advanced by the camera's timestamps."""

    stream: StreamInfo
    data: bytes
    pts: int
    dts: int
    duration: int
    keyframe: bool
    wall_us: int


@dataclass(frozen=True, slots=True)
class StreamLost:
    """The camera connection ended (error, timeout or stop) at `at_us`."""

    camera: str
    connection: int
    at_us: int
    reason: str
