"""Footage requests and clip orders from the hub, carried out on the box.

A `FootageNotice` goes into the request book (which holds or releases the window). A `ClipOrder` carries a
clip grant: the consent guard judges it like any grant (the owner's pause, policy and approval, the audit
proof); an accepted order is booked and answered at once, and one worker thread cuts the clip (no transcode
unless the policy masks the picture), signs its manifest and uploads it to the hub the box enrolled with,
reporting each stage to the hub as a `ClipProgress` event through the outbox. Orders survive a restart; an
interrupted upload resumes where it stopped. Recording never waits for any of it.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from edge.clips.export import export_clip_blocking
from edge.clips.manifest import CLIP_NAME, MANIFEST_NAME, Answering, BoxSigner
from edge.clips.plan import to_us
from edge.clips.requests import RequestBook
from edge.clips.upload import AlreadyDelivered, UploadInterrupted, UploadRefused, upload_clip
from edge.config import ClipsConfig
from edge.consent.guard import ConsentGuard
from edge.errors import EdgeError, StillRecording
from edge.recording.index import SegmentIndex
from edge.recording.storage import Layout
from provisioning.identity import Identity
from wire import consent as c
from wire import messages as m
from wire.evidence import parse_signed

log = logging.getLogger(__name__)

RETRY_PAUSE_S = (1, 2, 5, 10, 30, 60)
STILL_RECORDING_WAIT_S = 15 * 60  # longer than any segment
STILL_RECORDING_POLL_S = 2


@dataclass(frozen=True)
class CutClip:
    """A clip cut and signed on the box, ready to upload."""

    clip_path: Path
    manifest_path: Path
    sha256: str
    bytes: int


class Cutter(Protocol):
    def __call__(self, *, camera: str, window_from: dt.datetime, window_to: dt.datetime, out_dir: Path,
                 request_id: int, grant_id: str, audit_index: int, masks: list) -> CutClip: ...


def box_cutter(*, index: SegmentIndex, recordings_dir: Path, identity: Identity) -> Cutter:
    """The `Cutter` of an enrolled box: `export_clip_blocking` signed with the box's key; a directory that already
    holds a signed export (cut before a restart) is uploaded as it is, never cut again."""
    signer = BoxSigner.from_identity(identity)

    def cut(*, camera: str, window_from: dt.datetime, window_to: dt.datetime, out_dir: Path, request_id: int,
            grant_id: str, audit_index: int, masks: list) -> CutClip:
        manifest_path = out_dir / MANIFEST_NAME
        if manifest_path.exists():
            manifest = parse_signed(manifest_path.read_bytes()).read()
            return CutClip(out_dir / CLIP_NAME, manifest_path, manifest.clip_sha256, manifest.clip_bytes)
        exported = export_clip_blocking(index=index, recordings_dir=recordings_dir, signer=signer, camera=camera,
                                        from_us=to_us(window_from), to_us=to_us(window_to), out_dir=out_dir,
                                        masks=masks, answering=Answering(request_id, UUID(grant_id), audit_index))
        return CutClip(exported.clip_path, exported.manifest_path, exported.clip_sha256, exported.clip_bytes)

    return cut


class Uploader(Protocol):
    def __call__(self, *, clip_path: Path, manifest_path: Path, url: str, token: str, request_id: int,
                 rate_limit_bytes_per_s: int, chunk_bytes: int, ca_path: Path | None, stop: threading.Event,
                 state_path: Path) -> Any: ...


class ClipOrders:
    def __init__(self, *, book: RequestBook, index: SegmentIndex, guard: ConsentGuard,
                 publish: Callable[[m.EventBody], None], hub_url: str, work_dir: Path, config: ClipsConfig,
                 cut: Cutter, upload: Uploader = upload_clip, ca_path: Path | None = None,
                 clock: Callable[[], dt.datetime] | None = None):
        self.book, self.index, self.guard, self.publish = book, index, guard, publish
        self.hub_url, self.work_dir, self.config = hub_url.rstrip("/"), work_dir, config
        self.cut, self.upload, self.ca_path = cut, upload, ca_path
        self.clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
        self._jobs: queue.Queue[int | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def command_handlers(self) -> dict[type, Callable[[Any], m.ReplyResult]]:
        return {m.FootageNotice: self.take_notice, m.ClipOrder: self.take_order}

    # -- commands (the link's thread) ---------------------------------------------------

    def take_notice(self, notice: m.FootageNotice) -> m.NoticeTaken:
        return self.book.take(notice, self.index, self.clock())

    def take_order(self, order: m.ClipOrder) -> m.ClipAccepted:
        signed = c.Signed(document=order.signed.document, signature=order.signed.signature)
        decision = self.guard.judge(signed, self.clock())
        why = decision.reason if not decision.accepted else _order_problem(order, decision.grant)
        if why:
            log.info("clip order for request %d refused: %s", order.request_id, why)
            return m.ClipAccepted(request_id=order.request_id, accepted=False, reason=why)
        self.book.add_order(order, self.clock())
        self._jobs.put(order.request_id)
        return m.ClipAccepted(request_id=order.request_id, accepted=True, reason="accepted: cutting the clip")

    # -- the worker ----------------------------------------------------------------------

    def start(self) -> None:
        for order in self.book.unfinished_orders():
            self._jobs.put(order.request_id)
        self._thread = threading.Thread(target=self._work, name="clip-orders", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop between chunks or segments (an unfinished order carries on at the next start); close the book."""
        self._stop.set()
        self._jobs.put(None)
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.book.close()

    def _work(self) -> None:
        while (request_id := self._jobs.get()) is not None:
            order = next((o for o in self.book.unfinished_orders() if o.request_id == request_id), None)
            if order is None:
                continue
            try:
                self._carry_out(order)
            except Exception as exc:  # one bad order must not stop the others; the hub is told
                log.exception("clip for request %d failed", request_id)
                self._report(order, "failed", f"the box could not make the clip: {type(exc).__name__}")

    def _carry_out(self, order) -> None:
        grant = c.Grant.model_validate_json(c.Signed.model_validate_json(order.grant_json).document)
        directory = self.work_dir / str(order.request_id)
        self._report(order, "cutting", "cutting the clip from the recordings", camera=grant.camera)
        try:
            clip = self._cut(order, grant, directory)
        except EdgeError as exc:
            self._report(order, "failed", str(exc), camera=grant.camera)
            return
        if clip is None:
            return  # stopping
        self._report(order, "uploading", f"uploading {clip.bytes} bytes", camera=grant.camera, clip=clip)
        problem = self._upload(order, clip)
        if problem is not None:
            if not self._stop.is_set():
                self._report(order, "failed", problem, camera=grant.camera, clip=clip)
            return
        self._report(order, "uploaded", "the clip is at the hub", camera=grant.camera, clip=clip)
        if self.config.keep_cut_days == 0:
            shutil.rmtree(directory, ignore_errors=True)

    def _cut(self, order, grant: c.Grant, directory: Path) -> CutClip | None:
        """Cut the grant's window; a window that reaches into the segment still being recorded waits for it to
        close (up to `STILL_RECORDING_WAIT_S`)."""
        deadline, told = time.monotonic() + STILL_RECORDING_WAIT_S, False
        while True:
            try:
                return self.cut(camera=grant.camera, window_from=grant.window_from, window_to=grant.window_to,
                                out_dir=directory, request_id=order.request_id, grant_id=str(grant.grant_id),
                                audit_index=grant.audit_index, masks=self._masks(grant.camera))
            except StillRecording:
                if time.monotonic() > deadline:
                    raise
                if not told:
                    self._report(order, "cutting", "waiting for the segment being recorded to close",
                                 camera=grant.camera)
                    told = True
                if self._stop.wait(STILL_RECORDING_POLL_S):
                    return None

    def _upload(self, order, clip: CutClip) -> str | None:
        """Upload with retries (an interrupted upload resumes); None when the clip is at the hub, else why not.
        Each try takes the newest order's token: a box that was away may get the order again with a new one."""
        for attempt in range(self.config.upload_attempts):
            token = self._token(order)
            try:
                self.upload(clip_path=clip.clip_path, manifest_path=clip.manifest_path,
                            url=self.hub_url + order.upload_path, token=token, request_id=order.request_id,
                            rate_limit_bytes_per_s=self.config.upload_max_bytes_per_s,
                            chunk_bytes=self.config.upload_chunk_bytes, ca_path=self.ca_path, stop=self._stop,
                            state_path=clip.clip_path.parent / "upload-state.json")
                return None
            except AlreadyDelivered:
                return None
            except UploadRefused as exc:
                if self._token(order) == token:
                    return f"the hub refused the upload: {exc}"
                log.info("request %d: the hub sent a newer order; uploading under it", order.request_id)
            except (UploadInterrupted, OSError) as exc:
                if self._stop.is_set():
                    return "the box is stopping; the upload resumes when it starts again"
                pause = RETRY_PAUSE_S[min(attempt, len(RETRY_PAUSE_S) - 1)]
                log.warning("upload of request %d interrupted (%s); retrying in %d s", order.request_id, exc, pause)
                self._stop.wait(pause)
        return "the upload did not complete after every retry"

    def _token(self, order) -> str:
        newest = self.book.order(order.request_id)
        return newest.upload_token if newest is not None else order.upload_token

    def _masks(self, camera: str) -> list:
        document = self.guard.policy(camera)
        return list(document.policy.privacy_masks) if document else []

    def _report(self, order, stage: m.ClipStage, detail: str, *, camera: str | None = None,
                clip: CutClip | None = None) -> None:
        self.book.set_stage(order.request_id, stage, detail, self.clock())
        if camera is None:
            camera = c.Grant.model_validate_json(c.Signed.model_validate_json(order.grant_json).document).camera
        self.publish(m.ClipProgress(request_id=order.request_id, camera=camera, stage=stage, detail=detail[:2000],
                                    clip_sha256=clip.sha256 if clip else None,
                                    clip_bytes=clip.bytes if clip else None))


def _order_problem(order: m.ClipOrder, grant: c.Grant | None) -> str | None:
    """A clip order must carry a clip grant with a window (the guard judged everything else)."""
    if grant is None or grant.mode != "clip":
        return "a clip order needs a grant in mode clip"
    if grant.window_from is None or grant.window_to is None:
        return "the clip grant names no window"
    return None


def clip_orders_for(*, identity: Identity, layout: Layout, index: SegmentIndex, guard: ConsentGuard,
                    publish: Callable[[m.EventBody], None], config: ClipsConfig,
                    handlers: dict[type, Callable[[Any], m.ReplyResult]]) -> ClipOrders | None:
    """The clip orders of an enrolled box, their command handlers added to the link's `handlers`; None (logged)
    if the box's identity cannot sign clips."""
    try:
        cutter = box_cutter(index=index, recordings_dir=layout.recordings, identity=identity)
    except EdgeError as exc:
        log.error("clip orders not taken: %s", exc)
        return None
    orders = ClipOrders(book=RequestBook(layout.requests_path), index=index, guard=guard, publish=publish,
                        hub_url=identity.hub_url, work_dir=layout.cut_clips, config=config, cut=cutter,
                        ca_path=identity.ca)
    handlers.update(orders.command_handlers())
    return orders
