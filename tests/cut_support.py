"""Footage with a segment boundary and a gap, recorded from a real simulated camera, an enrolled box identity,
and independent readers (plain PyAV, ffprobe) to compare a cut clip with what was recorded."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import av
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.recording.index import Segment
from hub.ca import CertificateAuthority
from provisioning.identity import Identity
from provisioning.keys import key_pem, make_csr, new_key
from sim.process import CameraProcess
from tests.edge_support import EdgeProcess, wait_for

DEVICE_ID = "dev-c11p5a11ab0x"


@dataclass(frozen=True)
class Box:
    """A recording agent (still running), its camera and its enrolment."""

    agent: EdgeProcess
    camera: CameraProcess
    identity: Identity
    ca_pem: bytes
    grant_key: Ed25519PrivateKey  # the hub's policy and grant key (for a policy with privacy masks)
    before_gap: list[Segment]  # closed segments recorded before the camera went away
    after_gap: list[Segment]  # … and after it came back

    @property
    def recordings(self) -> Path:
        return self.agent.data_dir / "recordings"


def enrol(directory: Path, ca_dir: Path, device_id: str = DEVICE_ID) -> tuple[Identity, Ed25519PrivateKey]:
    """Write an enrolled identity (key, certificate from the CA in `ca_dir`, CA) as `canvass-provision enroll`
    would."""
    ca = CertificateAuthority.load_or_create(ca_dir)
    key = new_key()
    certificate = ca.issue_client(device_id, make_csr(key, device_id))
    grant_key = Ed25519PrivateKey.generate()
    grant_pub = grant_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    identity = Identity(directory, device_id, "https://hub.invalid", "127.0.0.1", 8883, grant_pub)
    identity.save(key_pem(key), certificate.pem, ca.pem)
    return identity, grant_key


def record_with_a_gap(root: Path, cache_dir: Path) -> Box:
    """Record ≥3 two-second segments, stop the camera for ~3 s, record ≥3 more; the agent keeps running.
    The identity is written after the agent started, so it records only (no hub link)."""
    camera = CameraProcess(count=1, cache_dir=cache_dir, log_path=root / "sim.log").start()
    agent = EdgeProcess(root / "edge", camera.urls, segment_seconds=2).start()
    wait_for(lambda: len(agent.closed_segments("cam1")) >= 3, timeout=60, what="three closed segments")
    camera.stop()
    index = agent.index()
    wait_for(lambda: index.open_gaps(), timeout=15, what="the camera's gap")
    before = agent.closed_segments("cam1")
    time.sleep(3)
    camera.start()
    after = wait_for(lambda: [s for s in agent.closed_segments("cam1") if s.start_us > before[-1].start_us][3:] and
                     [s for s in agent.closed_segments("cam1") if s.start_us > before[-1].start_us],
                     timeout=60, what="three closed segments after the gap")
    index.close()
    identity, grant_key = enrol(agent.data_dir / "identity", root / "ca")
    return Box(agent, camera, identity, identity.ca.read_bytes(), grant_key, before, after)


@dataclass(frozen=True)
class Recorded:
    at_us: int
    keyframe: bool
    digest: str  # of the decoded picture


def _picture_digest(frame: av.VideoFrame) -> str:
    return hashlib.sha256(frame.to_ndarray(format="yuv420p").tobytes()).hexdigest()


def decode_segment(path: Path, start_us: int) -> list[Recorded]:
    """Every frame of a recorded segment, with its recording time, decoded with plain PyAV."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [Recorded(start_us + int(f.pts * stream.time_base * 1_000_000), f.key_frame, _picture_digest(f))
                for f in container.decode(stream)]


def expected_frames(recordings: Path, segments: list[Segment], from_us: int, to_us: int) -> list[Recorded]:
    """What a clip of [from_us, to_us) must show: from the keyframe at or before from_us to the last frame
    before to_us."""
    frames = [f for s in segments for f in decode_segment(recordings / s.path, s.start_us)]
    start = max((f.at_us for f in frames if f.keyframe and f.at_us <= from_us), default=frames[0].at_us)
    return [f for f in frames if start <= f.at_us < to_us]


def recorded_packet_bytes(recordings: Path, segments: list[Segment], from_us: int, to_us: int) -> list[bytes]:
    packets = []
    for segment in segments:
        with av.open(str(recordings / segment.path)) as container:
            stream = container.streams.video[0]
            for p in container.demux(stream):
                if p.size:
                    packets.append((segment.start_us + int(p.pts * stream.time_base * 1_000_000), p.is_keyframe,
                                    bytes(p)))
    start = max(at for at, key, _ in packets if key and at <= from_us)
    return [data for at, _, data in packets if start <= at < to_us]


def clip_frames(path: Path) -> list[tuple[int, str]]:
    """(clip time in µs, picture digest) of every frame of a clip."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [(round(f.pts * stream.time_base * 1_000_000), _picture_digest(f)) for f in container.decode(stream)]


def clip_packet_bytes(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(video=0) if p.size]


def extradata(path: Path) -> bytes:
    with av.open(str(path)) as container:
        return bytes(container.streams.video[0].codec_context.extradata)


def ffprobe_stream(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_streams", "-show_format",
                          "-of", "json", str(path)], capture_output=True, text=True, check=True).stdout
    data = json.loads(out)
    return {**data["streams"][0], "format": data["format"]}


def top_level_boxes(path: Path) -> list[str]:
    """The MP4's top-level boxes in file order, as ffprobe's trace reports them."""
    trace = subprocess.run(["ffprobe", "-v", "trace", str(path)], capture_output=True, text=True).stderr
    boxes = []
    for line in trace.splitlines():  # "type:'moov' parent:'root' sz: …"
        if "parent:'root'" in line and "type:'" in line:
            boxes.append(line.split("type:'", 1)[1][:4])
    return boxes
