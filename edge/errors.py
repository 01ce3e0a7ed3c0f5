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


class ClipError(EdgeError):
    """A clip could not be cut or exported (a bad window, an unknown camera, a directory that already holds
    an export, a box with no identity to sign with); the message says which. Nothing is left half-written."""


class NothingRecorded(ClipError):
    """The window asked for holds no recorded frame of the camera (or only segments that fail their hash
    check); the message says what was recorded nearest before and after it."""


class StillRecording(ClipError):
    """The window reaches into the segment the recorder is still writing: its hash is not known until it
    closes, and a manifest vouches only for closed segments. `open_since_us` is when that segment began: it
    closes about one segment length later, and the clip can be cut then."""

    def __init__(self, message: str, *, open_since_us: int) -> None:
        super().__init__(message)
        self.open_since_us = open_since_us
