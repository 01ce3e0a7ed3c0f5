"""Requests to registered cameras' owners and their single-use upload links, through the API (tus as the
browser's tus-js-client speaks it) with a real SMTP server on loopback and FFmpeg's probe: what the e-mail and
the link show, and what is refused with a clear message and nothing stored — a wrong token, an expired link, a
file that is not video, an oversized file, a 17th file, a link already used."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import select, text

from hub.registrations.intake import expire_links
from hub.registrations.requests import OwnerRequests
from hub.registrations.retention import owner_files_pass
from hub.tables import AuditEntry, OwnerRequest, OwnerUpload, RegisteredCamera, Registration, Role, utcnow
from tests.clip_support import noisy_mp4
from tests.hub_support import HubApi
from tests.registration_support import (POINT, Inbox, bearer, form, manage_token, text_of, tus_create, tus_patch,
                                        tus_send, upload_token, window)

MB = 1024 * 1024


@pytest.fixture(scope="module")
def inbox():
    box = Inbox()
    box.controller.start()
    yield box
    box.controller.stop()


@pytest.fixture(scope="module")
def api(tmp_path_factory, inbox):
    hub = HubApi(tmp_path_factory.mktemp("links"), **inbox.settings(), owner_upload_max_file_bytes=2 * MB,
                 owner_upload_max_total_bytes=64 * MB, agency_name="Example City RTCC")
    hub.add_user("ana", "analyst-password-1", Role.ANALYST)
    yield hub
    hub.close()


@pytest.fixture(scope="module")
def analyst(api):
    return api.login("ana", "analyst-password-1")


@pytest.fixture(scope="module")
def owner(api, inbox):
    """A confirmed registration near the point: its e-mail address and camera id."""
    address = "owner@example.org"
    with api.client() as c:
        assert c.post("/api/registrations", json=form(address)).status_code == 202
        token = manage_token(inbox.wait_for(address)[-1])
        assert c.post("/api/registration/confirm", headers=bearer(token)).status_code == 200
    with api.hub.db.session() as session:
        camera_id = session.scalar(select(RegisteredCamera.id).join(Registration).where(Registration.email == address))
    return address, camera_id


@pytest.fixture(scope="module")
def clip(sim_cache):
    return noisy_mp4(sim_cache)


def new_link(api, inbox, analyst, owner, case_number: str) -> tuple[str, int]:
    """Ask the owner for footage; the upload token from their e-mail and the request's id."""
    address, camera_id = owner
    before = len(inbox.to(address))
    start, end = window()
    with api.client(analyst) as c:
        r = c.post("/api/owner-requests", json={
            "registered_camera_ids": [camera_id], "window_from": start, "window_to": end,
            "purpose": "violent_crime", "reason": "Robbery; witness Jane Doe says the car went east",
            "case_number": case_number, "latitude": POINT[0], "longitude": POINT[1], "radius_m": 300})
        assert r.status_code == 201, r.text
    mail = inbox.wait_for(address, before + 1)[-1]
    return upload_token(mail), r.json()[0]["request_id"]


def stored(api, request_id: int) -> list[OwnerUpload]:
    with api.hub.db.session() as session:
        return list(session.scalars(select(OwnerUpload).where(OwnerUpload.request_id == request_id)))


def staged(api) -> list[str]:
    folder = api.hub.settings.uploads_dir / "owners"
    return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def test_the_e_mail_and_the_link_show_window_reference_and_agency_never_the_reason(api, inbox, analyst, owner):
    token, request_id = new_link(api, inbox, analyst, owner, "2026-L-0001")
    mail = inbox.to(owner[0])[-1]
    assert "Jane Doe" not in text_of(mail) and "Robbery" not in text_of(mail)
    assert "Example City RTCC" in mail["Subject"] and "/registration/" in text_of(mail)
    with api.client() as c:
        link = c.get("/api/upload-link", headers=bearer(token))
    assert link.status_code == 200 and "Jane Doe" not in link.text and "Robbery" not in link.text
    shown = link.json()
    assert shown["state"] == "open" and shown["agency"] == "Example City RTCC" and shown["max_files"] == 16
    assert shown["case_reference"].startswith("C-")
    with api.hub.db.session() as session:
        request = session.get(OwnerRequest, request_id)
        assert request.link_token_hash == hashlib.sha256(token.encode()).hexdigest()  # only the hash is kept
        assert token not in str(session.execute(text("SELECT * FROM owner_requests")).all())


