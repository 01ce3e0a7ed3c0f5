"""Sign-in throttling and lockout, counted atomically in the database before any password is checked.

Design. Counting failures per user name alone let anyone lock anyone out (five wrong passwords from anywhere
locked an admin), and nothing limited one address spraying guesses across names. Three counters instead,
each a row of `sign_in_counters` with a fixed window of `lockout_window_s` that starts at its first failure:

- **pair** (account, address) keeps CJIS's lock: after `lockout_failures` (5) failures *from one address*,
  that address is locked out of that account (423 + Retry-After) until the window ends. A stranger's
  failures lock the stranger's address, never the user at theirs. A successful sign-in resets the pair.
- **source** (address, every account): after `sign_in_source_failures` failures from one address (an IPv6
  address counts by its /64), it gets 429 + Retry-After for every name until the window ends, so one
  machine cannot try five passwords on each of many names.
- **account** (every address): a distributed attack, many addresses each under its own lock, is slowed
  and not locked: past `sign_in_account_ceiling` failures in the window the account allows one more
  password check per `sign_in_account_interval_s` on average, and 429 + Retry-After to the rest. Addresses
  the account signed in from within `sign_in_trust_s` skip this counter, so the user at their usual desk is
  not slowed even then; only a new address is, and only while the attack lasts.

Why not lock the account itself: a lock anyone can trigger is a denial of service against exactly the
accounts that matter (admins); CJIS's purpose, bounding guesses, is met by the pair lock together with the
source and account limits: one address gets five guesses per account per window, and all addresses
together at most the ceiling plus one per interval.

Atomic counting. An attempt is *reserved* before its password is checked, with one
`INSERT … ON CONFLICT DO UPDATE SET failures = failures + 1 WHERE failures < limit RETURNING` per counter
(source, pair, account, always in that order, so concurrent transactions never wait on each other in a
circle). The statement takes SQLite's write lock or PostgreSQL's row lock, so simultaneous attempts get
consecutive counts and no more than the limit are ever checked; a refused attempt changes nothing. The
caller commits the reservation before the (slow) password check; a success gives its reservation back
(`succeeded`), a failure keeps it. Unknown user names are counted like real ones, so answers do not tell
which names exist. Times are whole seconds since the epoch, so the arithmetic is the same SQL on both
databases.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from sqlalchemy import BigInteger, case, delete, literal, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hub.settings import HubSettings
from hub.tables import SignInCounter

_COUNTERS = SignInCounter.__table__
_KEY = (_COUNTERS.c.scope, _COUNTERS.c.account, _COUNTERS.c.source)
#: Rows removed per sign-in at most, once their window has passed (and their trust, for pairs).
PRUNE_BATCH = 200


@dataclass(frozen=True)
class Limits:
    """The throttle's settings, in seconds and counts."""

    window_s: int
    pair_failures: int
    source_failures: int
    account_ceiling: int
    account_interval_s: int
    trust_s: int

    @classmethod
    def from_settings(cls, settings: HubSettings) -> "Limits":
        return cls(window_s=settings.lockout_window_s, pair_failures=settings.lockout_failures,
                   source_failures=settings.sign_in_source_failures, account_ceiling=settings.sign_in_account_ceiling,
                   account_interval_s=settings.sign_in_account_interval_s, trust_s=settings.sign_in_trust_s)


class SignInRefused(Exception):
    """Raised by `reserve` when a counter is at its limit: nothing was reserved and no password may be checked."""

    def __init__(self, status: int, reason: str, retry_after: int):
        super().__init__(reason)
        self.status, self.reason, self.retry_after = status, reason, retry_after


@dataclass(frozen=True)
class Reservation:
    """One password check reserved by `reserve`, to be settled by `succeeded` (or kept as a failure)."""

    account: str
    source: str
    counted_for_account: bool


def account_key(username: str) -> str:
    """The account a sign-in names: user names are unique regardless of case."""
    return username.lower()[:100]


def source_key(address: str) -> str:
    """The address a sign-in is counted under: IPv4 as is (also when mapped into IPv6), IPv6 by its /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:100]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def retry_after(scope: str, *, failures: int, window_start: int, limits: Limits, now: int) -> int:
    """Seconds until a refused counter lets an attempt through: its window's end, or (account) the next slot."""
    ends = window_start + limits.window_s
    if scope == "account":
        ends = min(ends, window_start + (failures - limits.account_ceiling + 1) * limits.account_interval_s)
    return max(1, ends - now)


