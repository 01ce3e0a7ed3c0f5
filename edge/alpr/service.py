"""Plate reading for the agent's cameras: frames → backend → tracker → hot list → store → events.

`PlateReader.start` loads the backend (models hash-checked), subscribes a
`CameraFrames` decoder to each camera's fan-out and starts one analysis
worker: it takes the newest waiting frame of each camera in turn (round
robin), reads it (each read keeping the part of the frame around its plate,
at most `CONTEXT_PLATE_WIDTH` wide for the plate), feeds the camera's tracker
(whose second look at a pass with a close vote reads the best of those
patches again as a photo is read) and handles every finished
vehicle pass: hot-list match (a hit is a high-priority event), thumbnail and
row in the read store, and the event to `on_event` (the agent's callback,
which sends the hub what the owner's plate_sharing allows). One worker: the box
has two cores and the recorder, the decoders and the streamer need the other.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import cv2
import numpy as np

from edge.alpr.backends import make_backend, make_second_opinion
from edge.alpr.base import AlprError, Box, CharGuess, PlateBackend, PlateRead
from edge.alpr.events import PlateEvent
from edge.alpr.frames import AnalysisFrame, CameraFrames, FrameSlot
from edge.alpr.matching import HotListMatcher
from edge.alpr.reads import ReadStore, StoredRead, new_read_id
from edge.alpr.registry import ModelStore, default_model_dir
from edge.alpr.tracker import PlateTracker, VehiclePass
from edge.config import AlprConfig
from edge.link.hotlist import HotListStore
from edge.recording.fanout import Fanout
from wire.messages import HotListEntry

if TYPE_CHECKING:
    from edge.alpr.offline import SecondOpinion

logger = logging.getLogger(__name__)

FRAMES_QUEUE = 90  # packets between a camera's fan-out and its decoder (6 s at 15 fps)
CONTEXT_PLATE_WIDTH = 256  # pixels: a plate's context patch is shrunk to this plate width (2x the OCR's input)


def _shifted(read: PlateRead, origin: tuple[int, int]) -> PlateRead:
    """A read in a region of the frame, in the whole frame's coordinates."""
    if origin == (0, 0):
        return read
    x, y, w, h = read.box
    return replace(read, corners=read.corners + np.float32(origin), box=(x + origin[0], y + origin[1], w, h))


def with_context(read: PlateRead, image: np.ndarray) -> PlateRead:
    """`read` with the part of `image` around its plate: one plate width either side and as much above and
    below (the detector needs the bumper around a plate), the plate at most `CONTEXT_PLATE_WIDTH` wide."""
    x, y, w, h = read.box
    if w <= 0 or h <= 0:
        return read
    cx, cy = x + w / 2, y + h / 2
    x0, x1 = max(0, int(cx - 1.5 * w)), min(image.shape[1], int(cx + 1.5 * w) + 1)
    y0, y1 = max(0, int(cy - w)), min(image.shape[0], int(cy + w) + 1)
    patch, scale = image[y0:y1, x0:x1], 1.0
    if w > CONTEXT_PLATE_WIDTH:
        scale = CONTEXT_PLATE_WIDTH / w
        patch = cv2.resize(patch, (max(1, round(patch.shape[1] * scale)), max(1, round(patch.shape[0] * scale))),
                           interpolation=cv2.INTER_AREA)
    corners = ((read.corners - np.float32([x0, y0])) * scale).astype(np.float32)
    return replace(read, context=np.ascontiguousarray(patch), context_corners=corners)


