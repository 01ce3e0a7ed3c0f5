"""Real pieces for the registration tests: an SMTP server on loopback (aiosmtpd) that keeps what it receives,
the links the hub's e-mails carry, a registration form, and raw tus calls to an owner's upload link."""

from __future__ import annotations

import base64
import datetime as dt
import email.message
import re
import threading
import time

from aiosmtpd.controller import Controller

from sim.process import free_port

PUBLIC_URL = "https://hub.example.org"
MANAGE_LINK = re.compile(re.escape(PUBLIC_URL) + r"/registration/([A-Za-z0-9_-]+)")
UPLOAD_LINK = re.compile(re.escape(PUBLIC_URL) + r"/upload/([A-Za-z0-9_-]+)")
POINT = (39.9526, -75.1652)


class Inbox:
    """A real SMTP server on 127.0.0.1 that keeps every message."""

    def __init__(self):
        self.messages: list[email.message.Message] = []
        self._lock = threading.Condition()
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            self.messages.append(email.message_from_bytes(envelope.content))
            self._lock.notify_all()
        return "250 OK"

    def settings(self) -> dict:
        return dict(smtp_host="127.0.0.1", smtp_port=self.controller.port, smtp_starttls=False,
                    public_url=PUBLIC_URL)

    def wait_for(self, to: str, count: int = 1, timeout: float = 20) -> list[email.message.Message]:
        """The messages to `to` once there are `count` of them (AssertionError after `timeout`)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                mine = [m for m in self.messages if m["To"] == to]
                if len(mine) >= count:
                    return mine
                left = deadline - time.monotonic()
                assert left > 0, f"{count} e-mail(s) to {to} did not arrive (got {len(mine)})"
                self._lock.wait(left)

    def to(self, address: str) -> list[email.message.Message]:
        with self._lock:
            return [m for m in self.messages if m["To"] == address]


def text_of(message: email.message.Message) -> str:
    return message.get_payload(decode=True).decode()


def manage_token(message: email.message.Message) -> str:
    text = text_of(message)
    found = MANAGE_LINK.search(text)
    assert found, f"no manage link in {text!r}"
    return found.group(1)


def upload_token(message: email.message.Message) -> str:
    text = text_of(message)
    found = UPLOAD_LINK.search(text)
    assert found, f"no upload link in {text!r}"
    return found.group(1)


def form(email_address: str, *, latitude: float = POINT[0], longitude: float = POINT[1], **changes) -> dict:
    camera = dict(latitude=latitude, longitude=longitude, outdoor=True, view_direction_deg=90.0,
                  description="front door and the pavement", retention_days=14, shares_past=True)
    camera.update(changes.pop("camera", {}))
    filled = dict(contact_name="Rosa Example", email=email_address, phone="+1 215 555 0100",
                  address="12 Example Street, Philadelphia", cameras=[camera])
    return {**filled, **changes}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def window(hours_ago: float = 3, minutes: float = 20) -> tuple[str, str]:
    start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=hours_ago)
    return start.isoformat(), (start + dt.timedelta(minutes=minutes)).isoformat()


def tus_create(client, token: str, length: int, filename: str = "clip.mp4"):
    metadata = (f"filename {base64.b64encode(filename.encode()).decode()},"
                f"filetype {base64.b64encode(b'video/mp4').decode()}")
    return client.post("/api/owner-uploads", headers={**bearer(token), "Tus-Resumable": "1.0.0",
                                                      "Upload-Length": str(length), "Upload-Metadata": metadata})


def tus_patch(client, token: str, location: str, offset: int, data: bytes):
    return client.patch(location, content=data, headers={
        **bearer(token), "Tus-Resumable": "1.0.0", "Upload-Offset": str(offset),
        "Content-Type": "application/offset+octet-stream"})


def tus_send(client, token: str, data: bytes, filename: str = "clip.mp4", chunk: int = 512 * 1024):
    """Create an upload and send `data` in chunks; the last response."""
    created = tus_create(client, token, len(data), filename)
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    response = created
    for offset in range(0, len(data), chunk):
        response = tus_patch(client, token, location, offset, data[offset:offset + chunk])
        if response.status_code != 204:
            return response
    return response
