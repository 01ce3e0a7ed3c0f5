"""The case library through the real hub API (uvicorn on loopback) after a real upload: who sees a case, what
it says of requests, decisions and clips, audited downloads, manifests, retention (per case, extended by admins,
enforced by the maintenance pass and `canvass-hub retention`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from edge.clips.upload import ClipRejected, upload_clip
from hub.clips.staging import Staging
from hub.tables import Case, utcnow
from tests.clip_support import REPO, ClipHub, approved_request, enrol_box, noisy_mp4, signed_manifest, write_manifest


@pytest.fixture
def library(tmp_path: Path, sim_cache: Path):
    """A hub with one case holding a delivered clip (requested by `analyst`) and a rejected one."""
    hub = ClipHub(tmp_path).start()
    clip = noisy_mp4(sim_cache)
    box = enrol_box(hub.hub)
    good, bad = approved_request(hub.hub, box), approved_request(hub.hub, box)
    for request, path in ((good, clip), (bad, _flipped(clip, tmp_path / "bad.mp4"))):
        manifest = write_manifest(tmp_path / f"manifest-{request.request_id}.json", signed_manifest(box, request, clip))
        try:
            upload_clip(clip_path=path, manifest_path=manifest, url=hub.uploads, token=request.token,
                        request_id=request.request_id)
        except ClipRejected:
            assert request is bad
    hub.good, hub.bad, hub.box, hub.clip_path = good, bad, box, clip
    yield hub
    hub.stop()


def _flipped(clip: Path, out: Path) -> Path:
    data = bytearray(clip.read_bytes())
    data[1000] ^= 0xFF
    out.write_bytes(data)
    return out


def test_a_case_shows_its_requests_decisions_and_clips_to_those_who_may_see_it(library: ClipHub):
    analyst = library.signed_in("analyst", "analyst")
    with library.client(analyst) as c:
        [summary] = c.get("/api/cases").json()
        assert (summary["case_number"], summary["request_count"], summary["clip_count"]) == ("2026-000123", 2, 1)
        case = c.get("/api/cases/2026-000123").json()
    good, bad = case["requests"]
    assert (good["requested_by"], good["decided_by"], good["decided_how"], good["status"]) == (
        "analyst", "owner-1", "owner", "delivered")
    assert good["device_id"] == library.box.device_id and good["camera"] == "cam1"
    clip = good["clip"]
    assert clip["verified"] and clip["sha256"] == hashlib.sha256(library.clip_path.read_bytes()).hexdigest()
    assert clip["bytes"] == library.clip_path.stat().st_size and clip["download"] == f"/api/clips/{clip['id']}/download"
    assert bad["status"] == "approved" and bad["clip_stage"] == "failed"
    assert not bad["clip"]["verified"] and bad["clip"]["download"] is None and "SHA-256" in bad["clip"]["verification"]
    stranger = library.signed_in("other-analyst", "analyst")
    with library.client(stranger) as c:
        assert c.get("/api/cases").json() == []
        assert c.get("/api/cases/2026-000123").status_code == 404
        assert c.get(f"/api/clips/{clip['id']}/download").status_code == 404
    with library.client(library.signed_in("auditor", "auditor")) as c:
        assert c.get("/api/cases/2026-000123").json()["request_count"] == 2
    with library.client(library.signed_in("owner", "owner")) as c:
        assert c.get("/api/cases").status_code == 403


def test_a_download_streams_the_verified_clip_and_is_on_the_record(library: ClipHub):
    analyst = library.signed_in("analyst", "analyst")
    good, bad = library.clip_of(library.good.request_id), library.clip_of(library.bad.request_id)
    with library.client(analyst) as c:
        r = c.get(f"/api/clips/{good.id}/download")
        assert r.status_code == 200 and r.content == library.clip_path.read_bytes()
        assert r.headers["content-type"] == "video/mp4"
        assert r.headers["content-disposition"].startswith("attachment; filename=")
        manifest = c.get(f"/api/clips/{good.id}/manifest")
        assert manifest.text == good.manifest
        refused = c.get(f"/api/clips/{bad.id}/download")
        assert refused.status_code == 409 and "not evidence" in refused.json()["detail"]
    [entry] = library.audit_entries("clip.download")
    assert (entry.actor, entry.object, entry.case_number, entry.outcome) == (
        "analyst", f"clip:{good.id}", "2026-000123", "success")
    assert entry.details["sha256"] == good.sha256


def test_a_download_serves_one_byte_range_with_206_and_ignores_what_it_cannot_serve(library: ClipHub):
    data = library.clip_path.read_bytes()
    size = len(data)
    good = library.clip_of(library.good.request_id)
    url = f"/api/clips/{good.id}/download"
    with library.client(library.signed_in("analyst", "analyst")) as c:
        whole = c.get(url)
        assert whole.status_code == 200 and whole.content == data
        assert (whole.headers["accept-ranges"], whole.headers["etag"]) == ("bytes", f'"{good.sha256}"')
        parts = {"bytes=100-199": (100, 199), f"bytes={size - 10}-": (size - 10, size - 1),
                 "bytes=-300": (size - 300, size - 1), f"bytes=5-{size * 2}": (5, size - 1),
                 "bytes=0-0": (0, 0)}
        for header, (first, last) in parts.items():
            r = c.get(url, headers={"Range": header})
            assert r.status_code == 206, header
            assert r.headers["content-range"] == f"bytes {first}-{last}/{size}", header
            assert int(r.headers["content-length"]) == last - first + 1 and r.content == data[first:last + 1]
            assert r.headers["content-type"] == "video/mp4"
        for header in (f"bytes={size}-", f"bytes={size + 5}-{size + 10}", "bytes=-0"):
            r = c.get(url, headers={"Range": header})
            assert (r.status_code, r.headers["content-range"], r.content) == (416, f"bytes */{size}", b""), header
        ignored = ["bytes=0-9,20-29", "bytes=9-0", "bytes=abc", "pages=1-2", "bytes=" + "9" * 3000 + "-",
                   "bytes=\u0661-\u0662".encode()]  # Arabic-Indic digits, sent as UTF-8
        for header in ignored:
            r = c.get(url, headers={"Range": header})
            assert (r.status_code, r.content == data) == (200, True), header
        stale = c.get(url, headers={"Range": "bytes=0-9", "If-Range": '"' + "0" * 64 + '"'})
        assert stale.status_code == 200 and stale.content == data
        fresh = c.get(url, headers={"Range": "bytes=0-9", "If-Range": f'"{good.sha256}"'})
        assert fresh.status_code == 206 and fresh.content == data[:10]


def test_a_video_s_many_range_requests_are_one_download_entry_a_minute_with_a_count(library: ClipHub):
    """The first request of (user, clip, address) is on the record before its bytes go, with what it asked for;
    the next ones in the minute are counted and summed up in one entry when the minute is over."""
    good = library.clip_of(library.good.request_id)
    url = f"/api/clips/{good.id}/download"
    with library.client(library.signed_in("analyst", "analyst")) as c:
        assert c.get(url, headers={"Range": "bytes=0-"}).status_code == 206
        [first] = library.audit_entries("clip.download")
        for start in (1000, 50_000, 2000, 0):
            assert c.get(url, headers={"Range": f"bytes={start}-"}).status_code == 206
        assert c.get(url).status_code == 200
        assert c.get(url, headers={"Range": f"bytes={good.bytes}-"}).status_code == 416  # nothing sent: no entry
    with library.client(library.signed_in("auditor", "auditor")) as c:
        assert c.get(url, headers={"Range": "bytes=0-99"}).status_code == 206
    assert (first.actor, first.object, first.case_number) == ("analyst", f"clip:{good.id}", "2026-000123")
    assert first.details["served"] == f"bytes 0-{good.bytes - 1}/{good.bytes}"
    assert (first.details["via"], first.details["sha256"], first.details["repeats_counted_for_s"]) == (
        "session", good.sha256, 60)
    assert [(e.actor, e.details.get("repeats")) for e in library.audit_entries("clip.download")] == [
        ("analyst", None), ("auditor", None)]
    library.recorder.flush()
    summary = library.audit_entries("clip.download")[-1]
    assert (summary.actor, summary.object, summary.case_number, summary.details["repeats"]) == (
        "analyst", f"clip:{good.id}", "2026-000123", 5)


def test_retention_is_extended_only_by_admins_and_only_forward(library: ClipHub):
    admin = library.signed_in("chief", "admin")
    later = (utcnow() + dt.timedelta(days=800)).isoformat()
    with library.client(library.signed_in("analyst", "analyst")) as c:
        assert c.patch("/api/cases/2026-000123", json={"retain_until": later}).status_code == 403
    with library.client(admin) as c:
        r = c.patch("/api/cases/2026-000123", json={"retain_until": later})
        assert r.status_code == 200 and r.json()["retain_until"].startswith(later[:10])
        sooner = (utcnow() + dt.timedelta(days=10)).isoformat()
        shorter = c.patch("/api/cases/2026-000123", json={"retain_until": sooner})
        assert shorter.status_code == 422 and "only be extended" in shorter.json()["detail"]
    [entry] = library.audit_entries("case.retention")
    assert entry.actor == "chief" and entry.case_number == "2026-000123"


def test_retention_deletes_an_expired_cases_clips_and_audits_each(library: ClipHub):
    good, bad = library.clip_of(library.good.request_id), library.clip_of(library.bad.request_id)
    store = library.hub.clip_store
    assert store.exists(good.storage_key) and store.exists(bad.storage_key)
    assert library.hub.maintenance.passes >= 1  # the pass ran at start, before the case expired: nothing deleted
    with library.hub.db.session() as session:
        session.query(Case).update({Case.retain_until: utcnow() - dt.timedelta(seconds=1)})
    done = subprocess.run([sys.executable, "-m", "hub.cli", "--data", str(library.settings.data_dir), "retention"],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "deleted 2 clip(s)" in done.stdout
    for clip in (good, bad):
        assert library.clip_of(clip.request_id).deleted_at is not None
        assert not store.exists(clip.storage_key)
    entries = library.audit_entries("clip.delete")
    assert sorted(e.object for e in entries) == sorted([f"clip:{good.id}", f"clip:{bad.id}"])
    assert all(e.actor == "hub:retention" and e.case_number == "2026-000123" for e in entries)
    with library.client(library.signed_in("analyst", "analyst")) as c:
        gone = c.get(f"/api/clips/{good.id}/download")
        assert gone.status_code == 410 and "retention" in gone.json()["detail"]
        assert c.get("/api/cases/2026-000123").json()["requests"][0]["clip"]["deleted_at"] is not None


def test_abandoned_uploads_are_swept_and_live_ones_kept(tmp_path: Path):
    staging = Staging(tmp_path)
    for upload in ("a" * 32, "b" * 32):
        staging.stage_manifest(upload, b"{}")
        staging.data_path(upload).write_bytes(b"partial")
    import os
    import time

    old = time.time() - 7200
    for path in tmp_path.glob("a" * 32 + "*"):
        os.utime(path, (old, old))
    assert staging.sweep(older_than_s=3600) == ["a" * 32]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b" * 32, "b" * 32 + ".manifest.json"]
