"""The access service's exceptions."""

from __future__ import annotations


class AccessError(Exception):
    """Base class: something the access service will not or cannot do; `status` is the HTTP status to answer."""

    status = 403

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status


class AccessRefused(AccessError):
    """The request is refused (by the hub's checks, which audited it, or as not found / not allowed)."""


class ApplianceUnreachable(AccessError):
    """The appliance did not answer over the MQTT link, or the hub has no link (the grant, if any, stands)."""

    status = 503
