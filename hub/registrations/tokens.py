"""The secrets in links: a registration's manage token (derived from the server secret and a per-registration
salt, so every e-mail can carry the same link while the database holds only its hash) and an upload link's
token (random, sent once). The database keeps SHA-256 digests only."""

from __future__ import annotations

import hashlib
import re
import secrets

from hub.security import keyed_hash

#: What a token in a link looks like (anything else is refused before the database is asked).
TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,128}$")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_salt() -> str:
    return secrets.token_hex(16)


def manage_token(secret: str, salt: str) -> str:
    return keyed_hash(secret, f"registration-manage:{salt}")


def new_link_token() -> str:
    return secrets.token_urlsafe(32)


def well_formed(token: str) -> bool:
    return bool(TOKEN.match(token))