def test_an_uploaded_video_is_hashed_stored_untouched_and_in_the_case_then_the_link_is_used(
        api, inbox, analyst, owner, clip):
    token, request_id = new_link(api, inbox, analyst, owner, "2026-L-0002")
    data = clip.read_bytes()
    with api.client() as c:
        done_early = c.post("/api/upload-link/done", headers=bearer(token), json={})
        assert done_early.status_code == 422 and "upload a file first" in done_early.json()["detail"]
        assert tus_send(c, token, data, "front door.mp4").status_code == 204
        assert c.post("/api/upload-link/done", headers=bearer(token),
                      json={"statement": "Camera clock is 2 minutes fast."}).status_code == 204
        again = c.get("/api/upload-link", headers=bearer(token)).json()
        assert again["state"] == "done" and len(again["files"]) == 1
        late = tus_create(c, token, 1000)
        assert late.status_code == 410 and late.json()["state"] == "done" and "already used" in late.json()["detail"]
    (row,) = stored(api, request_id)
    assert row.sha256 == hashlib.sha256(data).hexdigest() and row.bytes == len(data)
    assert row.container.startswith("mov,mp4") and row.video_codec == "h264"
    with api.hub.clip_store.open(row.storage_key) as kept:
        assert kept.read() == data
    with api.client(analyst) as c:
        case = c.get("/api/cases/2026-L-0002").json()
        (asked,) = case["owner_requests"]
        assert asked["status"] == "done" and asked["statement"] == "Camera clock is 2 minutes fast."
        assert asked["files"][0]["sha256"] == row.sha256 and asked["files"][0]["filename"] == "front door.mp4"
        download = c.get(asked["files"][0]["download"])
        assert download.status_code == 200 and download.content == data
    actions = _actions(api, f"owner_request:{request_id}")
    assert actions == ["footage.owner_upload", "footage.owner_done"]
    assert staged(api) == []

    # the case's retention ends: the file goes from the store, its record (hash, size) stays, audited
    with api.hub.db.session() as session:
        session.execute(text("UPDATE cases SET retain_until = :t WHERE case_number = '2026-L-0002'"),
                        {"t": utcnow() - dt.timedelta(seconds=1)})
    assert owner_files_pass(api.hub.db, api.hub.clip_store) == 1
    assert not api.hub.clip_store.exists(row.storage_key)
    (kept,) = stored(api, request_id)
    assert kept.deleted_at is not None and kept.sha256 == row.sha256
    assert _actions(api, f"owner_file:{row.id}") == ["owner_file.download", "owner_file.delete"]
    with api.client(analyst) as c:
        assert c.get(f"/api/owner-files/{row.id}/download").status_code == 404


def test_analysts_list_their_own_requests_to_owners_with_the_files(api, analyst):
    with api.client(analyst) as c:
        mine = c.get("/api/owner-requests").json()
    assert mine and all(r["requested_by"] == "ana" for r in mine)
    assert any(r["files"] and r["status"] == "done" for r in mine)
    api.add_user("bob", "analyst-password-2", Role.ANALYST)
    with api.client(api.login("bob", "analyst-password-2")) as c:
        assert c.get("/api/owner-requests").json() == []
        assert c.get("/api/owner-requests", params={"incident_id": 0}).status_code == 422


