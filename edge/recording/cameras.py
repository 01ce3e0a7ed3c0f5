"""The cameras being recorded: per camera a connection, a fan-out and a writer, started and stopped together.

`Cameras` builds every camera's `CameraPipeline` from the config, owns the
syncer their writers share and keeps each camera's connection state in the
index. It also opens the analysis-only connections to cameras' substreams:
their packets go to plate reading, never to a writer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from edge.config import CameraConfig, EdgeConfig
from edge.errors import SegmentIndexError
from edge.recording.capture import CameraCapture
from edge.recording.durability import Syncer
from edge.recording.fanout import Fanout, GopCache
from edge.recording.index import SegmentIndex
from edge.recording.recorder import CameraRecorder
from edge.recording.storage import Layout

logger = logging.getLogger(__name__)

#: A camera's connection state changed: (camera, state, detail).
OnState = Callable[[str, str, str], None]


@dataclass(slots=True)
class CameraPipeline:
    """Everything that runs for one camera."""

    config: CameraConfig
    fanout: Fanout
    recorder: CameraRecorder
    capture: CameraCapture

    def healthy(self) -> bool:
        return self.capture.is_alive() and self.recorder.is_alive()


class Cameras:
    """Every configured camera's pipeline (after `start`) and the syncer of their open segments."""

    def __init__(self, config: EdgeConfig, layout: Layout, *, clock: Callable[[], float]) -> None:
        self._config = config
        self._layout = layout
        self._clock = clock
        interval_ms = config.recording.sync_interval_ms
        self.syncer: Syncer | None = Syncer(interval_ms / 1000) if interval_ms else None
        self.pipelines: dict[str, CameraPipeline] = {}
        self.substreams: list[CameraCapture] = []  # analysis-only connections, never recorded
        self._index: SegmentIndex | None = None
        self._on_state: OnState | None = None

    def start(self, index: SegmentIndex, *, on_disk_full: Callable[[], None], on_state: OnState | None = None) -> None:
        """Build and start every camera; `on_state` hears of each change of a camera's connection state."""
        self._index, self._on_state = index, on_state
        if self.syncer is not None:
            self.syncer.start()
        for camera in self._config.cameras:
            self.pipelines[camera.name] = self._build(camera, index, on_disk_full)
        for pipeline in self.pipelines.values():
            pipeline.recorder.start()
            pipeline.capture.start()

    def _build(self, camera: CameraConfig, index: SegmentIndex, on_disk_full: Callable[[], None]) -> CameraPipeline:
        fanout = Fanout(gop_cache=GopCache(max_packets=self._config.capture.gop_cache_max_packets))
        queue_items = int(self._config.recording.writer_queue_seconds * 60)  # frames at up to 60 fps
        queue = fanout.subscribe("recorder", max_items=queue_items)
        recorder = CameraRecorder(camera, self._config.recording, self._layout, index, queue, syncer=self.syncer,
                                  on_disk_full=on_disk_full, clock=self._clock)
        capture = CameraCapture(camera, self._config.capture, fanout, clock=self._clock,
                                on_state=lambda state, detail, name=camera.name: self._state(name, state, detail))
        return CameraPipeline(camera, fanout, recorder, capture)

    def _state(self, camera: str, state: str, detail: str) -> None:
        """Stored in the index (for `canvass-edge status`), then told to `on_state`."""
        assert self._index is not None
        now_us = int(self._clock() * 1_000_000)
        pipeline = self.pipelines.get(camera)
        last = pipeline.capture.last_packet_us if pipeline else None
        try:
            self._index.set_camera_state(camera=camera, state=state, since_us=now_us, last_packet_us=last, detail=detail)
        except SegmentIndexError:
            logger.debug("camera state not stored", exc_info=True)
        if self._on_state is not None:
            self._on_state(camera, state, detail)

    def stop(self) -> None:
        """Every connection first (all at once), then each writer drains its queue and closes its segment."""
        for pipeline in self.pipelines.values():
            pipeline.capture.request_stop()
        for pipeline in self.pipelines.values():
            pipeline.capture.stop()
            pipeline.fanout.close()
        for pipeline in self.pipelines.values():
            pipeline.recorder.stop()
            logger.info("camera %s: recorder queue dropped %d packets", pipeline.config.name, pipeline.recorder.queue.dropped)
        if self.syncer is not None:
            self.syncer.stop()

    # -- for plate reading ------------------------------------------------------------

    def analysis_fanouts(self) -> dict[str, Fanout]:
        """Per camera, its substream when configured (its own connection, never recorded), else the main stream."""
        return {name: self._open_substream(p.config) if p.config.substream_url is not None else p.fanout
                for name, p in self.pipelines.items()}

    def _open_substream(self, camera: CameraConfig) -> Fanout:
        assert camera.substream_url is not None
        fanout = Fanout(gop_cache=GopCache(max_packets=1))
        capture = CameraCapture(
            camera.model_copy(update={"url": camera.substream_url}), self._config.capture, fanout, clock=self._clock,
            on_state=lambda state, detail, name=camera.name: logger.info("camera %s substream: %s %s",
                                                                          name, state, detail))
        capture.start()
        self.substreams.append(capture)
        return fanout

    def stop_substreams(self) -> None:
        for capture in self.substreams:
            capture.request_stop()
        for capture in self.substreams:
            capture.stop()
        self.substreams = []

    # -- what the rest of the agent asks ------------------------------------------

    @property
    def config(self) -> EdgeConfig:
        return self._config

    def fanout_for(self, camera: str) -> Fanout | None:
        pipeline = self.pipelines.get(camera)
        return pipeline.fanout if pipeline is not None else None

    def open_segment_bytes(self) -> int:
        return sum(p.recorder.open_segment_bytes for p in self.pipelines.values())

    def healthy(self) -> bool:
        """Every camera's threads and the syncer still run (a dead one means the agent must restart)."""
        recording = all(p.healthy() for p in self.pipelines.values())
        return recording and (self.syncer is None or self.syncer.is_alive())

    def delivered_video(self) -> int:
        """How many cameras have delivered video since the start."""
        return sum(1 for p in self.pipelines.values() if p.capture.last_packet_us is not None)

    def status_line(self) -> str:
        return f"{len(self.pipelines)} cameras, {self.delivered_video()} delivered video"

