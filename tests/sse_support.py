"""A console's reader of the live hit stream, as the console reads it: fetch streaming with the Bearer header
(httpx here), server-sent events parsed as they arrive, each with the moment it arrived."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field

import httpx


@dataclass
class SseEvent:
    kind: str
    data: dict
    id: str | None
    arrived: float  # time.time() when its last line was read


@dataclass
class SseReader:
    """GET /api/hits/stream in a thread; `events` fills as they come, `comments` counts keep-alives."""

    base_url: str
    token: str
    last_event_id: int | None = None
    events: list[SseEvent] = field(default_factory=list)
    comments: int = 0
    status: int | None = None
    ended: bool = False

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="sse-reader", daemon=True)
        self._response: httpx.Response | None = None

    def start(self) -> "SseReader":
        self._thread.start()
        deadline = time.monotonic() + 10
        while self.status is None and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def close(self) -> None:
        self._stop.set()
        if self._response is not None:
            self._response.close()
        self._thread.join(timeout=10)

    def of_kind(self, kind: str) -> list[SseEvent]:
        return [event for event in list(self.events) if event.kind == kind]

    def _read(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = str(self.last_event_id)
        try:
            with httpx.stream("GET", self.base_url + "/api/hits/stream", headers=headers, timeout=30) as response:
                self._response = response
                self.status = response.status_code
                self._parse(response)
        except (httpx.HTTPError, RuntimeError):
            pass  # closed by close(), or the server went away
        finally:
            self.ended = True
            self.status = self.status or 0

    def _parse(self, response: httpx.Response) -> None:
        kind, data, event_id = "message", "", None
        for line in response.iter_lines():
            if self._stop.is_set():
                return
            if line.startswith(":"):
                self.comments += 1
            elif line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("id: "):
                event_id = line[4:]
            elif line.startswith("data: "):
                data += line[6:]
            elif not line and data:
                self.events.append(SseEvent(kind, json.loads(data), event_id, time.time()))
                kind, data, event_id = "message", "", None
