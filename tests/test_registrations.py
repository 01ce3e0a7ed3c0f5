"""Registered cameras without an appliance, through the hub's API with a real SMTP server on loopback: public
registration with e-mail confirmation, the canvass, bad input, rate limits, yearly re-confirmation, deletion
(personal data gone, audit log still verifies), and requests whose owners answer through upload links."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from hub.registrations.service import Registrations
from hub.tables import OwnerRequest, RegisteredCamera, Registration, Role, utcnow
from tests.hub_support import HubApi
from tests.registration_support import (POINT, Inbox, bearer, form, manage_token, text_of, window)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def inbox():
    box = Inbox()
    box.controller.start()
    yield box
    box.controller.stop()


@pytest.fixture(scope="module")
def api(tmp_path_factory, inbox):
    hub = HubApi(tmp_path_factory.mktemp("registrations"), **inbox.settings(),
                 registrations_per_address_per_hour=1000)
    hub.add_user("ana", "analyst-password-1", Role.ANALYST)
    yield hub
    hub.close()


@pytest.fixture(scope="module")
def analyst(api):
    return api.login("ana", "analyst-password-1")


def register(api, inbox, email_address: str, confirm: bool = True, **changes) -> str:
    """Register through the API; the manage token from the confirmation e-mail (confirmed unless told)."""
    with api.client() as c:
        r = c.post("/api/registrations", json=form(email_address, **changes))
        assert r.status_code == 202, r.text
        token = manage_token(inbox.wait_for(email_address)[-1])
        if confirm:
            assert c.post("/api/registration/confirm", headers=bearer(token)).json()["status"] == "confirmed"
    return token


def canvass(api, token: str, **params) -> dict:
    start, end = window()
    with api.client(token) as c:
        r = c.get("/api/canvass", params={"lat": POINT[0], "lon": POINT[1], "from": start, "to": end,
                                          "radius_m": 300, **params})
        assert r.status_code == 200, r.text
        return r.json()


def registered_ids(result: dict) -> set[int]:
    return {camera["registered_camera_id"] for camera in result["registered"]}


def camera_ids_of(api, address: str) -> set[int]:
    with api.hub.db.session() as session:
        return set(session.scalars(select(RegisteredCamera.id).join(Registration)
                                   .where(Registration.email == address)))


def test_confirmed_registration_is_in_the_canvass_near_its_pin_and_unconfirmed_and_stale_ones_are_not(
        api, inbox, analyst):
    register(api, inbox, "near@example.org", camera={"latitude": POINT[0] + 0.0005})  # ~55 m north
    register(api, inbox, "unconfirmed@example.org", confirm=False)
    register(api, inbox, "far@example.org", camera={"latitude": POINT[0] + 0.05})  # ~5.5 km
    register(api, inbox, "lapsing@example.org")
    near, lapsing = camera_ids_of(api, "near@example.org"), camera_ids_of(api, "lapsing@example.org")
    mail = inbox.to("unconfirmed@example.org")[0]
    assert "Confirm" in text_of(mail) and "/registration/" in text_of(mail)

    result = canvass(api, analyst)
    assert registered_ids(result) == near | lapsing
    camera = next(c for c in result["registered"] if c["registered_camera_id"] in near)
    assert camera["needs_owner_upload"] is True and camera["address"].startswith("12 Example Street")
    assert 50 < camera["distance_m"] < 60 and camera["facing"] in ("yes", "no")
    assert not {c["camera_id"] for c in result["recording"] + result["not_recording"]} & near  # apart

    # a year without word: reminded (still offered for 30 days), then stale and no longer offered
    with api.hub.db.session() as session:
        session.execute(text("UPDATE registrations SET affirmed_at = :t WHERE email = 'lapsing@example.org'"),
                        {"t": utcnow() - dt.timedelta(days=400)})
    upkeep = Registrations(api.hub.db, api.settings, api.hub.mailer)
    assert upkeep.remind_due() == 1
    reminder = inbox.wait_for("lapsing@example.org", 2)[-1]
    assert "re-confirm" in text_of(reminder) and "/registration/" in text_of(reminder)
    assert registered_ids(canvass(api, analyst)) == near | lapsing
    later = Registrations(api.hub.db, api.settings, api.hub.mailer, clock=lambda: utcnow() + dt.timedelta(days=31))
    assert later.mark_stale() == 1
    assert registered_ids(canvass(api, analyst)) == near
    with api.client() as c:
        lapsed = c.get("/api/registration", headers=bearer(manage_token(reminder))).json()
        assert lapsed["status"] == "stale" and lapsed["offered"] is False
        assert c.post("/api/registration/confirm", headers=bearer(manage_token(reminder))).json()["offered"]
    assert registered_ids(canvass(api, analyst)) == near | lapsing


BAD_FORMS = [
    ({"email": "not-an-address"}, "email"),
    ({"email": "rosa@"}, "email"),
    ({"camera": {"latitude": 90.5}}, "latitude"),
    ({"camera": {"longitude": -180.01}}, "longitude"),
    ({"contact_name": "R" * 101}, "contact_name"),
    ({"address": "x" * 301}, "address"),
    ({"camera": {"description": "d" * 501}}, "description"),
    ({"camera": {"retention_days": 0}}, "retention_days"),
    ({"phone": "call me <script>"}, "phone"),
    ({"camera": {"network_address": "rtsp://10.0.0.2/stream"}}, "network_address"),
]


@pytest.mark.parametrize("changes, field", BAD_FORMS)
def test_a_bad_registration_gets_a_clear_message_and_nothing_is_stored(api, inbox, changes, field):
    with api.hub.db.session() as session:
        before = session.scalar(select(func.count()).select_from(Registration))
    mails = len(inbox.messages)
    with api.client() as c:
        r = c.post("/api/registrations", json=form("bad@example.org", **changes))
    assert r.status_code == 422
    problems = r.json()["detail"]
    assert any(problem["loc"][-1] == field for problem in problems), problems
    assert "<script>" not in r.text and "rtsp://" not in r.text and "R" * 101 not in r.text  # never echoed
    with api.hub.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Registration)) == before
    api.hub.mailer.close()
    assert len(inbox.messages) == mails


def test_too_many_cameras_and_unknown_links_are_refused(api):
    with api.client() as c:
        r = c.post("/api/registrations", json={**form("many@example.org"),
                                               "cameras": [form("x@example.org")["cameras"][0]] * 9})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "cameras"
        for token in ("0" * 64, "short", "a" * 200):
            r = c.get("/api/registration", headers=bearer(token))
            assert r.status_code == 404 and "not valid" in r.json()["detail"]
        assert c.get("/api/registration").status_code == 404


def test_registrations_for_one_e_mail_address_are_rate_limited(api, inbox):
    with api.client() as c:
        answers = [c.post("/api/registrations", json=form("often@example.org")).status_code for _ in range(4)]
        assert answers == [202, 202, 202, 429]
        refused = c.post("/api/registrations", json=form("often@example.org"))
        assert refused.status_code == 429 and "e-mail address" in refused.json()["detail"]
        assert int(refused.headers["retry-after"]) > 0
        assert c.post("/api/registrations", json=form("other@example.org")).status_code == 202


def test_registrations_from_one_address_are_rate_limited(tmp_path, inbox):
    hub = HubApi(tmp_path, **inbox.settings(), registrations_per_address_per_hour=2)
    try:
        with hub.client() as c:
            answers = [c.post("/api/registrations", json=form(f"n{i}@example.org")).status_code for i in range(3)]
            assert answers == [202, 202, 429]
    finally:
        hub.close()


def test_a_new_e_mail_address_must_confirm_again(api, inbox):
    token = register(api, inbox, "moving@example.org")
    with api.client() as c:
        changed = c.put("/api/registration", headers=bearer(token), json=form("moved@example.org"))
        assert changed.status_code == 200 and changed.json()["status"] == "unconfirmed"
        assert c.get("/api/registration", headers=bearer(token)).status_code == 404  # the old link is gone
        fresh = manage_token(inbox.wait_for("moved@example.org")[-1])
        assert c.post("/api/registration/confirm", headers=bearer(fresh)).json()["offered"] is True


def ask(api, analyst: str, camera_ids: set[int], case_number: str = "2026-R-0001"):
    start, end = window()
    with api.client(analyst) as c:
        return c.post("/api/owner-requests", json={
            "registered_camera_ids": sorted(camera_ids), "window_from": start, "window_to": end,
            "purpose": "property_crime", "reason": "Burglary at 14 Example Street; suspect seen leaving east",
            "case_number": case_number, "latitude": POINT[0], "longitude": POINT[1], "radius_m": 300})


def test_owner_deletes_their_registration_personal_data_goes_and_the_audit_log_still_verifies(
        api, inbox, analyst, tmp_path):
    token = register(api, inbox, "leaving@example.org", contact_name="Quentin Leaving",
                     address="99 Goodbye Lane")
    cameras = camera_ids_of(api, "leaving@example.org")
    assert ask(api, analyst, cameras, "2026-R-0099").status_code == 201
    inbox.wait_for("leaving@example.org", 2)
    with api.client() as c:
        assert c.delete("/api/registration", headers=bearer(token)).status_code == 204
        assert c.get("/api/registration", headers=bearer(token)).status_code == 404
    dump = _all_text(api)
    for personal in ("leaving@example.org", "Quentin Leaving", "99 Goodbye Lane"):
        assert personal not in dump, personal
    with api.hub.db.session() as session:
        assert not session.scalar(select(func.count()).select_from(RegisteredCamera)
                                  .where(RegisteredCamera.id.in_(cameras)))
        request = session.scalar(select(OwnerRequest).where(OwnerRequest.case_number == "2026-R-0099"))
        assert request.registered_camera_id is None  # the request stays with its case, linked to nobody
    entries = _audit_of(api, "registration.deleted")
    assert len(entries) == 1 and entries[0]["details"] == {}
    assert _audit_verifies(api, tmp_path)


def _all_text(api) -> str:
    """Every text value in every table of the hub's database, as one string."""
    from hub.tables import Base

    out = []
    with api.hub.db.session() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(table.select()):
                out.extend(str(value) for value in row if isinstance(value, (str, dict, list)))
    return "\n".join(out)


