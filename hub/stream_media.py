"""How a stream's media gets from the box to the browsers: the interface both paths implement, and the factory.

- `SfuMedia` (`hub.stream_sfu`, the default): the box publishes once into a Janus VideoRoom room the hub made
  for the session; each browser subscribes at Janus; Janus forwards the box's RTP untouched. The hub only
  signals.
- `RelayMedia` (`hub.stream_relay`, a fallback a deployment switches on with `stream_media = "relay"`): the hub
  itself answers the box with aiortc and relays to each browser, decoding once and encoding per viewer.

Both are driven the same way by `hub.streams.StreamService`, from any thread: `publish` answers the box's offer;
`subscribe` makes an offer for one browser, `start_viewer` takes its answer; `unsubscribe`, `unpublish` end
them. `gone` callbacks report a publisher or a viewer that went away by itself (its peer hung up).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Protocol


Gone = Callable[[str], None]  # called with why, from a thread of the media path's own


class MediaError(RuntimeError):
    """The media path could not publish, subscribe or answer (the SFU refused or did not answer, no video yet);
    `status` is the HTTP status the API answers with."""

    def __init__(self, message: str, status: int = 503):
        super().__init__(message)
        self.status = status


class Publication(Protocol):
    """One session's media from the box, as the media path keeps it."""


class Subscription(Protocol):
    """One browser's copy of a publication."""


class MediaPath(Protocol):
    name: str

    def publish(self, session_id: uuid.UUID, offer_sdp: str, gone: Gone) -> tuple[Publication, str]:
        """Take the box's offer; the publication and the answer for the box."""

    def subscribe(self, publication: Publication, viewer_id: uuid.UUID, gone: Gone) -> tuple[Subscription, str]:
        """A new viewer of `publication` (waits, bounded, until the box's video flows); its offer for the browser."""

    def start_viewer(self, subscription: Subscription, answer_sdp: str) -> None:
        """The browser's answer to its offer."""

    def unsubscribe(self, subscription: Subscription) -> None: ...

    def unpublish(self, publication: Publication) -> None:
        """End the publication and every subscription to it."""

    def close(self) -> None: ...
