"""Passwords (Argon2id), user look-up, sign-in session tokens and TOTP (RFC 6238, each code accepted once).

The password rules are `hub.passwords`; throttling and lockout are `hub.throttle`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hub.passwords import PasswordPolicyError, check_password_policy  # noqa: F401 (re-exported: hash_password raises it)
from hub.tables import ApiSession, Counter, Role, User, utcnow

_hasher = PasswordHasher()
#: Verified against when the user does not exist, so timing does not tell which usernames exist.
_DUMMY_HASH = _hasher.hash("not a real password")


def hash_password(password: str, *, username: str = "") -> str:
    """The Argon2id hash of `password`, once it passes the password rules (`PasswordPolicyError` if not)."""
    check_password_policy(password, username=username)
    return _hasher.hash(password)


def verify_password(user: User | None, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash if user else _DUMMY_HASH, password) and user is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def find_user(session: Session, username: str) -> User | None:
    """The user called `username` in any case (names are unique regardless of case)."""
    return session.scalar(select(User).where(func.lower(User.username) == username.lower()))


def keyed_hash(secret: str, value: str) -> str:
    """HMAC-SHA256 of `value` under the server secret: how tokens and claim codes are stored."""
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()


def new_session(session: Session, user: User, secret: str, ttl_s: int) -> tuple[str, ApiSession]:
    token = secrets.token_urlsafe(32)
    row = ApiSession(token_hash=keyed_hash(secret, token), user_id=user.id,
                     expires_at=utcnow() + dt.timedelta(seconds=ttl_s))
    session.add(row)
    session.flush()
    return token, row


def session_for_token(session: Session, token: str, secret: str) -> ApiSession | None:
    row = session.scalar(select(ApiSession).where(ApiSession.token_hash == keyed_hash(secret, token)))
    if row is None or row.revoked or row.expires_at <= utcnow() or row.user.disabled:
        return None
    return row


def revoke_sessions(session: Session, *, user: User) -> int:
    """Revoke every live session of `user`; how many there were."""
    result = session.execute(update(ApiSession).where(ApiSession.user_id == user.id, ApiSession.revoked.is_(False))
                             .values(revoked=True).execution_options(synchronize_session="fetch"))
    return result.rowcount


#: The counter row that user-administration changes lock first (`lock_user_administration`).
ADMINISTRATION_LOCK = "user_administration"


def lock_user_administration(session: Session) -> None:
    """Serialise changes that could leave the hub without an enabled admin: bump one counter row first thing
    (SQLite's write lock, PostgreSQL's row lock), so two admins demoting each other at once are checked one
    after the other. Read the users concerned after this."""
    table = Counter.__table__
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(table).values(name=ADMINISTRATION_LOCK, value=1)
                    .on_conflict_do_update(index_elements=[table.c.name], set_={"value": table.c.value + 1}))


def enabled_admins_besides(session: Session, *, user: User) -> int:
    return session.scalar(select(func.count()).select_from(User).where(
        User.role == Role.ADMIN, User.disabled.is_(False), User.id != user.id)) or 0


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="Canvass")


def totp_step(secret: str, code: str, at: dt.datetime) -> int | None:
    """The time step, within one of `at`, whose code `code` is; None if none."""
    totp = pyotp.TOTP(secret)
    for offset in (0, -1, 1):
        moment = at + dt.timedelta(seconds=offset * totp.interval)
        if hmac.compare_digest(totp.at(moment), code):
            return totp.timecode(moment)
    return None


def claim_totp(session: Session, *, user: User, code: str, at: dt.datetime) -> bool:
    """Accept `code` for `user` once (RFC 6238 §5.2): its time step must be later than the last one accepted,
    which it then becomes, in one conditional UPDATE, so two requests with the same code cannot both pass."""
    step = totp_step(user.totp_secret or "", code, at)
    if step is None:
        return False
    claimed = session.execute(
        update(User).where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step).execution_options(synchronize_session="fetch"))
    return claimed.rowcount == 1
