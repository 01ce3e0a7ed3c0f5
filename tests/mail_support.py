"""A real SMTP server on loopback (aiosmtpd) that keeps what the hub sends."""

from __future__ import annotations

import email
import email.message
import threading

from aiosmtpd.controller import Controller

from sim.process import free_port


class Inbox:
    """A real SMTP server on loopback that keeps what it receives."""

    def __init__(self):
        self.messages: list[email.message.Message] = []
        self.arrived = threading.Event()
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content))
        self.arrived.set()
        return "250 OK"

    def about(self, words: str) -> list[email.message.Message]:
        """The messages whose subject contains `words`."""
        return [message for message in self.messages if words in message["Subject"]]
