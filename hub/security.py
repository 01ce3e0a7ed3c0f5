"""Passwords (Argon2id), sign-in session tokens, lockout and TOTP."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from hub.tables import ApiSession, LoginFailure, User, utcnow

_hasher = PasswordHasher()
#: Verified against when the user does not exist, so timing does not tell which usernames exist.
_DUMMY_HASH = _hasher.hash("not a real password")

MIN_PASSWORD_LENGTH = 12


class PasswordPolicyError(ValueError):
    pass


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 1024:
        raise PasswordPolicyError("password longer than 1024 characters")


def hash_password(password: str) -> str:
    check_password_policy(password)
    return _hasher.hash(password)


def verify_password(user: User | None, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash if user else _DUMMY_HASH, password) and user is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def keyed_hash(secret: str, value: str) -> str:
    """HMAC-SHA256 of `value` under the server secret: how tokens and claim codes are stored."""
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()


def recent_failures(session: Session, username: str, window_s: int) -> int:
    since = utcnow() - dt.timedelta(seconds=window_s)
    return session.scalar(select(func.count()).select_from(LoginFailure)
                          .where(LoginFailure.username == username, LoginFailure.at >= since)) or 0


def record_failure(session: Session, username: str, source: str) -> None:
    session.add(LoginFailure(username=username[:100], source=source[:100]))


def clear_failures(session: Session, username: str) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.username == username))


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


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="Canvass")


def verify_totp(secret: str, code: str) -> bool:
    return bool(code) and pyotp.TOTP(secret).verify(code, valid_window=1)
