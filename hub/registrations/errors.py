"""The registration package's errors: each carries the HTTP status the API answers with and a message for the
person (never the input they sent)."""

from __future__ import annotations


class RegistrationError(Exception):
    """Something a registrant, an owner or an analyst asked cannot be done; the message says why."""

    status = 400

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status


class LinkNotValid(RegistrationError):
    """A manage or upload link whose token the hub does not know (wrong, or its registration deleted)."""

    status = 404


class LinkClosed(RegistrationError):
    """An upload link that no longer takes files: expired, finished or declined (`state` says which)."""

    status = 410

    def __init__(self, message: str, state: str):
        super().__init__(message)
        self.state = state


class Refused(RegistrationError):
    """Input the hub will not keep (a field out of range, a file that is not video, a 17th file)."""

    status = 422


class TooLarge(RegistrationError):
    """A file, or the files of one link together, over the configured size."""

    status = 413


class TooMany(RegistrationError):
    """Too many attempts from one address or for one e-mail address; `retry_after_s` says when to try again."""

    status = 429

    def __init__(self, message: str, retry_after_s: int):
        super().__init__(message)
        self.retry_after_s = retry_after_s
