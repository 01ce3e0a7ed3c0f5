"""The access recorder with essential occurrences (clip downloads): the first of a spell is written at once with
its details and case number, repeats are counted into one summary, none is dropped when the recorder is full,
and a repeat never passes before its spell's first entry is on the record."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.audit.recorder import AccessRecorder, NotRecorded
from hub.db import Database
from hub.tables import AuditEntry

DOWNLOAD = dict(action="clip.download", outcome="success", essential=True, case_number="2026-000123")


@pytest.fixture
def db(tmp_path: Path):
    database = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    database.migrate()
    yield database
    database.dispose()


def entries(db: Database) -> list[tuple]:
    with db.session() as session:
        return [(e.actor, e.object, e.case_number, e.details.get("served"), e.details.get("repeats"))
                for e in session.scalars(select(AuditEntry).order_by(AuditEntry.leaf_index))]


def test_a_download_spell_is_one_entry_with_details_then_one_summary_a_window(db: Database):
    now = [0.0]
    recorder = AccessRecorder(db, window_s=60, clock=lambda: now[0])
    for n in range(5):
        recorder.record(actor="ana", object="clip:1", source="10.0.0.1", served=f"bytes {n}-/9", **DOWNLOAD)
    recorder.record(actor="ana", object="clip:2", source="10.0.0.1", served="whole", **DOWNLOAD)
    assert entries(db) == [("ana", "clip:1", "2026-000123", "bytes 0-/9", None),
                           ("ana", "clip:2", "2026-000123", "whole", None)]
    now[0] = 61
    recorder.record(actor="ana", object="clip:1", source="10.0.0.1", served="bytes 7-/9", **DOWNLOAD)
    assert entries(db)[2:] == [("ana", "clip:1", "2026-000123", None, 4),  # the last window's repeats
                               ("ana", "clip:1", "2026-000123", "bytes 7-/9", None)]  # a new window


def test_a_full_recorder_writes_a_download_on_its_own_rather_than_drop_it(db: Database):
    recorder = AccessRecorder(db, window_s=60, clock=lambda: 0.0, max_keys=2)
    for n in range(2):
        recorder.record(actor="x", action="request.not_found", object="GET /api/x", outcome="denied",
                        source=f"10.0.0.{n}")
    recorder.record(actor="x", action="request.not_found", object="GET /api/x", outcome="denied", source="10.0.1.1")
    for _ in range(2):
        recorder.record(actor="ana", object="clip:1", source="10.0.0.9", served="whole", **DOWNLOAD)
    assert recorder.dropped == 1
    assert [e for e in entries(db) if e[1] == "clip:1"] == [("ana", "clip:1", "2026-000123", "whole", None)] * 2


class StalledDatabase:
    """A database whose first write waits for `go` and then fails (a lost connection)."""

    def __init__(self):
        self.go, self.writing = threading.Event(), threading.Event()

    @contextmanager
    def session(self):
        self.writing.set()
        self.go.wait(10)
        raise ConnectionError("the database went away")
        yield


def test_a_repeat_waits_for_the_first_entry_and_fails_when_it_was_not_written():
    db = StalledDatabase()
    recorder = AccessRecorder(db, window_s=60, clock=lambda: 0.0)
    first_failed, repeat = [], []
    first = threading.Thread(target=lambda: first_failed.append(
        pytest.raises(ConnectionError, recorder.record, actor="ana", object="clip:1", source="a", **DOWNLOAD)))
    first.start()
    assert db.writing.wait(10)

    def again():
        try:
            recorder.record(actor="ana", object="clip:1", source="a", **DOWNLOAD)
            repeat.append("passed")
        except NotRecorded:
            repeat.append("not recorded")

    second = threading.Thread(target=again)
    second.start()
    second.join(0.3)
    assert second.is_alive() and repeat == []  # no byte goes before the first entry is on the record
    db.go.set()
    first.join(10)
    second.join(10)
    assert first_failed and repeat == ["not recorded"]
    with pytest.raises(ConnectionError):  # the spell was forgotten: the next one writes a first entry again
        recorder.record(actor="ana", object="clip:1", source="a", **DOWNLOAD)
