"""systemd integration: readiness, status, watchdog and journald logging.

Outside systemd `daemon.notify` returns False and does nothing, so the
same code runs in tests and on a developer's machine.
"""

from __future__ import annotations

import logging
import os
import sys

from systemd import daemon, journal


class Notifier:
    """sd_notify messages for a `Type=notify` unit with `WatchdogSec=`."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        enabled = usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid()))
        self.watchdog_interval_s: float | None = int(usec) / 2e6 if enabled else None

    def ready(self, status: str) -> bool:
        return daemon.notify(f"READY=1\nSTATUS={status}")

    def status(self, status: str) -> bool:
        return daemon.notify(f"STATUS={status}")

    def watchdog(self) -> bool:
        return daemon.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        return daemon.notify("STOPPING=1\nSTATUS=stopping")


def under_systemd(environ: dict[str, str] | None = None) -> bool:
    """True when stderr goes to the journal (systemd sets JOURNAL_STREAM)."""
    env = os.environ if environ is None else environ
    stream = env.get("JOURNAL_STREAM", "")
    if not stream or ":" not in stream:
        return False
    try:
        device, inode = (int(part) for part in stream.split(":", 1))
        stat = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError):
        return False
    return (stat.st_dev, stat.st_ino) == (device, inode)


def setup_logging(*, level: int = logging.INFO, identifier: str = "canvass-edge") -> None:
    """Log to journald under systemd (structured fields), to stderr otherwise."""
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(level)
    if under_systemd():
        handler: logging.Handler = journal.JournalHandler(SYSLOG_IDENTIFIER=identifier)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    else:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    logging.getLogger("libav").setLevel(logging.ERROR)