def test_a_wrong_token_gets_a_clear_message(api):
    with api.client() as c:
        for token in ("x" * 43, "nope"):
            r = c.get("/api/upload-link", headers=bearer(token))
            assert r.status_code == 404 and "not valid" in r.json()["detail"]
            assert tus_create(c, token, 1000).status_code == 404


def test_an_expired_link_says_so_and_is_audited_once(api, inbox, analyst, owner, clip):
    token, request_id = new_link(api, inbox, analyst, owner, "2026-L-0003")
    with api.client() as c:
        created = tus_create(c, token, clip.stat().st_size)
        assert created.status_code == 201
    later = OwnerRequests(api.hub.db, api.settings, api.hub.mailer,
                          clock=lambda: utcnow() + dt.timedelta(hours=api.settings.upload_link_ttl_h, seconds=1))
    assert expire_links(later, api.app.state.owner_intake) >= 1  # this link (and any earlier one left open)
    with api.client() as c:
        shown = c.get("/api/upload-link", headers=bearer(token)).json()
        assert shown["state"] == "expired"
        r = tus_patch(c, token, created.headers["location"], 0, clip.read_bytes()[:1000])
        assert r.status_code == 410 and "expired" in r.json()["detail"]
    assert staged(api) == []  # the unfinished upload went with the link
    assert _actions(api, f"owner_request:{request_id}") == ["footage.expired"]
    assert stored(api, request_id) == []


def test_a_file_that_is_not_video_is_refused_and_nothing_is_stored(api, inbox, analyst, owner):
    token, request_id = new_link(api, inbox, analyst, owner, "2026-L-0004")
    for name, data in (("notes.mp4", b"these are not moving pictures\n" * 4000),
                       ("photo.jpg", _jpeg())):
        with api.client() as c:
            r = tus_send(c, token, data, name)
        assert r.status_code == 422, r.text
        assert "Only video files" in r.json()["detail"] and name not in r.json()["detail"]  # not echoed
    assert stored(api, request_id) == [] and staged(api) == []
    assert not list((api.hub.settings.clips_dir / "cases").rglob(f"owner-{request_id}/*"))


def test_an_oversized_file_and_a_17th_file_are_refused_and_nothing_is_stored(api, inbox, analyst, owner):
    token, request_id = new_link(api, inbox, analyst, owner, "2026-L-0005")
    with api.client() as c:
        big = tus_create(c, token, 2 * MB + 1, "huge.mp4")
        assert big.status_code == 413 and "at most 2097152 bytes" in big.json()["detail"]
        for i in range(16):
            assert tus_create(c, token, 1000, f"part{i}.mp4").status_code == 201
        seventeenth = tus_create(c, token, 1000, "part16.mp4")
        assert seventeenth.status_code == 422 and "at most 16 files" in seventeenth.json()["detail"]
        assert c.post("/api/upload-link/decline", headers=bearer(token), json={}).status_code == 204
        assert c.get("/api/upload-link", headers=bearer(token)).json()["state"] == "declined"
    assert stored(api, request_id) == [] and staged(api) == []  # declining dropped the unfinished ones
    assert _actions(api, f"owner_request:{request_id}") == ["footage.declined"]


def test_one_link_cannot_touch_another_links_upload(api, inbox, analyst, owner, clip):
    mine, _ = new_link(api, inbox, analyst, owner, "2026-L-0006")
    theirs, _ = new_link(api, inbox, analyst, owner, "2026-L-0007")
    with api.client() as c:
        created = tus_create(c, mine, clip.stat().st_size)
        r = tus_patch(c, theirs, created.headers["location"], 0, clip.read_bytes()[:1000])
        assert r.status_code == 404
        assert c.head(created.headers["location"], headers={**bearer(theirs), "Tus-Resumable": "1.0.0"}
                      ).status_code == 404


def _actions(api, obj: str) -> list[str]:
    with api.hub.db.session() as session:
        return list(session.scalars(select(AuditEntry.action).where(AuditEntry.object == obj)
                                    .order_by(AuditEntry.leaf_index)))


def _jpeg() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()
