"""Encode a camera's loop once with ffmpeg (libx264), cache it, split it into access units.

The clip is raw H.264 Annex-B with an access unit delimiter before every
frame, so it splits exactly into one buffer per frame; SPS/PPS precede every
IDR. Cached by a hash of every parameter, written to a temporary file and
renamed, so concurrent generators never see half a clip.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from sim.photos import PhotoScene, folder_digest, labelled_photos
from sim.scene import QueueScene, StreetScene
from sim.truth import CameraTruth

logger = logging.getLogger(__name__)

FORMAT_VERSION = 3
AUD = b"\x00\x00\x00\x01\x09"
SCENES = ("street", "queue", "photos")


@dataclass(frozen=True, slots=True)
class ClipSpec:
    width: int = 1920
    height: int = 1080
    fps: int = 15
    bitrate_kbps: int = 3000
    gop_seconds: float = 1.0
    loop_seconds: float = 30.0
    seed: int = 1
    profile: str = "baseline"
    scene: str = "street"  # street: cars cross one at a time; queue: they stop at one spot; photos: see sim.photos
    photos: tuple[str, ...] = ()  # folders of labelled photos (scene "photos"), shown one after another
    seconds_per_photo: float = 3.0

    @property
    def n_frames(self) -> int:
        """Frames of a street or queue loop (a photo loop is as long as its photos make it)."""
        return round(self.fps * self.loop_seconds)

    @property
    def gop_frames(self) -> int:
        return max(1, round(self.fps * self.gop_seconds))

    def key(self) -> str:
        fields = asdict(self)
        if self.scene == "street":  # the keys street clips had before there were other scenes: caches stay valid
            for name in ("scene", "photos", "seconds_per_photo"):
                del fields[name]
        elif self.scene == "photos":
            fields["photo_digest"] = folder_digest([Path(p) for p in self.photos])
        text = json.dumps({"v": FORMAT_VERSION, **fields}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Clip:
    spec: ClipSpec
    path: Path
    truth: CameraTruth
    access_units: list[bytes]


def default_cache_dir() -> Path:
    if env := os.environ.get("CANVASS_SIM_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "canvass-sim"


def split_access_units(data: bytes) -> list[bytes]:
    """One bytes object per frame, each starting with its access unit delimiter."""
    return [AUD + part for part in data.split(AUD) if part]


Scene = StreetScene | PhotoScene


def make_scene(spec: ClipSpec) -> Scene:
    """The scene `spec` names (`ValueError` for an unknown one, `sim.photos.PhotoLabelError` for bad photos)."""
    if spec.scene == "photos":
        if not spec.photos:
            raise ValueError("the photos scene needs at least one folder of labelled photos")
        photos = [photo for folder in spec.photos for photo in labelled_photos(Path(folder))]
        return PhotoScene(photos, width=spec.width, height=spec.height, fps=spec.fps,
                          seconds_per_photo=spec.seconds_per_photo)
    kinds = {"street": StreetScene, "queue": QueueScene}
    if spec.scene not in kinds:
        raise ValueError(f"unknown scene {spec.scene!r}: choose one of {', '.join(SCENES)}")
    return kinds[spec.scene](width=spec.width, height=spec.height, fps=spec.fps, n_frames=spec.n_frames,
                             seed=spec.seed)


def _encode(spec: ClipSpec, scene: Scene, out: Path) -> None:
    command = [
        "ffmpeg", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{spec.width}x{spec.height}", "-r", str(spec.fps), "-i", "-",
        "-vf", "noise=alls=5:allf=t",
        "-c:v", "libx264", "-preset", "veryfast", "-profile:v", spec.profile, "-pix_fmt", "yuv420p",
        "-b:v", f"{spec.bitrate_kbps}k", "-maxrate", f"{spec.bitrate_kbps}k", "-bufsize", f"{spec.bitrate_kbps}k",
        "-bf", "0", "-g", str(spec.gop_frames), "-keyint_min", str(spec.gop_frames), "-sc_threshold", "0",
        "-x264-params", "aud=1:repeat-headers=1",
        "-f", "h264", str(out),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdin=subprocess.PIPE)
    assert process.stdin is not None
    try:
        for image in scene.frames():
            process.stdin.write(image.tobytes())
    finally:
        process.stdin.close()
    if process.wait() != 0:
        raise RuntimeError(f"ffmpeg failed to encode the simulated clip (exit {process.returncode})")


def prepare_clip(spec: ClipSpec, camera: str, cache_dir: Path | None = None) -> Clip:
    """The encoded clip for `spec`, generated on first use and cached."""
    cache = cache_dir or default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"clip-{spec.key()}.h264"
    scene = make_scene(spec)
    if not path.exists():
        started = time.monotonic()
        logger.info("generating %dx%d %s clip (%d frames) into %s", spec.width, spec.height, spec.scene,
                    scene.n_frames, path)
        with tempfile.NamedTemporaryFile(dir=cache, prefix=".clip-", suffix=".h264", delete=False) as tmp:
            tmp_path = Path(tmp.name)
        try:
            _encode(spec, scene, tmp_path)
            os.replace(tmp_path, path)
        finally:
            tmp_path.unlink(missing_ok=True)
        logger.info("clip ready in %.1f s", time.monotonic() - started)
    units = split_access_units(path.read_bytes())
    if len(units) != scene.n_frames:
        raise RuntimeError(f"clip {path} has {len(units)} frames, expected {scene.n_frames}; delete it to regenerate")
    truth = CameraTruth(camera, spec.fps, scene.n_frames, spec.width, spec.height, scene.truth())
    return Clip(spec, path, truth, units)
