"""Exceptions raised by the edge agent. One tree, each says when it is raised."""


class EdgeError(Exception):
    """Base class for every error the edge agent raises on purpose."""


class ConfigError(EdgeError):
    """The configuration file is missing, unreadable or invalid.

    The message names every offending field; nothing has been started."""


class CameraError(EdgeError):
    """A camera could not be opened or stopped delivering packets.

    Raised inside a camera's capture thread, which records the gap and
    reconnects; the URL in the message is always redacted."""


class SegmentIndexError(EdgeError):
    """The segment index could not be read or written (e.g. the disk is full).

    What was already stored stays intact: SQLite rolls the transaction back.
    `disk_full` is True when SQLite ran out of space (SQLITE_FULL)."""

    def __init__(self, message: str, *, disk_full: bool = False) -> None:
        super().__init__(message)
        self.disk_full = disk_full
