"""What goes wrong with clips at the hub; each error carries the HTTP status the API answers with."""

from __future__ import annotations


class ClipError(Exception):
    """Base of the clip errors: `status` is the HTTP answer, the message says why in plain words."""

    status = 400

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status


class NoToken(ClipError):
    """An upload call without an upload token."""

    status = 401


class NotAllowed(ClipError):
    """The token is unknown or used up, names another upload, or the request is not (or no longer) approved;
    or the manifest is not the named box's (its certificate, key or device)."""

    status = 403


class AlreadyDelivered(ClipError):
    """The request already has its clip at the hub (its token was single-use)."""

    status = 409


class UploadConflict(ClipError):
    """The upload is out of order (no manifest yet) or the request changed while it ran."""

    status = 409


class TooLarge(ClipError):
    """More bytes than the manifest says, or than the hub takes (`clip_max_bytes`)."""

    status = 413


class ManifestRefused(ClipError):
    """A manifest that does not answer the request: not one, other camera or request, window outside the
    approved one; or a clip that arrived and does not verify against it."""

    status = 422


class StoreUnavailable(ClipError):
    """The clip store failed while taking the clip in; the box uploads it again."""

    status = 503


class NotFound(ClipError):
    """No such case or clip (or not one the caller may see)."""

    status = 404


class Gone(ClipError):
    """The clip was deleted when its case's retention ended."""

    status = 410
