"""Signed checkpoints (C2SP tlog-checkpoint in a signed note): round trip, and forgeries refused."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from wire import checkpoint as cp

ROOT = bytes(range(32))


def test_round_trip_and_format():
    key = Ed25519PrivateKey.generate()
    note = cp.sign(cp.Checkpoint("canvass.example/audit", 42, ROOT), key, "canvass.example/audit")
    lines = note.split("\n")
    assert lines[:3] == ["canvass.example/audit", "42", base64.b64encode(ROOT).decode()]
    assert lines[3] == "" and lines[4].startswith("\u2014 canvass.example/audit ")
    got = cp.verify(note, key.public_key(), "canvass.example/audit", origin="canvass.example/audit")
    assert got == cp.Checkpoint("canvass.example/audit", 42, ROOT)


def test_forgeries_are_refused():
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    note = cp.sign(cp.Checkpoint("log", 42, ROOT), key, "log")
    with pytest.raises(cp.CheckpointError, match="does not verify"):
        cp.verify(note.replace("\n42\n", "\n43\n"), key.public_key(), "log")  # size edited
    with pytest.raises(cp.CheckpointError, match="no signature"):
        cp.verify(note, other.public_key(), "log")  # someone else's key
    forged = cp.sign(cp.Checkpoint("log", 42, ROOT), other, "log")
    with pytest.raises(cp.CheckpointError):
        cp.verify(forged, key.public_key(), "log")
    with pytest.raises(cp.CheckpointError, match="not 'elsewhere'"):
        cp.verify(note, key.public_key(), "log", origin="elsewhere")
    with pytest.raises(cp.CheckpointError, match="no signature block"):
        cp.verify("log\n42\n" + base64.b64encode(ROOT).decode() + "\n", key.public_key(), "log")
    with pytest.raises(cp.CheckpointError, match="bad tree size"):
        cp.verify(note.replace("\n42\n", "\n042\n"), key.public_key(), "log")
