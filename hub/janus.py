"""A client for Janus's HTTP API, as the hub uses it: one Janus session of the hub's, its plugin handles, and
the events Janus sends back (a thread long-polls for them).

Janus answers some requests at once (`success`) and others later: the POST returns `ack` and the answer comes
as an `event` with the same transaction on the session's long poll. `request` hides the difference. Events that
answer no request (`webrtcup`, `hangup`, a publisher leaving) go to the listener registered for the handle.
Every request carries the hub's token (Janus runs with `token_auth`; the hub adds its token through the admin
API with `add_token`, which needs the admin secret), so Janus serves nobody else.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

log = logging.getLogger(__name__)

LONG_POLL_S = 30
KEEPALIVE_S = 20

Listener = Callable[[dict[str, Any]], None]


class JanusError(RuntimeError):
    """Janus refused a request (its reason is the message), answered with something unexpected, or could not be
    reached or did not answer in time."""


@dataclass
class _Waiter:
    done: threading.Event = field(default_factory=threading.Event)
    reply: dict[str, Any] | None = None


@dataclass(frozen=True)
class PluginReply:
    """A plugin's answer: its data (`plugindata.data`) and the session description it sent, if any."""

    data: dict[str, Any]
    jsep: dict[str, Any] | None = None


def _transaction() -> str:
    return secrets.token_hex(8)


def _check(reply: dict[str, Any]) -> dict[str, Any]:
    if reply.get("janus") == "error":
        error = reply.get("error") or {}
        raise JanusError(f"Janus refused: {error.get('reason', 'no reason given')} ({error.get('code')})")
    return reply


def add_token(admin_url: str, admin_secret: str, token: str, plugins: list[str], timeout: float = 5) -> None:
    """Let `token` use `plugins` (Janus's admin API, `add_token`)."""
    body = {"janus": "add_token", "token": token, "plugins": plugins, "transaction": _transaction(),
            "admin_secret": admin_secret}
    try:
        _check(httpx.post(admin_url, json=body, timeout=timeout).json())
    except (httpx.HTTPError, ValueError) as exc:
        raise JanusError(f"Janus's admin API did not answer: {exc}") from None


def remove_token(admin_url: str, admin_secret: str, token: str, timeout: float = 5) -> None:
    body = {"janus": "remove_token", "token": token, "transaction": _transaction(), "admin_secret": admin_secret}
    try:
        _check(httpx.post(admin_url, json=body, timeout=timeout).json())
    except (httpx.HTTPError, ValueError) as exc:
        raise JanusError(f"Janus's admin API did not answer: {exc}") from None


