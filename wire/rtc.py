"""WebRTC settings shared by the appliance's streamer and the hub's relay (aiortc).

- No public STUN server is ever asked (aiortc's default would): ICE servers
  come from configuration only, typically one TURN server (coturn) for boxes
  and viewers behind NAT.
- `use_host_addresses` pins the host candidates aioice gathers. aioice never
  offers 127.0.0.1, so a hub and an appliance on one machine (tests, the
  demo) could not connect; pinning ["127.0.0.1"] makes loopback work, and on a
  real box pinning the LAN address keeps VPN/docker interfaces out of the SDP.
- `prefer_h264` restricts a transceiver to H.264, the one codec the
  appliance can send without transcoding.
- `LoopThread`: aiortc is asyncio, its callers (paho's thread, the API's
  workers) are not; both sides run their peer connections on a loop of their
  own and hand coroutines to it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer, RTCIceTransportPolicy, RTCRtpSender

_original_host_addresses = aioice.ice.get_host_addresses


@dataclass(frozen=True)
class TurnServer:
    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None


@dataclass(frozen=True)
class IceSettings:
    """Where ICE may look: pinned host addresses (empty: every interface aioice finds), TURN servers, and whether
    only relayed candidates may be used (`relay_only`: the peer's own addresses are never offered)."""

    host_addresses: tuple[str, ...] = ()
    turn_servers: tuple[TurnServer, ...] = ()
    relay_only: bool = False


def use_host_addresses(addresses: Sequence[str]) -> None:
    """Gather host candidates only on `addresses` (process-wide: aioice has no per-connection option)."""
    if not addresses:
        aioice.ice.get_host_addresses = _original_host_addresses
        return
    pinned = list(addresses)

    def pinned_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in pinned if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = pinned_addresses


def configuration(settings: IceSettings) -> RTCConfiguration:
    use_host_addresses(settings.host_addresses)
    servers = [RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential)
               for s in settings.turn_servers]
    policy = RTCIceTransportPolicy.RELAY if settings.relay_only else RTCIceTransportPolicy.ALL
    return RTCConfiguration(iceServers=servers, iceTransportPolicy=policy)


def prefer_h264(transceiver) -> None:
    codecs = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/H264"]
    transceiver.setCodecPreferences(codecs)


class LoopThread:
    """An asyncio event loop running in a daemon thread of its own."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, coroutine: Coroutine) -> Future:
        """Schedule `coroutine` on the loop from any thread."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def call(self, coroutine: Coroutine, timeout: float):
        """Run `coroutine` on the loop and wait for its result; TimeoutError (and the coroutine cancelled) after
        `timeout` seconds."""
        future = self.submit(coroutine)
        try:
            return future.result(timeout)
        except FutureTimeout:
            future.cancel()
            raise TimeoutError(f"no answer within {timeout} s") from None

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
