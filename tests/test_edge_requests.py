"""The box's footage-request book: a request's notice holds its window from retention while it is pending or
approved (only the approved part once trimmed), and a denial, expiry or delivery lets the hold go; what the box
recorded of the window is answered at once; `canvass-edge requests` lists them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from edge.cli import main as edge_main
from edge.clips.requests import RequestBook
from tests.test_edge_storage import DAY_US, MB, NOW_US, S, _retention, _setup
from wire import messages as m

NOW = dt.datetime.fromtimestamp(NOW_US / S, dt.timezone.utc)


def _notice(status: str, start_us: int, end_us: int, request_id: int = 7) -> m.FootageNotice:
    return m.FootageNotice(
        request_id=request_id, camera="a", window_from=dt.datetime.fromtimestamp(start_us / S, dt.timezone.utc),
        window_to=dt.datetime.fromtimestamp(end_us / S, dt.timezone.utc), status=status, analyst="ana",
        purpose="violent_crime", case_number="2026-000777", reason="armed robbery at the corner store",
        expires_at=NOW + dt.timedelta(days=7))


def test_a_pending_request_holds_its_window_through_a_retention_pass_that_would_evict_it(tmp_path: Path):
    layout, index, ids = _setup(tmp_path, {"a": [MB] * 6})
    book = RequestBook(layout.requests_path)
    first = index.segment(ids["a"][1])
    taken = book.take(_notice("pending", first.start_us + 10 * S, first.end_us - 10 * S), index, NOW)
    assert taken.held and taken.recorded_s == 40
    result = _retention(layout, index, cameras=("a",), max_bytes=2 * MB).run_pass()
    left = {s.id for s in index.segments("a")}
    assert ids["a"][1] in left and ids["a"][0] not in left  # the held one stays, older unheld ones go
    assert result.evicted == 4
    # Denied: the hold goes, and the next pass may evict the segment.
    taken = book.take(_notice("denied", first.start_us + 10 * S, first.end_us - 10 * S), index, NOW)
    assert not taken.held and index.holds() == []
    _retention(layout, index, cameras=("a",), max_bytes=1 * MB).run_pass()
    assert ids["a"][1] not in {s.id for s in index.segments("a")}
    book.close()


def test_an_approved_trim_holds_only_the_approved_part_and_expiry_releases_it(tmp_path: Path):
    layout, index, ids = _setup(tmp_path, {"a": [MB] * 4})
    book = RequestBook(layout.requests_path)
    start = NOW_US - DAY_US
    book.take(_notice("pending", start, start + 240 * S), index, NOW)
    book.take(_notice("approved", start + 60 * S, start + 120 * S), index, NOW)
    (hold,) = index.holds()
    assert (hold.start_us, hold.end_us) == (start + 60 * S, start + 120 * S)
    assert hold.expires_us > NOW_US  # bounded even if the hub never says more
    book.take(_notice("expired", start + 60 * S, start + 120 * S), index, NOW)
    assert index.holds() == []
    assert [r.status for r in book.requests()] == ["expired"]
    book.close()


def test_a_window_the_box_did_not_record_says_so(tmp_path: Path):
    layout, index, _ = _setup(tmp_path, {"a": [MB] * 2})
    book = RequestBook(layout.requests_path)
    taken = book.take(_notice("pending", NOW_US - 3600 * S, NOW_US - 3000 * S), index, NOW)
    assert taken.recorded_s == 0 and taken.held
    book.close()


def test_the_owner_lists_requests_on_the_box(tmp_path: Path, capsys):
    layout, index, _ = _setup(tmp_path, {"a": [MB] * 2})
    book = RequestBook(layout.requests_path)
    book.take(_notice("pending", NOW_US - DAY_US, NOW_US - DAY_US + 60 * S), index, NOW)
    book.close()
    config = tmp_path / "edge.toml"
    config.write_text(f'[appliance]\nid = "box"\ndata_dir = "{tmp_path}"\n\n'
                      '[[cameras]]\nname = "a"\nurl = "rtsp://127.0.0.1:8554/a"\n')
    assert edge_main(["requests", "--config", str(config), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["request_id"] == 7 and row["status"] == "pending" and row["held"] is True
    assert edge_main(["requests", "--config", str(config)]) == 0
    text = capsys.readouterr().out
    assert "#7" in text and "PENDING" in text and "armed robbery" in text and "held" in text
