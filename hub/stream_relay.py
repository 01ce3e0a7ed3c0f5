"""The fallback media path: the hub answers the box with aiortc and relays to each browser itself.

aiortc cannot forward encoded frames: `MediaRelay` hands each viewer decoded frames, which aiortc encodes again
per viewer (~28 % of a core per 1080p15 viewer, docs/benchmarks.md). It is kept for deployments without an SFU
(`stream_media = "relay"`) and for tests that look at the decoded frames in process (`decoded_track`).
aiortc is asyncio: the path runs its own loop in a thread.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay

from hub.stream_media import Gone, MediaError
from wire import rtc

log = logging.getLogger(__name__)

TRACK_TIMEOUT_S = 5


def _off_loop(gone: Gone, why: str) -> None:
    """Report a peer gone from a worker thread: the service's reaction calls back into this loop and waits."""
    asyncio.get_running_loop().run_in_executor(None, gone, why)


@dataclass(eq=False)
class RelayPublication:
    pc: RTCPeerConnection
    gone: Gone
    track: object = None  # the box's remote video track
    track_ready: asyncio.Event = field(default_factory=asyncio.Event)
    viewers: list["RelaySubscription"] = field(default_factory=list)
    ended: bool = False


@dataclass(eq=False)
class RelaySubscription:
    pc: RTCPeerConnection
    publication: RelayPublication


class RelayMedia:
    name = "relay"

    def __init__(self, ice: rtc.IceSettings) -> None:
        self.ice = ice
        self.relay = MediaRelay()
        self._runner = rtc.LoopThread("stream-relay")
        self._runner.start()

    def _call(self, coroutine, timeout: float = 15):
        try:
            return self._runner.call(coroutine, timeout)
        except TimeoutError:
            raise MediaError("the hub's relay did not answer in time") from None

    def publish(self, session_id: uuid.UUID, offer_sdp: str, gone: Gone) -> tuple[RelayPublication, str]:
        return self._call(self._publish(offer_sdp, gone))

    async def _publish(self, offer_sdp: str, gone: Gone) -> tuple[RelayPublication, str]:
        pc = RTCPeerConnection(rtc.configuration(self.ice))
        publication = RelayPublication(pc, gone)

        @pc.on("track")
        def on_track(track) -> None:
            if track.kind == "video" and publication.track is None:
                publication.track = track
                publication.track_ready.set()

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed") and not publication.ended:
                _off_loop(publication.gone, f"connection to the appliance {pc.connectionState}")

        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return publication, pc.localDescription.sdp

    def subscribe(self, publication: RelayPublication, viewer_id: uuid.UUID,
                  gone: Gone) -> tuple[RelaySubscription, str]:
        return self._call(self._subscribe(publication, gone))

    async def _subscribe(self, publication: RelayPublication, gone: Gone) -> tuple[RelaySubscription, str]:
        try:
            await asyncio.wait_for(publication.track_ready.wait(), TRACK_TIMEOUT_S)
        except asyncio.TimeoutError:
            raise MediaError("no video from the appliance yet") from None
        pc = RTCPeerConnection(rtc.configuration(self.ice))
        subscription = RelaySubscription(pc, publication)
        publication.viewers.append(subscription)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed") and subscription in publication.viewers:
                _off_loop(gone, f"the viewer's connection {pc.connectionState}")

        pc.addTransceiver(self.relay.subscribe(publication.track, buffered=False), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        return subscription, pc.localDescription.sdp

    def start_viewer(self, subscription: RelaySubscription, answer_sdp: str) -> None:
        try:
            self._call(subscription.pc.setRemoteDescription(RTCSessionDescription(sdp=answer_sdp, type="answer")))
        except ValueError as exc:
            raise MediaError(f"bad SDP answer: {exc}", status=422) from None

    def unsubscribe(self, subscription: RelaySubscription) -> None:
        self._call(self._unsubscribe(subscription))

    async def _unsubscribe(self, subscription: RelaySubscription) -> None:
        if subscription in subscription.publication.viewers:
            subscription.publication.viewers.remove(subscription)
        await subscription.pc.close()

    def unpublish(self, publication: RelayPublication) -> None:
        self._call(self._unpublish(publication))

    async def _unpublish(self, publication: RelayPublication) -> None:
        if publication.ended:
            return
        publication.ended = True
        for viewer in list(publication.viewers):
            await self._unsubscribe(viewer)
        await publication.pc.close()

    def decoded_track(self, publication: RelayPublication):
        """A relayed copy of the box's track (decoded frames), for in-process viewers such as tests; read it with
        `call(track.recv())`."""
        async def sub():
            await asyncio.wait_for(publication.track_ready.wait(), TRACK_TIMEOUT_S)
            return self.relay.subscribe(publication.track, buffered=True)
        return self._call(sub())

    def call(self, coroutine, timeout: float = 15):
        return self._call(coroutine, timeout)

    def close(self) -> None:
        if not self._runner.is_alive():
            return
        try:
            self._call(self._cancel_leftovers(), timeout=10)
        finally:
            self._runner.stop()

    async def _cancel_leftovers(self) -> None:
        # aiortc leaves the connection attempt of a peer that never connected (an appliance that accepted and
        # then went silent) running after close(): cancel what is left, so the loop stops with nothing pending.
        leftover = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in leftover:
            task.cancel()
        if leftover:
            await asyncio.wait(leftover, timeout=2)
