"""Reads on the box: the store, the plate reader's handling of passes (hot-list hits, events), `canvass-edge reads`."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from edge.alpr.events import PlateEvent, hub_message, may_leave_box
from edge.alpr.frames import AnalysisFrame
from edge.alpr.matching import HotListMatch
from edge.alpr.reads import ReadStore, ReadStoreError, StoredRead, new_read_id
from edge.alpr.service import PlateReader
from edge.cli import main as edge_main
from edge.config import AlprConfig
from edge.recording.storage import Layout
from sim.scene import StreetScene
from tests.edge_support import config_text
from wire.messages import MAX_THUMBNAIL_BYTES, HotListEntry

T0 = int(dt.datetime(2026, 11, 19, 12, 0, tzinfo=dt.UTC).timestamp() * 1_000_000)


def stored(camera: str, plate: str, first_us: int, **hit) -> StoredRead:
    return StoredRead(new_read_id(), camera, plate, 0.93, first_us, first_us + 3_000_000, 12, None, **hit)


def test_store_keeps_reads_with_thumbnails_and_queries_by_camera_and_time(tmp_path: Path) -> None:
    store = ReadStore(tmp_path / "reads.sqlite3", tmp_path / "thumbs")
    crop = np.full((64, 128, 3), 200, np.uint8)
    a = store.add(stored("cam1", "ABC1234", T0), crop)
    store.add(stored("cam2", "XYZ9876", T0 + 10_000_000), crop)
    store.add(stored("cam1", "DEF5678", T0 + 20_000_000), None)
    assert a.thumbnail is not None and a.thumbnail.read_bytes()[:2] == b"\xff\xd8"
    assert [r.plate for r in store.query()] == ["ABC1234", "XYZ9876", "DEF5678"]
    assert [r.plate for r in store.query(camera="cam1")] == ["ABC1234", "DEF5678"]
    assert [r.plate for r in store.query(from_us=T0 + 5_000_000, to_us=T0 + 21_000_000)] == ["XYZ9876", "DEF5678"]
    store.close()


def test_prune_removes_old_reads_and_their_thumbnails_only(tmp_path: Path) -> None:
    store = ReadStore(tmp_path / "reads.sqlite3", tmp_path / "thumbs")
    crop = np.zeros((10, 20, 3), np.uint8)
    old = store.add(stored("cam1", "OLD1234", T0 - 40 * 86_400_000_000), crop)
    new = store.add(stored("cam1", "NEW1234", T0), crop)
    other = store.add(stored("cam2", "OLD9876", T0 - 40 * 86_400_000_000), crop)
    assert store.prune(camera="cam1", before_us=T0 - 30 * 86_400_000_000) == 1
    assert not old.thumbnail.exists() and new.thumbnail.exists() and other.thumbnail.exists()
    assert [r.plate for r in store.query()] == ["OLD9876", "NEW1234"]
    store.close()


def test_a_failed_write_loses_nothing_stored(tmp_path: Path) -> None:
    store = ReadStore(tmp_path / "reads.sqlite3", tmp_path / "thumbs")
    first = stored("cam1", "ABC1234", T0)
    store.add(first, None)
    with pytest.raises(ReadStoreError, match="ABC1234"):
        store.add(first, None)  # the same id again: refused, clearly
    assert [r.plate for r in store.query()] == ["ABC1234"]
    store.close()


def test_sharing_rule() -> None:
    read = stored("cam1", "ABC1234", T0)
    entry = HotListEntry(plate="ABC1234", list_name="stolen", reason="r")
    plain, hit = PlateEvent(read, None), PlateEvent(read, HotListMatch(entry, 0))
    assert hit.priority == "high" and plain.priority == "normal"
    assert [may_leave_box(e, "none") for e in (plain, hit)] == [False, False]
    assert [may_leave_box(e, "hits_only") for e in (plain, hit)] == [False, True]
    assert [may_leave_box(e, "all") for e in (plain, hit)] == [True, True]


def test_hub_message_is_the_read_with_its_hit_only_where_sharing_allows() -> None:
    read = StoredRead("r1", "cam1", "ABC1234", 1.02, T0, T0 + 3_000_000, 12, None)
    entry = HotListEntry(plate="ABC1234", list_name="stolen", reason="reported stolen")
    plain, hit = PlateEvent(read, None), PlateEvent(read, HotListMatch(entry, 0))
    assert hub_message(plain, "hits_only") is None and hub_message(hit, "none") is None
    message = hub_message(hit, "hits_only")
    assert message is not None
    assert (message.camera, message.plate, message.confidence) == ("cam1", "ABC1234", 1.0)  # capped at 1
    assert (message.first_seen, message.last_seen) == (dt.datetime(2026, 11, 19, 12, 0, tzinfo=dt.UTC),
                                                       dt.datetime(2026, 11, 19, 12, 0, 3, tzinfo=dt.UTC))
    assert (message.hit.list_name, message.hit.entry_plate, message.hit.reason) == ("stolen", "ABC1234",
                                                                                    "reported stolen")
    assert hub_message(plain, "all").hit is None


def test_the_thumbnail_goes_to_the_hub_with_its_read_only(tmp_path: Path) -> None:
    store = ReadStore(tmp_path / "reads.sqlite3", tmp_path / "thumbs")
    read = store.add(stored("cam1", "ABC1234", T0), np.full((64, 128, 3), 200, np.uint8))
    store.close()
    entry = HotListEntry(plate="ABC1234", list_name="stolen", reason="reported stolen")
    plain, hit = PlateEvent(read, None), PlateEvent(read, HotListMatch(entry, 0))
    assert hub_message(hit, "hits_only").thumbnail() == read.thumbnail.read_bytes()
    assert hub_message(plain, "hits_only") is None  # the read stays on the box, and its thumbnail with it
    assert hub_message(plain, "all").thumbnail() == read.thumbnail.read_bytes()
    read.thumbnail.write_bytes(b"\xff\xd8\xff" + bytes(MAX_THUMBNAIL_BYTES))  # too large for the wire
    message = hub_message(hit, "hits_only")
    assert message is not None and message.thumbnail_jpeg is None  # the read goes without it
    read.thumbnail.unlink()  # pruned meanwhile
    assert hub_message(hit, "all").thumbnail_jpeg is None


def test_a_hot_list_hit_is_a_priority_event_and_stored_with_the_hit(tmp_path: Path) -> None:
    """Real frames (the simulator's renderer) through the real offline backend, tracker, matcher and store, to
    the reader's `on_event` (the agent's callback) and on to the message the hub gets."""
    scene = StreetScene(width=1280, height=720, fps=15, n_frames=15 * 14, seed=3)
    plate_pass = scene.truth()[0]
    store = ReadStore(tmp_path / "reads.sqlite3", tmp_path / "thumbs")
    received: list[PlateEvent] = []
    reader = PlateReader(AlprConfig(backend="offline"), store, clock=lambda: 0.0, on_event=received.append)
    reader.start({})  # no camera fan-outs: the frames are handed over directly
    reader.set_hotlist([HotListEntry(plate=plate_pass.plate.replace("0", "O"), list_name="stolen",
                                     reason="reported stolen", expires_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))])
    try:
        for frame in range(plate_pass.first_frame, plate_pass.last_frame + 1, 3):  # 5 analysed frames/s
            reader.analyse(AnalysisFrame("cam1", T0 + frame * 1_000_000 // 15, scene.render(frame)))
    finally:
        reader.stop()  # flushes the open track
    event = received[0] if received else None
    assert event is not None and event.priority == "high"
    assert event.read.plate == plate_pass.plate
    assert event.hit.entry.list_name == "stolen"
    message = hub_message(event, "hits_only")  # the owner shares hot-list hits only
    assert message is not None and (message.plate, message.hit.list_name) == (plate_pass.plate, "stolen")
    (row,) = store.query()
    assert (row.plate, row.hit_list, row.hit_reason) == (plate_pass.plate, "stolen", "reported stolen")
    assert row.thumbnail is not None and row.thumbnail.exists()
    store.close()


def test_reads_cli_lists_one_item_per_pass(tmp_path: Path, capsys) -> None:
    config = tmp_path / "edge.toml"
    config.write_text(config_text(tmp_path / "data", ["rtsp://127.0.0.1:9/a", "rtsp://127.0.0.1:9/b"]))
    assert edge_main(["reads", "--config", str(config), "--json"]) == 0  # nothing read yet: empty list
    assert json.loads(capsys.readouterr().out) == []
    layout = Layout(tmp_path / "data")
    store = ReadStore(layout.reads_path, layout.thumbnails)
    store.add(stored("cam1", "ABC1234", T0), np.zeros((8, 8, 3), np.uint8))
    store.add(stored("cam2", "XYZ9876", T0 + 60_000_000), None)
    store.close()
    assert edge_main(["reads", "--config", str(config), "--camera", "cam2", "--json"]) == 0
    (item,) = json.loads(capsys.readouterr().out)
    assert item["text"] == "XYZ9876" and item["camera"] == "cam2"
    assert set(item) >= {"confidence", "first_seen", "last_seen", "thumbnail"}
    assert edge_main(["reads", "--config", str(config), "--from", "2026-11-19T00:00:00Z", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
    assert edge_main(["reads", "--config", str(config), "--camera", "cam9"]) == 2  # no such camera: clear error
    assert edge_main(["reads", "--config", str(config), "--from", "yesterday"]) == 2
    capsys.readouterr()


def test_a_damaged_reads_database_is_a_clear_error(tmp_path: Path, capsys) -> None:
    config = tmp_path / "edge.toml"
    config.write_text(config_text(tmp_path / "data", ["rtsp://127.0.0.1:9/a"]))
    layout = Layout(tmp_path / "data")
    layout.reads_path.parent.mkdir(parents=True)
    layout.reads_path.write_bytes(b"this is not sqlite" * 100)
    assert edge_main(["reads", "--config", str(config), "--json"]) == 2
    assert "reads" in capsys.readouterr().err
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(layout.reads_path).execute("SELECT 1 FROM reads")


def test_prune_removes_orphan_thumbnails_but_never_one_a_row_names(tmp_path: Path) -> None:
    store = ReadStore(tmp_path / "reads.sqlite3", tmp_path / "thumbs")
    midnight = int(dt.datetime(2026, 10, 1, tzinfo=dt.UTC).timestamp() * 1_000_000)
    crop = np.zeros((10, 20, 3), np.uint8)
    # A pass from 23:59:58 to 00:00:01: its thumbnail is filed under the day before.
    spanning = store.add(StoredRead(new_read_id(), "cam1", "ABC1234", 0.9, midnight - 2_000_000, midnight + 1_000_000,
                                    5, None), crop)
    orphan = spanning.thumbnail.with_name("left-by-a-crash.jpg")
    orphan.write_bytes(b"\xff\xd8")
    assert store.prune(camera="cam1", before_us=midnight) == 0  # the pass ended after the cutoff: kept
    assert spanning.thumbnail.exists() and not orphan.exists()
    store.close()
