"""Whether an uploaded file is video: FFmpeg's `ffprobe` (Debian's ffmpeg) run on it in a subprocess with a
time limit — a hostile file can only make that process fail, never the hub. Video means a container FFmpeg
reads and at least one moving-picture stream (a still image or cover art is not one)."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

FFPROBE = shutil.which("ffprobe") or "/usr/bin/ffprobe"
PROBE_TIMEOUT_S = 60
#: Formats FFmpeg uses for single pictures; a file read as one of these is a photo, not footage.
STILL_FORMATS = ("image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "webp_pipe", "gif", "gif_pipe", "tiff_pipe",
                 "svg_pipe")


@dataclass(frozen=True)
class Probed:
    container: str
    video_codec: str
    duration_s: float | None


class NotVideo(ValueError):
    """The file is not video FFmpeg can read; the message says what was found, for the person uploading."""


def verdict(report: dict) -> Probed:
    """Judge ffprobe's JSON report (pure: tested on its own)."""
    container = (report.get("format") or {}).get("format_name") or ""
    if not container:
        raise NotVideo("this file is not a video container FFmpeg can read")
    if any(name in STILL_FORMATS for name in container.split(",")):
        raise NotVideo("this file is a picture, not video")
    video = [s for s in report.get("streams") or [] if s.get("codec_type") == "video"
             and not (s.get("disposition") or {}).get("attached_pic")]
    if not video:
        raise NotVideo(f"this file ({container}) has no video stream")
    try:
        duration = float(report["format"]["duration"])
    except (KeyError, TypeError, ValueError):
        duration = None
    return Probed(container[:100], str(video[0].get("codec_name") or "unknown")[:50], duration)


def probe(path: Path) -> Probed:
    """Probe the file at `path` (NotVideo if it is not video)."""
    try:
        done = subprocess.run([FFPROBE, "-v", "error", "-show_entries",
                               "format=format_name,duration:stream=codec_type,codec_name:stream_disposition="
                               "attached_pic", "-of", "json", str(path)],
                              capture_output=True, timeout=PROBE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise NotVideo("FFmpeg could not read this file in time") from None
    if done.returncode != 0:
        raise NotVideo("this file is not a video FFmpeg can read")
    try:
        report = json.loads(done.stdout or b"{}")
    except ValueError:
        raise NotVideo("this file is not a video FFmpeg can read") from None
    return verdict(report)
