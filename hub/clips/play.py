"""Play tickets: how a page plays a clip in a `<video>`, which cannot send the Bearer header.

`POST /api/clips/{id}/play` gives the signed-in user a URL, `/api/clips/{id}/download?ticket=…`, that the
download accepts instead of the header. The ticket names the user, their sign-in session, one clip and when it
expires (`clip_play_ticket_ttl_s`, never after the session), signed with HMAC-SHA256 under the hub's server
secret (`hub.security.keyed_hash`, with a label of its own), so the hub keeps no state for it:

    v1.<user id>.<session id>.<clip id>.<expires, Unix seconds>.<HMAC, hex>

It opens that clip only, for as long as it lasts and the session lives (signing out, an admin revoking the
session or disabling the user ends it), and the user must still be allowed the clip when it is used. A video
element makes many range requests with it; each is authorised afresh. The ticket is in the URL, so it can reach
the browser's history and logs: that is why it lasts minutes and dies with the session, and why the hub's own
access log blanks it (`TicketRedactor`).

`make_ticket` and `read_ticket` are pure (the secret and the time are passed in).
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import re
from dataclasses import dataclass

from sqlalchemy.orm import Session

from hub.clips.errors import ClipError, NotAllowed
from hub.security import keyed_hash
from hub.tables import ApiSession

LABEL = "canvass clip play ticket v1:"
_TICKET = re.compile(r"v1\.([0-9]{1,19})\.([0-9]{1,19})\.([0-9]{1,19})\.([0-9]{1,12})\.([0-9a-f]{64})")
MAX_TICKET_CHARS = 160
_TICKET_IN_QUERY = re.compile(r"([?&]ticket=)[^&\s]*")


class BadTicket(ClipError):
    """A play ticket that is not one the hub signed, has expired, or whose session has ended (401)."""

    status = 401


class OtherClip(NotAllowed):
    """A valid play ticket presented for a clip other than its own (403)."""


@dataclass(frozen=True)
class PlayTicket:
    user_id: int
    session_id: int
    clip_id: int
    expires: int  # Unix seconds

    @property
    def payload(self) -> str:
        return f"v1.{self.user_id}.{self.session_id}.{self.clip_id}.{self.expires}"

    @property
    def expires_at(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.expires, dt.timezone.utc)


def _mac(secret: str, payload: str) -> str:
    return keyed_hash(secret, LABEL + payload)


def make_ticket(secret: str, ticket: PlayTicket) -> str:
    return f"{ticket.payload}.{_mac(secret, ticket.payload)}"


def read_ticket(secret: str, text: str, *, clip_id: int, now: dt.datetime) -> PlayTicket:
    """The ticket `text` is, if the hub signed it, it has not expired at `now` and it is for `clip_id`; else
    BadTicket or OtherClip. The messages never repeat the ticket."""
    match = _TICKET.fullmatch(text)
    if match is None:
        raise BadTicket("the play ticket is not valid")
    ticket = PlayTicket(*(int(g) for g in match.groups()[:4]))
    signed = text.rpartition(".")[0]  # as sent: a number written another way (07 for 7) is not what was signed
    if not hmac.compare_digest(_mac(secret, signed), match.group(5)):
        raise BadTicket("the play ticket is not valid")
    if ticket.expires <= now.timestamp():
        raise BadTicket(f"the play ticket expired; ask for a new one (POST /api/clips/{ticket.clip_id}/play)")
    if ticket.clip_id != clip_id:
        raise OtherClip("the play ticket is for another clip")
    return ticket


def ticket_expiry(now: dt.datetime, ttl_s: int, session_expires_at: dt.datetime) -> int:
    """When a ticket issued at `now` expires: after `ttl_s`, never after its session (Unix seconds)."""
    return int(min(now + dt.timedelta(seconds=ttl_s), session_expires_at).timestamp())


def session_for_ticket(session: Session, ticket: PlayTicket, *, now: dt.datetime) -> ApiSession:
    """The sign-in session `ticket` was issued to, if it still lives (not signed out, revoked or expired, its
    user not disabled); BadTicket if not."""
    row = session.get(ApiSession, ticket.session_id)
    if row is None or row.user_id != ticket.user_id or row.revoked or row.expires_at <= now or row.user.disabled:
        raise BadTicket("the sign-in session this play ticket was issued to has ended")
    return row


class TicketRedactor(logging.Filter):
    """Blanks play tickets in access-log lines (uvicorn's access log has each request's path and query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_TICKET_IN_QUERY.sub(r"\1[redacted]", a) if isinstance(a, str) else a
                                for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = _TICKET_IN_QUERY.sub(r"\1[redacted]", record.msg)
        return True