class PlateReader:
    def __init__(self, config: AlprConfig, store: ReadStore, *, clock: Callable[[], float] = time.time,
                 backend: PlateBackend | None = None, careful_backend: PlateBackend | None = None,
                 second_opinion: SecondOpinion | None = None,
                 on_event: Callable[[PlateEvent], None] | None = None) -> None:
        self.config = config
        self.store = store
        self._clock = clock
        self._backend = backend
        self._careful = careful_backend  # the same models set up as for a photo: the second look
        self._opinion = second_opinion  # another OCR model on the characters still close after it
        self._on_event = on_event
        self.slot = FrameSlot()
        self.sources: dict[str, CameraFrames] = {}
        self._fanouts: dict[str, Fanout] = {}
        self.trackers: dict[str, PlateTracker] = {}
        self.matcher = HotListMatcher([])
        self.analysed: dict[str, int] = {}
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._running = threading.Event()

    # -- lifecycle ---------------------------------------------------------------

    def start(self, fanouts: dict[str, Fanout]) -> None:
        if self._backend is None:
            models = ModelStore(self.config.model_dir or default_model_dir())
            self._backend = make_backend(self.config.backend, models, video=True)
            self._careful = make_backend(self.config.backend, models, video=False)
            if self.config.second_opinion:
                self._opinion = make_second_opinion(self.config.backend, models)
        for camera, fanout in fanouts.items():
            self._tracker(camera)
            source = CameraFrames(camera, fanout.subscribe("alpr", max_items=FRAMES_QUEUE), self.slot,
                                  analysis_fps=self.config.analysis_fps, motion_threshold=self.config.motion_threshold,
                                  idle_after_s=self.config.idle_after_s, tracked=self.tracked_boxes)
            self.sources[camera], self._fanouts[camera] = source, fanout
            source.start()
        self._worker = threading.Thread(target=self._run, name="alpr-worker", daemon=True)
        self._worker.start()
        self._running.wait(5)
        logger.info("plate reading started: %s backend on %s", self._backend.name, ", ".join(fanouts))

    def stop(self) -> None:
        self._stop.set()
        for camera, source in self.sources.items():
            self._fanouts[camera].unsubscribe(source.subscription)
            source.stop()
        self.slot.wake()
        if self._worker is not None:
            self._worker.join(timeout=10)
        now = self._clock()
        for camera, tracker in self.trackers.items():
            for finished in tracker.flush(now):
                self._handle_pass(camera, finished)
        for line in self.stats_lines():
            logger.info("%s", line)

    def stats_lines(self) -> list[str]:
        """Per camera: frames decoded, offered for analysis, analysed, and dropped (analysis busy or queue full)."""
        return [f"plate reading {camera}: decoded {source.decoded}, offered {source.offered}, "
                f"analysed {self.analysed[camera]}, dropped {self.slot.dropped.get(camera, 0)} waiting for analysis "
                f"and {source.subscription.dropped} packets at the decoder's queue"
                for camera, source in self.sources.items()]

    def set_hotlist(self, entries: list[HotListEntry]) -> None:
        self.matcher = HotListMatcher(entries, max_edits=self.config.hotlist_max_edits)

    def follow(self, hotlists: HotListStore) -> None:
        """Match against the hot list the box holds now and each one the hub pushes later."""
        if hotlists.current is not None:
            self.set_hotlist(hotlists.current.entries)
        hotlists.listeners.append(lambda hotlist: self.set_hotlist(hotlist.entries))

    # -- the worker ----------------------------------------------------------------

    def tracked_boxes(self, camera: str) -> list[Box]:
        """Where the camera's plates being tracked were last seen (whole-frame pixels); empty: none is."""
        tracker = self.trackers.get(camera)
        return tracker.open_boxes() if tracker is not None else []

    def _run(self) -> None:
        self._running.set()
        order = list(self.sources)
        while not self._stop.is_set():
            frame = self.slot.take(order, timeout=0.25)
            if frame is not None:
                order = [c for c in order if c != frame.camera] + [frame.camera]  # round robin
                self.analyse(frame)
            self._close_quiet_tracks()

    def _tracker(self, camera: str) -> PlateTracker:
        if camera not in self.trackers:
            assert self._backend is not None
            self.trackers[camera] = PlateTracker(region=self.config.region,
                                                 plate_detector=self._backend.plate_detector,
                                                 min_observations=self.config.min_observations,
                                                 repeat_window_s=self.config.same_plate_window_s,
                                                 second_look=self._second_look if self._careful else None,
                                                 second_opinion=self._second_opinion if self._opinion else None)
            self.analysed[camera] = 0
        return self.trackers[camera]

    def analyse(self, frame: AnalysisFrame) -> None:
        """Read one frame and feed its camera's tracker (on the worker's thread, or a test's)."""
        assert self._backend is not None
        try:
            found = self._backend.read(frame.image, look_harder=frame.moving)  # the 640 only where it moved
            reads = [_shifted(with_context(read, frame.image), frame.origin) for read in found]
        except (AlprError, RuntimeError) as exc:  # onnxruntime raises RuntimeError subclasses
            logger.warning("camera %s: plate reading failed on a frame: %s", frame.camera, exc)
            return
        tracker = self._tracker(frame.camera)
        self.analysed[frame.camera] += 1
        for finished in tracker.update(frame.wall_us / 1e6, reads):
            self._handle_pass(frame.camera, finished)

    def _second_look(self, reads: list[PlateRead]) -> list[PlateRead]:
        """The best plate in each read's context, read as a photo is (on the worker's thread)."""
        assert self._careful is not None
        found = []
        for read in reads:
            try:
                found += self._careful.read(read.context)[:1] if read.context is not None else []
            except (AlprError, RuntimeError) as exc:
                logger.warning("plate reading: a second look failed: %s", exc)
        return found

    def _second_opinion(self, reads: list[PlateRead]) -> list[tuple[CharGuess, ...]]:
        """Another OCR model's reads of the best frames' plates (on the worker's thread)."""
        assert self._opinion is not None
        try:
            opinions = self._opinion.read(reads)
            logger.debug("plate reading: second opinion %s", ", ".join("".join(c.char for c in o) for o in opinions))
            return opinions
        except (AlprError, RuntimeError) as exc:
            logger.warning("plate reading: a second opinion failed: %s", exc)
            return []

    def _close_quiet_tracks(self) -> None:
        now = self._clock()
        for camera, tracker in self.trackers.items():
            if tracker.has_open_tracks:
                for finished in tracker.update(now, []):
                    self._handle_pass(camera, finished)

    def _handle_pass(self, camera: str, finished: VehiclePass) -> None:
        when = dt.datetime.fromtimestamp(finished.last_seen, dt.UTC)
        matches = self.matcher.match(finished.text, now=when)
        hit = matches[0] if matches else None
        read = StoredRead(
            id=new_read_id(), camera=camera, plate=finished.text, confidence=finished.confidence,
            first_seen_us=int(finished.first_seen * 1e6), last_seen_us=int(finished.last_seen * 1e6),
            observations=finished.observations, thumbnail=None,
            hit_list=hit.entry.list_name if hit else None, hit_plate=hit.entry.plate if hit else None,
            hit_reason=hit.entry.reason if hit else None,
        )
        try:
            read = self.store.add(read, finished.best_crop)
        except AlprError as exc:
            logger.error("camera %s: read of %s not stored: %s", camera, finished.text, exc)
        event = PlateEvent(read, hit)
        if hit is not None:
            logger.warning("hot-list hit on %s: %s (%s: %s)", camera, read.plate, hit.entry.list_name, hit.entry.reason)
        if self._on_event is not None:
            self._on_event(event)