def _audit_of(api, action: str) -> list[dict]:
    from hub.tables import AuditEntry
    import json

    with api.hub.db.session() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == action)).all()
        return [dict(actor=r.actor, object=r.object, details=json.loads(r.details) if isinstance(r.details, str)
                     else r.details) for r in rows]


def _audit_verifies(api, tmp_path: Path) -> bool:
    out = tmp_path / "audit.jsonl"
    api.hub.checkpoint()
    exported = subprocess.run([sys.executable, "-m", "hub.cli", "--data", str(api.settings.data_dir), "audit",
                               "export", "--out", str(out)], capture_output=True, text=True, cwd=REPO, timeout=120,
                              env=dict(os.environ))
    assert exported.returncode == 0, exported.stderr
    verified = subprocess.run([sys.executable, "-m", "hub.audit.verify", "verify", str(out)], capture_output=True,
                              text=True, cwd=REPO, timeout=120)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    return "VERIFIED" in verified.stdout


def test_a_registration_nobody_confirms_is_deleted_after_a_week(api, inbox):
    token = register(api, inbox, "never@example.org", confirm=False)
    week = Registrations(api.hub.db, api.settings, api.hub.mailer, clock=lambda: utcnow() + dt.timedelta(days=6))
    assert week.purge_unconfirmed() == 0
    later = Registrations(api.hub.db, api.settings, api.hub.mailer, clock=lambda: utcnow() + dt.timedelta(days=8))
    assert later.purge_unconfirmed() >= 1
    assert "never@example.org" not in _all_text(api)
    with api.client() as c:
        assert c.get("/api/registration", headers=bearer(token)).status_code == 404
