"""TURN credentials for viewers and boxes behind NAT, by the TURN REST API convention (coturn's `use-auth-secret`).

The user name is `<expiry, Unix seconds>:<label>` and the password is base64(HMAC-SHA1(secret, user name)); the
TURN server, holding the same secret, recomputes the password and refuses a name whose expiry has passed. So the
hub hands each viewer credentials that die on their own, and never hands out the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass


@dataclass(frozen=True)
class TurnCredentials:
    username: str
    credential: str
    expires_at: int  # Unix seconds


def turn_credentials(secret: str, label: str, *, now: float, ttl_s: int) -> TurnCredentials:
    """Credentials valid for `ttl_s` seconds from `now` (Unix seconds); `label` names the holder (no colons)."""
    if ":" in label:
        raise ValueError("a TURN credential's label cannot contain ':'")
    expires = int(now) + ttl_s
    username = f"{expires}:{label}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return TurnCredentials(username, base64.b64encode(digest).decode(), expires)
