"""Drive a real `canvass-edge run` process and read what it recorded."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import av

from edge.errors import SegmentIndexError
from edge.recording.index import Segment, SegmentIndex

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], *, timeout: float, interval: float = 0.2, what: str = "condition") -> T:
    """Poll until `predicate()` is truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def config_text(data_dir: Path, urls: list[str], *, streaming: dict | None = None, **recording: object) -> str:
    lines = ["[appliance]", 'id = "test-box"', f'data_dir = "{data_dir}"', "[recording]"]
    recording.setdefault("min_free_bytes", 0)
    lines += [f"{key} = {json.dumps(value)}" for key, value in recording.items()]
    # Tests run hub and appliance on loopback, which aioice leaves out unless told.
    streaming = {"ice_host_addresses": ["127.0.0.1"], **(streaming or {})}
    lines += ["[streaming]", *(f"{key} = {json.dumps(value)}" for key, value in streaming.items())]
    for n, url in enumerate(urls, start=1):
        lines += ["[[cameras]]", f'name = "cam{n}"', f'url = "{url}"']
    return "\n".join(lines) + "\n"


class EdgeProcess:
    """One agent process with its own config and data directory."""

    def __init__(self, root: Path, urls: list[str], *, data_dir: Path | None = None, **recording: object) -> None:
        self.root = root
        self.data_dir = data_dir or root / "data"
        self.config = root / "edge.toml"
        self.log = root / "edge.log"
        root.mkdir(parents=True, exist_ok=True)
        self.config.write_text(config_text(self.data_dir, urls, **recording))
        self.process: subprocess.Popen | None = None

    def start(self) -> EdgeProcess:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "edge.cli", "run", "--config", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(lambda: (self.data_dir / "index.sqlite3").exists(), timeout=30, what="the index")
        return self

    def kill(self) -> None:
        """SIGKILL: a crash or power cut as far as the files are concerned."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def terminate(self, timeout: float = 30) -> int | None:
        """SIGTERM and wait for the graceful stop; returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.terminate()
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError("agent did not stop within the timeout") from None

    def index(self) -> SegmentIndex:
        return SegmentIndex(self.data_dir / "index.sqlite3", readonly=True)

    def segments(self, camera: str) -> list[Segment]:
        """The index's segments of `camera`; none while the agent has made the file but not yet its tables."""
        index = self.index()
        try:
            return index.segments(camera)
        except SegmentIndexError as exc:
            if "no such table" in str(exc):
                return []
            raise
        finally:
            index.close()

    def closed_segments(self, camera: str) -> list[Segment]:
        return [s for s in self.segments(camera) if s.state != "open"]

    def path(self, segment: Segment) -> Path:
        return self.data_dir / "recordings" / segment.path

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "edge.cli", *args, "--config", str(self.config)],
            capture_output=True,
            text=True,
            timeout=60,
        )

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def decode_all(path: Path) -> int:
    """Decode every frame of a segment; returns the count (raises on a broken file)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return sum(1 for _ in container.decode(stream))
