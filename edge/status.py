"""What `canvass-edge status` and `segments` report, built from the index."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from edge.clock import ClockStatus
from edge.config import EdgeConfig
from edge.recording.index import Segment, SegmentIndex
from edge.recording.retention import Budget, DiskUsage, bytes_to_free
from edge.recording.storage import Layout, free_bytes

HEARTBEAT_KEY = "agent_heartbeat_us"
AGENT_STALE_US = 30_000_000


def iso(us: int | None) -> str | None:
    """UTC ISO-8601 with microseconds, or None."""
    if us is None:
        return None
    return datetime.fromtimestamp(us / 1_000_000, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_time(text: str) -> int:
    """An ISO-8601 time (UTC if no offset is given) as epoch microseconds."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp()) * 1_000_000 + value.microsecond


def segment_json(segment: Segment, layout: Layout) -> dict[str, Any]:
    return {
        "id": segment.id,
        "camera": segment.camera,
        "start": iso(segment.start_us),
        "end": iso(segment.end_us),
        "duration_s": None if segment.end_us is None else (segment.end_us - segment.start_us) / 1e6,
        "bytes": segment.bytes,
        "frames": segment.frames,
        "path": str(layout.absolute(segment.path)),
        "sha256": segment.sha256,
        "state": segment.state,
    }


def build_status(config: EdgeConfig, index: SegmentIndex, clock: ClockStatus, now_us: int) -> dict[str, Any]:
    layout = Layout(config.appliance.data_dir)
    states = index.camera_states()
    heartbeat = index.meta(HEARTBEAT_KEY)
    running = heartbeat is not None and now_us - heartbeat < AGENT_STALE_US
    cameras = []
    for camera in config.cameras:
        state = states.get(camera.name)
        oldest, newest = index.span(camera.name)
        open_gaps = [g for g in index.open_gaps() if g.camera == camera.name]
        recording = running and state is not None and state.state == "online"
        cameras.append(
            {
                "name": camera.name,
                "url": camera.safe_url,
                "state": state.state if state and running else "not running",
                "since": iso(state.since_us) if state else None,
                "detail": state.detail if state else "",
                "recording": recording,
                "oldest": iso(oldest),
                "newest": iso(newest),
                "offline_since": iso(open_gaps[0].start_us) if open_gaps else None,
                "retention_days": camera.retention_days,
            }
        )
    stored = index.stored_bytes()
    free = free_bytes(config.appliance.data_dir)
    budget = Budget(config.recording.max_bytes, config.recording.min_free_bytes)
    alarms = [{"key": a.key, "level": a.level, "message": a.message, "since": iso(a.since_us)} for a in index.alarms()]
    if not clock.synchronised and not any(a["key"].startswith("clock:") for a in alarms):
        alarms.append({"key": "clock:unsynchronised", "level": "critical", "message": clock.detail, "since": iso(now_us)})
    return {
        "appliance": config.appliance.id,
        "agent": {"running": running, "heartbeat": iso(heartbeat)},
        "clock": {"synchronised": clock.synchronised, "detail": clock.detail, "now": iso(now_us)},
        "disk": {
            "data_dir": str(layout.data_dir),
            "recorded_bytes": stored,
            "held_bytes": index.held_bytes(now_us=now_us),
            "free_bytes": free,
            "max_bytes": config.recording.max_bytes,
            "min_free_bytes": config.recording.min_free_bytes,
            "over_budget_bytes": bytes_to_free(DiskUsage(stored, free), budget),
        },
        "cameras": cameras,
        "alarms": alarms,
    }


def format_status(status: dict[str, Any]) -> str:
    """The status as text for a person at a terminal."""
    agent = "running" if status["agent"]["running"] else "NOT RUNNING"
    disk = status["disk"]
    clock = "synchronised" if status["clock"]["synchronised"] else "NOT SYNCHRONISED"
    lines = [
        f"appliance {status['appliance']}: agent {agent}; clock {clock}",
        f"disk: {disk['recorded_bytes'] / 1e9:.2f} GB recorded, {disk['free_bytes'] / 1e9:.2f} GB free "
        f"(budget: max {disk['max_bytes'] or 'volume'}, keep {disk['min_free_bytes'] / 1e9:.2f} GB free)",
    ]
    for camera in status["cameras"]:
        lines.append(
            f"  {camera['name']:<12} {camera['state']:<12} recording={'yes' if camera['recording'] else 'no':<3} "
            f"oldest={camera['oldest']} newest={camera['newest']}"
        )
    for alarm in status["alarms"]:
        lines.append(f"ALARM [{alarm['level']}] {alarm['key']}: {alarm['message']} (since {alarm['since']})")
    return "\n".join(lines)
