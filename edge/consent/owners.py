"""The owner keys this appliance holds, and the one-time pairing codes that let an owner add one.

Only someone at the box (its console, or SSH as its administrator) can open a pairing window
(`canvass-edge owners pair`): a random code, shown there and nowhere else, valid for `PAIRING_MINUTES` and for
one key. The owner types it into the console, whose page MACs the key's enrolment with it; the hub carries the
offer to the box, which accepts it only if one of its open codes keyed the MAC. The hub never sees a code, so
it cannot enrol a key of its own; after `MAX_FAILED_OFFERS` offers that fail every open code is void (a code
cannot be guessed by asking). Removing a key (`canvass-edge owners remove`) is also done at the box: a lost
passkey is recovered by pairing a new one there and removing the old.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from pathlib import Path

from edge.sqlite import open_database
from wire import owner as wo

PAIRING_MINUTES = 15
MAX_FAILED_OFFERS = 5

_SCHEMA = """
    CREATE TABLE IF NOT EXISTS owner_keys (credential_id TEXT PRIMARY KEY, key TEXT NOT NULL,
                                           added_at TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS pairing_codes (code TEXT PRIMARY KEY, expires_at TEXT NOT NULL,
                                              failures INTEGER NOT NULL DEFAULT 0);
"""


def new_pairing_code() -> str:
    """A code a person can read off a screen and type: three groups of four from an alphabet without 0/O, 1/I."""
    code = "".join(secrets.choice(wo.PAIRING_CODE_ALPHABET) for _ in range(wo.PAIRING_CODE_LENGTH))
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


class OwnerKeyStore:
    """Owner keys and pairing codes in the consent database (SQLite, synchronous=FULL); shared between threads."""

    def __init__(self, path: Path):
        self._lock = threading.Lock()
        self._db = open_database(path, synchronous="FULL")
        self._db.executescript(_SCHEMA)

    def keys(self) -> dict[str, wo.OwnerKey]:
        """Every owner key held, by credential id."""
        with self._lock:
            rows = self._db.execute("SELECT key FROM owner_keys").fetchall()
        keys = [wo.OwnerKey.model_validate_json(row[0]) for row in rows]
        return {key.credential_id: key for key in keys}

    def listing(self) -> list[dict]:
        with self._lock:
            rows = self._db.execute("SELECT key, added_at FROM owner_keys ORDER BY added_at").fetchall()
        return [{**wo.OwnerKey.model_validate_json(key).model_dump(exclude={"public_key"}),
                 "fingerprint": wo.OwnerKey.model_validate_json(key).fingerprint(), "added_at": added}
                for key, added in rows]

    def open_pairing(self, now: dt.datetime) -> str:
        """A new one-time pairing code, valid for `PAIRING_MINUTES` (shown to whoever is at the box)."""
        code = new_pairing_code()
        expires = now + dt.timedelta(minutes=PAIRING_MINUTES)
        with self._lock:
            self._db.execute("DELETE FROM pairing_codes WHERE expires_at <= ?", (now.isoformat(),))
            self._db.execute("INSERT INTO pairing_codes (code, expires_at) VALUES (?, ?)",
                             (wo.normalise_code(code), expires.isoformat()))
        return code

    def enrol(self, offer: wo.KeyOffer, device_id: str, now: dt.datetime) -> wo.OwnerKey:
        """Hold the offered key if an open pairing code keyed its MAC (the code is spent); OwnerSignatureError
        otherwise."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                key = self._enrol_locked(offer, device_id, now)
            except BaseException:
                self._db.execute("COMMIT")  # a failed offer counts against every open code
                raise
            self._db.execute("COMMIT")
        return key

    def _enrol_locked(self, offer: wo.KeyOffer, device_id: str, now: dt.datetime) -> wo.OwnerKey:
        codes = [row[0] for row in self._db.execute("SELECT code FROM pairing_codes WHERE expires_at > ?",
                                                    (now.isoformat(),))]
        for code in codes:
            enrolment = wo.open_offer(offer, code)
            if enrolment is None:
                continue
            if enrolment.device_id != device_id:
                raise wo.OwnerSignatureError(f"the key was offered for device {enrolment.device_id}, not this one")
            self._db.execute("DELETE FROM pairing_codes WHERE code = ?", (code,))
            self._db.execute("INSERT OR REPLACE INTO owner_keys VALUES (?, ?, ?)",
                             (enrolment.key.credential_id, enrolment.key.model_dump_json(), now.isoformat()))
            return enrolment.key
        self._db.execute("UPDATE pairing_codes SET failures = failures + 1")
        self._db.execute("DELETE FROM pairing_codes WHERE failures >= ?", (MAX_FAILED_OFFERS,))
        if not codes:
            raise wo.OwnerSignatureError("no pairing code is open on this appliance: run `canvass-edge owners pair` "
                                         "on the box first")
        raise wo.OwnerSignatureError("the pairing code does not match one this appliance showed")

    def remove(self, credential_id: str) -> bool:
        with self._lock:
            return self._db.execute("DELETE FROM owner_keys WHERE credential_id = ?",
                                    (credential_id,)).rowcount > 0

    def close(self) -> None:
        with self._lock:
            self._db.close()
