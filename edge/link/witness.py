"""The appliance as a witness of the hub's audit log.

It keeps the last signed checkpoint it accepted (data_dir/link/checkpoint),
fetches the hub's newest one, checks its signature with the audit key it got
at enrolment, and asks for a consistency proof from the old size to the new.
A checkpoint that is smaller than the last one (the log shrank), the same size
with another root, or not provably an extension of it (the log forked) is
refused and raised as an alarm: to the owner on the box and to the hub. The
stored checkpoint only ever moves forward along a proven path.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from wire import audit as wa
from wire import checkpoint as cp
from wire import merkle

log = logging.getLogger(__name__)

#: GET a hub API path with query parameters and return the decoded JSON (raises on failure).
Fetch = Callable[[str, dict], dict]


def http_fetch(base_url: str) -> Fetch:
    """A `Fetch` from the hub at `base_url` over HTTP(S), on one kept-alive client: a grant's checkpoint is
    vouched for while the stream waits to start, and a fresh client per call (its TLS context, its connection)
    cost 70–100 ms of it."""
    client = httpx.Client(base_url=base_url.rstrip("/"), timeout=10)

    def get(path: str, params: dict) -> dict:
        response = client.get(path, params=params)
        response.raise_for_status()
        return response.json()

    return get


class LogForked(Exception):
    """The hub showed a log history that contradicts one it signed before."""


@dataclass(frozen=True)
class WitnessResult:
    size: int
    advanced: bool


class Witness:
    def __init__(self, state_path: Path, public_key_pem: str, origin: str, fetch: Fetch):
        key = serialization.load_pem_public_key(public_key_pem.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the hub's audit key is not Ed25519")
        self.key, self.origin, self.fetch, self.state_path = key, origin, fetch, state_path

    def last(self) -> cp.Checkpoint | None:
        note = self.held_note()
        return None if note is None else cp.verify(note, self.key, self.origin, origin=self.origin)

    def held_note(self) -> str | None:
        """The signed note of the checkpoint this box holds (None before the first)."""
        try:
            return json.loads(self.state_path.read_text())["note"]
        except FileNotFoundError:
            return None

    def _store(self, note: str) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        with open(tmp, "w") as f:
            f.write(json.dumps({"note": note}))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.state_path)

    def _verify(self, note: str, what: str) -> cp.Checkpoint:
        try:
            return cp.verify(note, self.key, self.origin, origin=self.origin)
        except cp.CheckpointError as exc:
            raise LogForked(f"{what} is not validly signed: {exc}") from None

    def _require_consistent(self, old: cp.Checkpoint, new: cp.Checkpoint, problem: str) -> None:
        """LogForked(problem) unless the log at `new` provably extends the log at `old` (old.size ≤ new.size)."""
        if old.size == new.size:
            if old.root != new.root:
                raise LogForked(f"two different audit logs of {new.size} entries were signed")
            return
        if old.size == 0:
            return
        answer = wa.ProofOut.model_validate(self.fetch("/api/audit/proof/consistency",
                                                       {"old": old.size, "new": new.size}))
        proof = [base64.b64decode(h) for h in answer.proof]
        if not merkle.verify_consistency(old.size, new.size, old.root, new.root, proof):
            raise LogForked(problem)

    def vouch(self, note: str) -> cp.Checkpoint:
        """Accept a checkpoint someone handed us (inside a grant) only if it is consistent with the log this
        box has witnessed, in whichever direction; a newer one advances the witness. LogForked otherwise."""
        given = self._verify(note, "checkpoint")
        held = self.last()
        if held is not None:
            old, new = (held, given) if given.size >= held.size else (given, held)
            self._require_consistent(old, new, f"the checkpoint at {given.size} entries contradicts the witnessed "
                                               f"one at {held.size}")
        if held is None or given.size > held.size:
            self._store(note)
        return given

    def check(self) -> WitnessResult:
        """Fetch and check the hub's newest checkpoint; LogForked if the log shrank or its history changed."""
        note = wa.CheckpointOut.model_validate(self.fetch("/api/audit/checkpoint", {})).note
        new = self._verify(note, "the hub's checkpoint")
        old = self.last()
        if old is not None:
            if new.size < old.size:
                raise LogForked(f"the audit log shrank from {old.size} to {new.size} entries")
            self._require_consistent(old, new, f"the audit log at {new.size} entries does not extend the one at "
                                               f"{old.size}: its history was rewritten")
            if new.size == old.size:
                return WitnessResult(new.size, False)
        self._store(note)
        return WitnessResult(new.size, True)
