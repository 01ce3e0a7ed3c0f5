"""The default media path: Janus's VideoRoom forwards the box's RTP to every browser; the hub only signals.

Per session the hub creates a private room (random id and PIN, a secret derived from the room admin key so a
later run can destroy what a crashed one left, one publisher, H.264 only, created with the VideoRoom `admin_key`), joins the box's offer into it as the publisher and hands the box Janus's answer: the
box sends one copy of its stream whoever watches. Each viewer is a subscriber handle on the hub's Janus session:
Janus offers, the browser answers through the hub. Destroying the room hangs up the box and every viewer at once.

Janus calls back (`webrtcup`, `hangup`) on its event thread; the hub's reactions may need further Janus
requests, whose answers arrive on that same thread, so they run on a worker thread of their own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from hub.janus import JanusError, JanusSession, add_token, remove_token
from hub.settings import HubSettings
from hub.stream_media import Gone, MediaError

log = logging.getLogger(__name__)

VIDEOROOM = "janus.plugin.videoroom"
PUBLISH_WAIT_S = 5  # a viewer waits at most this long for the box's media to reach Janus


@dataclass(eq=False)
class Room:
    """One session's VideoRoom room and the box's publisher handle in it."""

    id: int
    secret: str
    pin: str
    handle: int
    gone: Gone
    janus: JanusSession
    publisher_id: int = 0
    flowing: threading.Event = field(default_factory=threading.Event)
    viewers: dict[int, "Viewer"] = field(default_factory=dict)
    ended: bool = False


@dataclass(eq=False)
class Viewer:
    handle: int
    room: Room
    gone: Gone
    ended: bool = False


@dataclass(frozen=True)
class JanusAccess:
    """How the hub reaches Janus (settings `janus_*`)."""

    api_url: str
    admin_url: str
    admin_secret: str
    room_admin_key: str

    @classmethod
    def from_settings(cls, settings: HubSettings) -> "JanusAccess":
        if not (settings.janus_url and settings.janus_admin_url and settings.janus_admin_secret
                and settings.janus_room_admin_key):
            raise MediaError("no SFU is configured: set janus_url, janus_admin_url, janus_admin_secret and "
                             "janus_room_admin_key (or stream_media = \"relay\")")
        return cls(settings.janus_url, settings.janus_admin_url, settings.janus_admin_secret,
                   settings.janus_room_admin_key)


class SfuMedia:
    name = "sfu"

    def __init__(self, access: JanusAccess) -> None:
        self.access = access
        self._session: JanusSession | None = None
        self._token: str | None = None
        self._swept = False
        self._lock = threading.Lock()
        self._events = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sfu-events")

    @classmethod
    def connect(cls, settings: HubSettings) -> "SfuMedia":
        return cls(JanusAccess.from_settings(settings))

    @property
    def janus(self) -> JanusSession:
        """The hub's Janus session, opened on first use and again after Janus lost it (a restart): a fresh token
        of the hub's is added through the admin API first. On first use, rooms an earlier run of the hub left
        behind (it crashed) are destroyed."""
        with self._lock:
            if self._session is None or not self._session.alive:
                token = secrets.token_urlsafe(32)
                try:
                    add_token(self.access.admin_url, self.access.admin_secret, token, [VIDEOROOM])
                    self._session = JanusSession(self.access.api_url, token)
                except JanusError as exc:
                    raise MediaError(f"the SFU could not be reached: {exc}") from None
                self._token = token
                if not self._swept:  # once per run: after that, rooms in Janus are this run's own
                    self._swept = True
                    self.sweep_left_rooms(self._session)
            return self._session

    def room_secret(self, room_id: int) -> str:
        """A room's secret, derived from the room admin key: a later run of the hub can still destroy it."""
        digest = hmac.new(self.access.room_admin_key.encode(), f"canvass room {room_id}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")

    def sweep_left_rooms(self, janus: JanusSession) -> int:
        """Destroy the session rooms (`canvass …`) an earlier run of the hub left in Janus; how many. Run before
        this hub makes any room of its own (one hub per Janus)."""
        handle = 0
        try:
            handle = janus.attach(VIDEOROOM)
            rooms = janus.request(handle, {"request": "list", "admin_key": self.access.room_admin_key}).data
            left = [r["room"] for r in rooms.get("list", []) if str(r.get("description", "")).startswith("canvass ")]
            for room_id in left:
                janus.request(handle, {"request": "destroy", "room": room_id, "secret": self.room_secret(room_id)})
        except JanusError as exc:
            log.warning("rooms left in the SFU by an earlier run were not all destroyed: %s", exc)
            return 0
        finally:
            if handle:
                janus.detach(handle)
        if left:
            log.info("destroyed %d room(s) an earlier run of the hub left in the SFU", len(left))
        return len(left)

    def _later(self, work, *args) -> None:
        self._events.submit(work, *args)

    # -- the box ------------------------------------------------------------------------------

    def publish(self, session_id: uuid.UUID, offer_sdp: str, gone: Gone) -> tuple[Room, str]:
        janus = self.janus
        room_id = secrets.randbelow(2**52) + 1
        room = Room(id=room_id, secret=self.room_secret(room_id), pin=secrets.token_urlsafe(24), handle=0, gone=gone,
                    janus=janus)
        try:
            room.handle = janus.attach(VIDEOROOM, lambda event: self._on_publisher_event(room, event))
            janus.request(room.handle, {
                "request": "create", "room": room.id, "admin_key": self.access.room_admin_key, "secret": room.secret,
                "pin": room.pin, "is_private": True, "publishers": 1, "videocodec": "h264", "audiocodec": "opus",
                "description": f"canvass {session_id}", "permanent": False, "notify_joining": False,
                "fir_freq": 0, "bitrate": 0})
            reply = janus.request(room.handle, {
                "request": "joinandconfigure", "ptype": "publisher", "room": room.id, "pin": room.pin,
                "display": "appliance", "audio": False, "video": True},
                jsep={"type": "offer", "sdp": offer_sdp, "trickle": False})
        except JanusError as exc:
            self._destroy(room)
            raise MediaError(f"the SFU did not take the appliance's stream: {exc}") from None
        if not reply.jsep or reply.jsep.get("type") != "answer":
            self._destroy(room)
            raise MediaError("the SFU gave no answer for the appliance")
        room.publisher_id = int(reply.data.get("id", 0))
        return room, reply.jsep["sdp"]

    def _on_publisher_event(self, room: Room, event: dict[str, Any]) -> None:
        kind = event.get("janus")
        if kind == "webrtcup" or (kind == "media" and event.get("type") == "video" and event.get("receiving")):
            room.flowing.set()
        elif kind in ("hangup", "detached") and not room.ended:
            self._later(room.gone, f"the appliance's connection to the SFU ended ({event.get('reason', kind)})")

    def unpublish(self, room: Room) -> None:
        viewers = list(room.viewers.values())
        for viewer in viewers:
            viewer.ended = True
        self._destroy(room)
        for viewer in viewers:
            room.janus.detach(viewer.handle)

    def _destroy(self, room: Room) -> None:
        if room.ended:
            return
        room.ended = True
        if room.handle:
            try:  # destroying the room hangs up the publisher and every subscriber
                room.janus.request(room.handle, {"request": "destroy", "room": room.id, "secret": room.secret})
            except JanusError as exc:
                log.debug("destroying room %s: %s", room.id, exc)
            room.janus.detach(room.handle)

    # -- viewers ------------------------------------------------------------------------------

    def subscribe(self, room: Room, viewer_id: uuid.UUID, gone: Gone) -> tuple[Viewer, str]:
        if room.ended:
            raise MediaError("the session has ended", status=410)
        if not room.flowing.wait(PUBLISH_WAIT_S):
            raise MediaError("no video from the appliance yet")
        viewer = Viewer(0, room, gone)
        janus = room.janus
        try:
            viewer.handle = janus.attach(VIDEOROOM, lambda event: self._on_viewer_event(viewer, event))
            reply = janus.request(viewer.handle, {
                "request": "join", "ptype": "subscriber", "room": room.id, "pin": room.pin,
                "streams": [{"feed": room.publisher_id}]})
        except JanusError as exc:
            if viewer.handle:
                janus.detach(viewer.handle)
            raise MediaError(f"the SFU did not add the viewer: {exc}") from None
        if not reply.jsep or reply.jsep.get("type") != "offer":
            janus.detach(viewer.handle)
            raise MediaError("the SFU made no offer for the viewer")
        room.viewers[viewer.handle] = viewer
        return viewer, reply.jsep["sdp"]

    def _on_viewer_event(self, viewer: Viewer, event: dict[str, Any]) -> None:
        if event.get("janus") in ("hangup", "detached") and not viewer.ended:
            viewer.ended = True
            viewer.room.viewers.pop(viewer.handle, None)
            self._later(viewer.gone, f"the viewer's connection ended ({event.get('reason', event.get('janus'))})")

    def start_viewer(self, viewer: Viewer, answer_sdp: str) -> None:
        if viewer.ended or viewer.room.ended:
            raise MediaError("the viewer has left", status=410)
        try:
            viewer.room.janus.request(viewer.handle, {"request": "start"},
                               jsep={"type": "answer", "sdp": answer_sdp, "trickle": False})
        except JanusError as exc:
            raise MediaError(f"the SFU did not take the viewer's answer: {exc}", status=422) from None

    def unsubscribe(self, viewer: Viewer) -> None:
        if viewer.ended:
            return
        viewer.ended = True
        viewer.room.viewers.pop(viewer.handle, None)
        viewer.room.janus.detach(viewer.handle)  # hangs the viewer's connection up

    def close(self) -> None:
        self._events.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            session, token, self._session = self._session, self._token, None
        if session is not None:
            session.close()
            try:
                remove_token(self.access.admin_url, self.access.admin_secret, token)
            except JanusError as exc:
                log.warning("the hub's Janus token was not removed: %s", exc)
