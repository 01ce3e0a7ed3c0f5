"""Play tickets (`hub.clips.play`): the signed, short-lived URL a page puts in a `<video>` to play one clip
without the Bearer header. The pure signing and reading, then through the real hub (uvicorn on loopback, clips
really uploaded, on the local and the S3 store): it opens its own clip only, while it lasts and its sign-in
session lives, for someone still allowed the clip; issuing it and using it are on the record; a refusal never
repeats the ticket."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from pathlib import Path

import httpx
import pytest
import uvicorn
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from hub.clips.play import (BadTicket, OtherClip, PlayTicket, TicketRedactor, make_ticket, read_ticket,
                            ticket_expiry)
from hub.tables import Role, User
from sim.process import free_port
from tests.clip_support import ClipHub, MotoS3, approved_request, deliver, enrol_box, noisy_mp4

SECRET = "a-server-secret-for-tests-only"
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc)
TICKET = PlayTicket(user_id=3, session_id=41, clip_id=7, expires=int(NOW.timestamp()) + 300)


def test_a_ticket_reads_back_as_issued_and_names_its_expiry():
    text = make_ticket(SECRET, TICKET)
    assert text.startswith(f"v1.3.41.7.{TICKET.expires}.") and len(text) == len(TICKET.payload) + 65
    assert read_ticket(SECRET, text, clip_id=7, now=NOW) == TICKET
    assert TICKET.expires_at == NOW + dt.timedelta(seconds=300)


def _refusal(text: str, *, clip_id: int = 7, now: dt.datetime = NOW, secret: str = SECRET) -> BadTicket:
    with pytest.raises(BadTicket) as refused:
        read_ticket(secret, text, clip_id=clip_id, now=now)
    assert refused.value.status == 401 and (not text or text not in str(refused.value))
    return refused.value


def test_a_tampered_or_foreign_ticket_is_not_valid_and_not_repeated():
    good = make_ticket(SECRET, TICKET)
    mac = good.rsplit(".", 1)[1]
    tampered = [f"v1.4.41.7.{TICKET.expires}.{mac}", f"v1.3.42.7.{TICKET.expires}.{mac}",
                f"v1.3.41.8.{TICKET.expires}.{mac}", f"v1.3.41.7.{TICKET.expires + 3600}.{mac}",
                good[:-1] + ("0" if good[-1] != "0" else "1"), "v2" + good[2:], good + "\n", good.upper(),
                good.replace("v1.3.", "v1.03."), "", "v1", good + good, "v1.3.41.7.1.", "x" * 150]
    for text in tampered:
        assert str(_refusal(text)) == "the play ticket is not valid", text
    assert str(_refusal(good, secret="another-hub-secret")) == "the play ticket is not valid"


@given(st.text(max_size=200))
def test_any_text_is_refused_as_not_valid_never_with_another_error(text: str):
    with pytest.raises(BadTicket):
        read_ticket(SECRET, text, clip_id=7, now=NOW)


def test_an_expired_ticket_says_so_and_a_ticket_for_another_clip_is_forbidden():
    good = make_ticket(SECRET, TICKET)
    assert "expired" in str(_refusal(good, now=TICKET.expires_at))
    assert read_ticket(SECRET, good, clip_id=7, now=TICKET.expires_at - dt.timedelta(seconds=1)) == TICKET
    with pytest.raises(OtherClip) as other:
        read_ticket(SECRET, good, clip_id=8, now=NOW)
    assert other.value.status == 403 and good not in str(other.value)


def test_a_ticket_lasts_its_time_to_live_but_never_past_its_session():
    assert ticket_expiry(NOW, 300, NOW + dt.timedelta(hours=12)) == int(NOW.timestamp()) + 300
    assert ticket_expiry(NOW, 300, NOW + dt.timedelta(seconds=60)) == int(NOW.timestamp()) + 60


# ---------------------------------------------------------------- through the hub


@pytest.fixture(scope="module")
def moto_s3():
    server = MotoS3().start()
    yield server
    server.stop()


@pytest.fixture(params=["local", "s3"])
def clips(request, tmp_path: Path, sim_cache: Path):
    """A hub with two delivered clips (A and B) of one case requested by `analyst`."""
    settings = request.getfixturevalue("moto_s3").settings() if request.param == "s3" else {}
    hub = ClipHub(tmp_path, **settings).start()
    clip = noisy_mp4(sim_cache)
    box = enrol_box(hub.hub)
    a, b = approved_request(hub.hub, box), approved_request(hub.hub, box)
    for r in (a, b):
        deliver(hub, box, r, clip, tmp_path)
    hub.a, hub.b, hub.clip_path = hub.clip_of(a.request_id), hub.clip_of(b.request_id), clip
    yield hub
    hub.stop()


def ticket_url(hub: ClipHub, token: str, clip_id: int) -> str:
    with hub.client(token) as c:
        r = c.post(f"/api/clips/{clip_id}/play")
    assert r.status_code == 200, r.text
    return r.json()["url"]


def test_a_play_url_opens_its_clip_without_the_header_whole_or_by_range(clips: ClipHub):
    analyst = clips.signed_in("analyst", "analyst")
    data = clips.clip_path.read_bytes()
    with clips.client(analyst) as c:
        issued = c.post(f"/api/clips/{clips.a.id}/play")
    assert issued.status_code == 200
    url, expires_at = issued.json()["url"], dt.datetime.fromisoformat(issued.json()["expires_at"])
    assert url.startswith(f"/api/clips/{clips.a.id}/download?ticket=v1.")
    assert dt.timedelta(seconds=290) < expires_at - dt.datetime.now(dt.timezone.utc) <= dt.timedelta(seconds=300)
    with clips.client() as c:  # no Authorization header
        whole = c.get(url)
        assert whole.status_code == 200 and whole.content == data
        part = c.get(url, headers={"Range": "bytes=1000-1999"})
        assert part.status_code == 206 and part.content == data[1000:2000]
        assert part.headers["content-range"] == f"bytes 1000-1999/{len(data)}"
    [issue] = clips.audit_entries("clip.play_ticket")
    assert (issue.actor, issue.object, issue.case_number) == ("analyst", f"clip:{clips.a.id}", "2026-000123")
    assert issue.details["expires_at"] == expires_at.isoformat()
    [download] = clips.audit_entries("clip.download")
    assert (download.actor, download.details["via"], download.details["served"]) == ("analyst", "play ticket", "whole")
    assert all(issued.json()["url"].split("=")[1] not in str(e.details) for e in clips.audit_entries("clip.download"))


def test_a_ticket_for_clip_a_does_not_open_clip_b(clips: ClipHub):
    url = ticket_url(clips, clips.signed_in("analyst", "analyst"), clips.a.id)
    ticket = url.split("ticket=")[1]
    with clips.client() as c:
        other = c.get(f"/api/clips/{clips.b.id}/download?ticket={ticket}")
        assert other.status_code == 403 and ticket not in other.text
        assert other.json()["detail"] == "the play ticket is for another clip"
        assert c.get(f"/api/clips/{clips.b.id}/download").status_code == 401
    assert clips.audit_entries("clip.download") == []


def test_a_tampered_expired_or_signed_out_ticket_gets_401_and_no_echo(clips: ClipHub):
    analyst = clips.signed_in("analyst", "analyst")
    url = ticket_url(clips, analyst, clips.a.id)
    ticket = url.split("ticket=")[1]
    user_id, session_id = (int(n) for n in ticket.split(".")[1:3])
    expired = make_ticket(clips.settings.secret_key, PlayTicket(user_id, session_id, clips.a.id,
                                                                 int(dt.datetime.now().timestamp()) - 1))
    forged = make_ticket("not-the-hubs-secret-at-all", PlayTicket(user_id, session_id, clips.a.id,
                                                                    int(dt.datetime.now().timestamp()) + 300))
    base = f"/api/clips/{clips.a.id}/download?ticket="
    with clips.client() as c:
        for bad, said in [(ticket[:-2] + "00", "not valid"), (forged, "not valid"), (expired, "expired"),
                          ("<script>alert(1)</script>", "not valid")]:
            r = c.get(base + bad)
            assert r.status_code == 401 and said in r.json()["detail"] and bad not in r.text, said
        too_long = c.get(base + "v" * 500)
        assert too_long.status_code == 422 and "v" * 500 not in too_long.text
        assert c.get(url).status_code == 200
        assert c.post("/api/auth/logout", headers={"Authorization": f"Bearer {analyst}"}).status_code == 204
        ended = c.get(url)
        assert ended.status_code == 401 and "session" in ended.json()["detail"] and ticket not in ended.text


def test_only_someone_allowed_the_clip_gets_a_ticket_and_keeps_using_it(clips: ClipHub):
    with clips.client(clips.signed_in("other-analyst", "analyst")) as c:
        assert c.post(f"/api/clips/{clips.a.id}/play").status_code == 404  # another analyst's case
    with clips.client(clips.signed_in("owner", "owner")) as c:
        assert c.post(f"/api/clips/{clips.a.id}/play").status_code == 403
    with clips.client() as c:
        assert c.post(f"/api/clips/{clips.a.id}/play").status_code == 401
    auditor = clips.signed_in("auditor", "auditor")
    url = ticket_url(clips, auditor, clips.a.id)
    ticket = url.split("ticket=")[1]
    with clips.client() as c:
        assert c.get(url, headers={"Range": "bytes=0-9"}).status_code == 206
        set_user(clips, "auditor", role=Role.DISPATCH)  # no longer a case reader
        demoted = c.get(url)
        assert demoted.status_code == 403 and ticket not in demoted.text
        set_user(clips, "auditor", role=Role.AUDITOR, disabled=True)
        disabled = c.get(url)
        assert disabled.status_code == 401 and ticket not in disabled.text
    assert [e.actor for e in clips.audit_entries("clip.play_ticket")] == ["auditor"]


def set_user(hub: ClipHub, username: str, **fields) -> None:
    with hub.hub.db.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        for name, value in fields.items():
            setattr(user, name, value)


def test_the_hubs_access_log_blanks_play_tickets(clips: ClipHub, tmp_path: Path):
    """`canvass-hub run` logs every request line (uvicorn's access log); a ticket in one is blanked."""
    access = logging.getLogger("uvicorn.access")
    redactor = TicketRedactor()
    access.addFilter(redactor)  # as hub.cli's run does, before uvicorn sets its logging up
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(clips.server.app, host="127.0.0.1", port=port, log_level="info",
                                           lifespan="off"))
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    thread = threading.Thread(target=server.run, daemon=True)
    try:
        thread.start()
        while not server.started:
            thread.join(0.05)
        access.addHandler(handler)  # after uvicorn's dictConfig, which replaces the logger's handlers
        assert redactor in access.filters
        url = ticket_url(clips, clips.signed_in("analyst", "analyst"), clips.a.id)
        ticket = url.split("ticket=")[1]
        assert httpx.get(f"http://127.0.0.1:{port}{url}&x=1", headers={"Range": "bytes=0-9"}).status_code == 206
    finally:
        server.should_exit = True
        thread.join(15)
        access.removeHandler(handler)
        access.removeFilter(redactor)
    [line] = [line for line in lines if "/download" in line]
    assert ticket not in line and f"/api/clips/{clips.a.id}/download?ticket=[redacted]&x=1 HTTP/1.1\" 206" in line