def _insert(session: Session):
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(_COUNTERS)


def _take(session: Session, key: tuple[str, str, str], allowance, *, limits: Limits, now: int) -> int | None:
    """Count one attempt on `key` unless it is at `allowance`: its `trusted_until`, or None when refused."""
    expired = _COUNTERS.c.window_start <= now - limits.window_s
    scope, account, source = key
    restart = literal(now, BigInteger)
    statement = (_insert(session)
                 .values(scope=scope, account=account, source=source, failures=1, window_start=now, trusted_until=0)
                 .on_conflict_do_update(
                     index_elements=list(_KEY),
                     set_={"failures": case((expired, 1), else_=_COUNTERS.c.failures + 1),
                           "window_start": case((expired, restart), else_=_COUNTERS.c.window_start)},
                     where=or_(expired, _COUNTERS.c.failures < allowance))
                 .returning(_COUNTERS.c.trusted_until))
    return session.execute(statement).scalar_one_or_none()


def _give_back(session: Session, key: tuple[str, str, str]) -> None:
    session.execute(update(_COUNTERS).where(tuple_(*_KEY) == key, _COUNTERS.c.failures > 0)
                    .values(failures=_COUNTERS.c.failures - 1))


def _refused(session: Session, key: tuple[str, str, str], *, limits: Limits, now: int) -> SignInRefused:
    failures, window_start = session.execute(select(_COUNTERS.c.failures, _COUNTERS.c.window_start)
                                             .where(tuple_(*_KEY) == key)).one()
    wait = retry_after(key[0], failures=failures, window_start=window_start, limits=limits, now=now)
    if key[0] == "pair":
        return SignInRefused(423, f"locked after {limits.pair_failures} failed sign-ins to this account from this "
                                  f"address; try again in {wait} seconds", wait)
    if key[0] == "source":
        return SignInRefused(429, f"too many failed sign-ins from this address; try again in {wait} seconds", wait)
    return SignInRefused(429, "too many failed sign-ins to this account from elsewhere: sign-ins to it are slowed "
                              f"down; try again in {wait} seconds", wait)


def reserve(session: Session, *, account: str, source: str, limits: Limits, now: int) -> Reservation:
    """Reserve one password check for `account` from `source`, or raise `SignInRefused` (nothing reserved but
    what the source counter keeps: attempts at a locked account still count against their address)."""
    at = dict(limits=limits, now=now)
    source_row, pair_row, account_row = ("source", "", source), ("pair", account, source), ("account", account, "")
    if _take(session, source_row, limits.source_failures, **at) is None:
        raise _refused(session, source_row, **at)
    trusted_until = _take(session, pair_row, limits.pair_failures, **at)
    if trusted_until is None:
        raise _refused(session, pair_row, **at)
    if trusted_until > now:
        return Reservation(account, source, counted_for_account=False)
    slots = limits.account_ceiling + (now - _COUNTERS.c.window_start) // limits.account_interval_s
    if _take(session, account_row, slots, **at) is None:
        _give_back(session, pair_row)
        raise _refused(session, account_row, **at)
    return Reservation(account, source, counted_for_account=True)


def succeeded(session: Session, reservation: Reservation, *, limits: Limits, now: int) -> None:
    """The reserved check succeeded: give the address and the account their attempt back, reset the pair and
    trust the address for this account (same row order as `reserve`)."""
    account, source = reservation.account, reservation.source
    _give_back(session, ("source", "", source))
    session.execute(update(_COUNTERS).where(tuple_(*_KEY) == ("pair", account, source))
                    .values(failures=0, trusted_until=now + limits.trust_s))
    if reservation.counted_for_account:
        _give_back(session, ("account", account, ""))


def prune(session: Session, *, limits: Limits, now: int) -> None:
    """Remove a batch of counters whose window has passed (pairs: and whose trust has ended). Rows another
    transaction holds are skipped, never waited for."""
    stale = (select(*_KEY).where(_COUNTERS.c.window_start <= now - limits.window_s, _COUNTERS.c.trusted_until <= now)
             .limit(PRUNE_BATCH).with_for_update(skip_locked=True))
    session.execute(delete(_COUNTERS).where(tuple_(*_KEY).in_(stale)))
