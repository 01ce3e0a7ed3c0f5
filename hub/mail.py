"""E-mail from the hub (owners told of footage requests), through the SMTP server the deployment configures.

Sending never holds up a request: messages go to one worker thread that
talks SMTP (stdlib `smtplib`, STARTTLS when configured). A failure is logged
(once per run of failures at WARNING) and counted; the hub's own notice and
the box's notice do not depend on it. Without `smtp_host` nothing is sent.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage

from hub.settings import HubSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mail:
    to: tuple[str, ...]
    subject: str
    body: str


class Mailer:
    def __init__(self, settings: HubSettings):
        self.settings = settings
        self._pool: ThreadPoolExecutor | None = None  # made when first needed (again after `close`)
        self.sent = 0
        self.failed = 0
        self._failing = False

    @property
    def enabled(self) -> bool:
        return self.settings.smtp_host is not None

    def send(self, mail: Mail) -> Future | None:
        """Queue `mail`; None when e-mail is not configured or there is nobody to write to."""
        if not self.enabled or not mail.to:
            return None
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mail")
        return self._pool.submit(self._deliver, mail)

    def _deliver(self, mail: Mail) -> None:
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = ", ".join(mail.to)
        message["Subject"] = mail.subject
        message.set_content(mail.body)
        try:
            self._submit(message)
        except (OSError, smtplib.SMTPException) as exc:
            self.failed += 1
            if not self._failing:
                log.warning("e-mail not sent (%s); the hub's notices still show it", exc)
            self._failing = True
            return
        self.sent += 1
        self._failing = False

    def _submit(self, message: EmailMessage) -> None:
        settings = self.settings
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=20) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password or "")
            smtp.send_message(message)

    def close(self) -> None:
        """Deliver what is queued, then stop the worker (a later `send` starts a new one)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=False)
