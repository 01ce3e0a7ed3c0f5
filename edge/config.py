"""Appliance configuration: a TOML file validated by pydantic.

Every field is bounded and described; unknown keys are refused so a typo
never silently falls back to a default. Camera URLs may carry credentials:
they are kept out of every log line and error message (see `wire.urls.redact_url`).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edge.errors import ConfigError
from wire.messages import NAME_PATTERN
from wire.urls import redact_url

MAX_CAMERAS = 4


def _check_rtsp_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ValueError(f"not a valid URL ({exc})") from None
    if parts.scheme not in ("rtsp", "rtsps"):
        raise ValueError("must start with rtsp:// or rtsps://")
    if not parts.hostname:
        raise ValueError("has no host")
    return url


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApplianceConfig(_Strict):
    id: Annotated[str, Field(pattern=NAME_PATTERN, description="Appliance identity, unique per hub (lower-case letters, digits, - and _).")]
    data_dir: Annotated[Path, Field(description="Directory holding recordings, the index and local state.")]


class CameraConfig(_Strict):
    name: Annotated[str, Field(pattern=NAME_PATTERN, description="Camera name, unique on this appliance; used in paths.")]
    url: Annotated[
        str, Field(max_length=2048, repr=False, description="RTSP URL of the main stream; credentials allowed, never logged.")
    ]
    substream_url: Annotated[
        str | None,
        Field(default=None, max_length=2048, repr=False, description="Optional lower-resolution RTSP stream for analytics."),
    ] = None
    retention_days: Annotated[float, Field(gt=0, le=365, description="Days of video kept for this camera.")] = 30

    _check_url = field_validator("url")(lambda cls, v: _check_rtsp_url(v))

    @field_validator("substream_url")
    @classmethod
    def _check_substream(cls, value: str | None) -> str | None:
        return None if value is None else _check_rtsp_url(value)

    @property
    def safe_url(self) -> str:
        """The URL with credentials redacted, for logs and status output."""
        return redact_url(self.url)


class RecordingConfig(_Strict):
    segment_seconds: Annotated[
        float, Field(ge=2, le=600, description="Target segment length; cut at the first keyframe past it.")
    ] = 60
    max_bytes: Annotated[
        int | None, Field(default=None, ge=1 << 20, description="Disk budget for recordings in bytes; none = the volume.")
    ] = None
    min_free_bytes: Annotated[
        int, Field(ge=0, description="Free space kept on the volume; oldest unheld segments are evicted to keep it.")
    ] = 1 << 30
    sync_interval_ms: Annotated[
        int,
        Field(
            ge=0,
            le=5000,
            description="One thread fdatasyncs every camera's open segment this often, so a power cut loses at most "
            "this much video (66 ms = one frame at 15 fps); 0 = after every frame on each camera's own writer.",
        ),
    ] = 66
    retention_check_seconds: Annotated[
        float, Field(gt=0, le=300, description="How often retention re-checks age and disk budget.")
    ] = 5
    writer_queue_seconds: Annotated[
        float, Field(ge=1, le=120, description="Seconds of video buffered between camera and disk before dropping.")
    ] = 20
    coverage_report_seconds: Annotated[
        float,
        Field(
            ge=5,
            le=3600,
            description="An enrolled box tells the hub what each camera recorded (and its gaps) at most this often "
            "per camera; the hub's canvass knows a camera's recording up to about this long (plus a segment) ago.",
        ),
    ] = 60


class CaptureConfig(_Strict):
    open_timeout_s: Annotated[float, Field(gt=0, le=60, description="Give up opening a camera after this long.")] = 5
    frozen_after_s: Annotated[
        float, Field(ge=1, le=60, description="A camera sending nothing for this long is treated as frozen.")
    ] = 6
    backoff_initial_s: Annotated[float, Field(gt=0, le=60, description="First reconnect delay.")] = 0.25
    backoff_max_s: Annotated[float, Field(gt=0, le=300, description="Cap on the reconnect delay.")] = 2
    gop_cache_max_packets: Annotated[
        int, Field(ge=1, le=10_000, description="Most packets kept in the GOP cache if keyframes stop coming.")
    ] = 600


class StreamingConfig(_Strict):
    max_sessions: Annotated[int, Field(ge=1, le=16, description="WebRTC sessions at once on this appliance.")] = 4
    ice_host_addresses: Annotated[list[str], Field(
        max_length=8, description="Addresses to offer as ICE host candidates (empty: every interface). "
        "127.0.0.1 must be listed for a hub on the same machine.")] = []
    relay_only: Annotated[bool, Field(description=(
        "Send media only through the TURN servers the hub names in each stream.start (with credentials it made "
        "for that session), never from this appliance's own addresses: for boxes whose network lets nothing "
        "else through."))] = False
    keepalive_timeout_s: Annotated[float, Field(gt=1, le=300, description="End a session the hub has stopped "
                                                "asking for after this long.")] = 20


class AlprConfig(_Strict):
    """Plate reading on the box; on when the config has an [alpr] section."""

    backend: Annotated[Literal["fast", "offline"], Field(
        description="fast: HyperLPR3 detector + fast-plate-ocr (models fetched with `canvass-alpr models fetch`); "
        "offline: PP-OCRv4 from the installed rapidocr-onnxruntime wheel, no download.")] = "offline"
    model_dir: Annotated[Path | None, Field(
        description="Where fetched models are (default: $CANVASS_MODEL_DIR or ~/.local/share/canvass/models).")] = None
    region: Annotated[Literal["us", "eu", "br"] | None, Field(
        description="Plate formats of this country, used to resolve O/0, I/1, B/8, S/5 by position.")] = None
    analysis_fps: Annotated[float, Field(ge=0.5, le=30, description="Frames analysed per second per camera "
                                          "while there is motion (fewer under load: frames are dropped).")] = 5
    motion_threshold: Annotated[float, Field(gt=0, lt=1, description="Fraction of a frame's (downscaled) pixels "
                                             "that must change for it to count as motion.")] = 0.002
    idle_after_s: Annotated[float, Field(ge=0.5, le=60, description="After this long without motion only "
                                         "keyframes are decoded (to notice motion again).")] = 3
    min_observations: Annotated[int, Field(ge=1, le=30, description="Frames a plate must be read in to count "
                                           "as a vehicle pass.")] = 2
    hotlist_max_edits: Annotated[Literal[0, 1], Field(description="1: a read one character off a hot-list plate "
                                                      "(after look-alikes) is a hit too.")] = 0
    same_plate_window_s: Annotated[float, Field(ge=0, le=3600, description="A plate seen again within this "
                                                "long of its last sighting is the same pass (a car that stopped or "
                                                "parked gives one read, not one per sighting).")] = 10
    second_opinion: Annotated[bool, Field(description="fast backend: characters its vote over a pass leaves close "
                                          "(look-alikes) are decided again with PP-OCRv4 recognition (in the "
                                          "rapidocr wheel) reading the pass's best frames.")] = True


class ClipsConfig(_Strict):
    """Clips the hub asks for: how the box uploads them and how long it keeps what it cut."""

    upload_max_bytes_per_s: Annotated[int, Field(ge=64 * 1024, le=10**10, description=(
        "Most bytes per second a clip upload may use (set it to a share of the site's uplink, so "
        "uploading never crowds out anything else)."))] = 25 * 1024 * 1024
    upload_chunk_bytes: Annotated[int, Field(ge=64 * 1024, le=64 * 1024 * 1024, description=(
        "Bytes per upload request (at most a quarter second of upload_max_bytes_per_s); an interrupted upload "
        "resumes from the last whole chunk. The hub pays a fixed cost per request (two fsyncs and the request "
        "itself), so small chunks cap a fast link (docs/benchmarks.md)."))] = 4 * 1024 * 1024
    upload_attempts: Annotated[int, Field(ge=1, le=100, description=(
        "Tries (with growing pauses) before an upload is reported failed."))] = 8
    keep_cut_days: Annotated[int, Field(ge=0, le=30, description=(
        "Days a clip stays on the box after the hub has it (0: deleted at once)."))] = 1


class EdgeConfig(_Strict):
    appliance: ApplianceConfig
    cameras: Annotated[list[CameraConfig], Field(min_length=1, description=f"At most {MAX_CAMERAS} cameras.")]
    recording: RecordingConfig = RecordingConfig()
    capture: CaptureConfig = CaptureConfig()
    streaming: StreamingConfig = StreamingConfig()
    alpr: AlprConfig | None = None
    clips: ClipsConfig = ClipsConfig()

    @field_validator("cameras")
    @classmethod
    def _at_most_four(cls, cameras: list[CameraConfig]) -> list[CameraConfig]:
        if len(cameras) > MAX_CAMERAS:
            raise ValueError(f"at most {MAX_CAMERAS} cameras per appliance, got {len(cameras)}")
        return cameras

    @model_validator(mode="after")
    def _unique_names(self) -> EdgeConfig:
        names = [c.name for c in self.cameras]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"camera names must be unique, repeated: {', '.join(duplicates)}")
        if self.capture.backoff_initial_s > self.capture.backoff_max_s:
            raise ValueError("capture.backoff_initial_s must not exceed capture.backoff_max_s")
        return self

    def camera(self, name: str) -> CameraConfig:
        """The camera called `name`; ConfigError if there is none."""
        for camera in self.cameras:
            if camera.name == name:
                return camera
        raise ConfigError(f"no camera named {name!r} (have: {', '.join(c.name for c in self.cameras)})")


def _describe(error: ValidationError) -> str:
    # Built from loc and msg only: pydantic's default text repeats the input
    # value, which for a URL may contain a password.
    lines = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"  {where}: {message}")
    return "\n".join(lines)


def parse_config(text: str, *, source: str = "<config>") -> EdgeConfig:
    """Parse TOML text into an EdgeConfig, or raise ConfigError naming the fields."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    try:
        return EdgeConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: invalid configuration:\n{_describe(exc)}") from None


def load_config(path: Path) -> EdgeConfig:
    """Read and validate the configuration file at `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    return parse_config(text, source=str(path))