class JanusSession:
    """One Janus API session: attach handles, send them requests, receive their events."""

    def __init__(self, api_url: str, token: str, *, timeout: float = 10) -> None:
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._http = httpx.Client(timeout=httpx.Timeout(timeout, read=LONG_POLL_S + 10))
        self._waiters: dict[str, _Waiter] = {}
        self._listeners: dict[int, Listener] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.id: int = self._post(self.api_url, {"janus": "create"})["data"]["id"]
        self._poller = threading.Thread(target=self._poll_events, name="janus-events", daemon=True)
        self._poller.start()

    @property
    def alive(self) -> bool:
        return self._poller.is_alive() and not self._stop.is_set()

    # -- requests --------------------------------------------------------------------------

    def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        body = {**body, "transaction": body.get("transaction") or _transaction(), "token": self.token}
        try:
            reply = self._http.post(url, json=body, timeout=self.timeout).json()
        except (httpx.HTTPError, ValueError) as exc:
            raise JanusError(f"Janus did not answer: {exc}") from None
        return _check(reply)

    def attach(self, plugin: str, listener: Listener | None = None) -> int:
        """A new handle on `plugin`; `listener` gets the handle's events that answer no request."""
        handle = self._post(f"{self.api_url}/{self.id}", {"janus": "attach", "plugin": plugin})["data"]["id"]
        if listener is not None:
            with self._lock:
                self._listeners[handle] = listener
        return handle

    def detach(self, handle: int) -> None:
        with self._lock:
            self._listeners.pop(handle, None)
        try:
            self._post(f"{self.api_url}/{self.id}/{handle}", {"janus": "detach"})
        except JanusError as exc:  # already gone (its peer hung up, the room was destroyed): nothing to free
            log.debug("detaching handle %s: %s", handle, exc)

    def request(self, handle: int, body: dict[str, Any], jsep: dict[str, Any] | None = None) -> PluginReply:
        """Send a plugin request and return its answer, whether Janus gives it at once or as a later event.
        A plugin's refusal (`error` in its data) raises JanusError with the plugin's reason."""
        transaction = _transaction()
        waiter = _Waiter()
        with self._lock:
            self._waiters[transaction] = waiter
        message: dict[str, Any] = {"janus": "message", "body": body, "transaction": transaction}
        if jsep is not None:
            message["jsep"] = jsep
        try:
            reply = self._post(f"{self.api_url}/{self.id}/{handle}", message)
            if reply.get("janus") == "ack":
                if not waiter.done.wait(self.timeout):
                    raise JanusError(f"Janus did not answer {body.get('request')!r} within {self.timeout} s")
                reply = _check(waiter.reply or {})
        finally:
            with self._lock:
                self._waiters.pop(transaction, None)
        data = (reply.get("plugindata") or {}).get("data") or {}
        if "error" in data:
            raise JanusError(f"Janus refused {body.get('request')!r}: {data['error']} ({data.get('error_code')})")
        return PluginReply(data, reply.get("jsep"))

    # -- events ------------------------------------------------------------------------------

    def _poll_events(self) -> None:
        url = f"{self.api_url}/{self.id}"
        failures = 0
        kept = time.monotonic()
        while not self._stop.is_set():
            if time.monotonic() - kept > KEEPALIVE_S:
                kept = time.monotonic()
                try:
                    self._post(url, {"janus": "keepalive"})
                except JanusError as exc:
                    log.debug("keepalive: %s", exc)
            try:
                reply = self._http.get(url, params={"maxev": 10, "token": self.token}).json()
                failures = 0
            except (httpx.HTTPError, ValueError, RuntimeError) as exc:  # RuntimeError: the client closed (`close`)
                if self._stop.is_set():
                    return
                failures += 1
                if failures == 1:
                    log.warning("Janus's event poll failed: %s (retrying quietly)", exc)
                if self._stop.wait(min(5.0, 0.2 * failures)):
                    return
                continue
            for event in reply if isinstance(reply, list) else [reply]:
                self._dispatch(event)

    def _dispatch(self, event: dict[str, Any]) -> None:
        kind = event.get("janus")
        if kind == "keepalive":
            return
        if kind == "error" and event.get("error", {}).get("code") == 458:  # no such session: Janus restarted
            log.warning("Janus lost the hub's session %s", self.id)
            self._stop.set()
            return
        with self._lock:
            waiter = self._waiters.get(event.get("transaction") or "")
            listener = self._listeners.get(event.get("sender") or 0)
        if waiter is not None and kind in ("event", "success", "error"):
            waiter.reply = event
            waiter.done.set()
        elif listener is not None:
            try:
                listener(event)
            except Exception:
                log.warning("a listener failed on Janus event %s", kind, exc_info=True)

    def close(self) -> None:
        self._stop.set()
        try:
            self._post(f"{self.api_url}/{self.id}", {"janus": "destroy"})
        except JanusError as exc:
            log.debug("destroying the Janus session: %s", exc)
        # The event poll may sit in a long poll for up to LONG_POLL_S: closing the connection under it ends it
        # (as an HTTP error, which the poll takes as its cue to stop) instead of waiting that out.
        self._poller.join(0.5)
        self._http.close()
        self._poller.join(5)
