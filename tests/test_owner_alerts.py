"""Owners' e-mail alerts with the real parts: a hub with its MQTT link and a real mosquitto, an enrolled appliance
(`canvass-edge run`) recording a simulated RTSP camera, and a real SMTP server on loopback. The camera dies;
the owner is written to within their threshold plus a minute (the threshold small for the test), once. The box
reports the checkpoint it witnessed through the same link. And the alert pass on its own (SQLite): a camera back
online is told once, a request still waiting is reminded once; an owner who turns request e-mails off gets none."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.ingest import set_status
from hub.tables import Appliance, Camera, CameraStatusValue, FootageRequest, utcnow
from tests.hub_support import HubApi, HubStack, eventually
from tests.mail_support import Inbox
from tests.test_hub_api import add_camera

THRESHOLD_S = 10
OWNER_EMAIL = "baker@example.org"


@pytest.fixture
def stack(tmp_path: Path, inbox: Inbox):
    hub = HubStack(tmp_path, smtp_host="127.0.0.1", smtp_port=inbox.controller.port, smtp_starttls=False,
                   owner_alert_check_s=1, public_url="https://hub.example.org").start()
    yield hub
    hub.stop()


def _camera(stack: HubStack) -> Camera | None:
    with stack.hub.db.session() as session:
        return session.scalar(select(Camera).where(Camera.name == "cam1"))


@pytest.mark.slow
def test_a_camera_offline_past_the_owners_threshold_is_e_mailed_to_the_owner_within_a_minute(
        stack: HubStack, inbox: Inbox, cameras, edge, tmp_path: Path):
    business_id, owner = stack.business_with_owner("Bakery")
    with stack.client(owner) as c:
        c.put("/api/owner/alert-settings", json={"email": OWNER_EMAIL, "camera_offline_after_s": THRESHOLD_S,
                                                 "request_emails": True}).raise_for_status()
    enrolled = stack.enroll(stack.claim_code(owner, business_id), tmp_path / "box" / "identity", "bakery-box")
    assert enrolled.returncode == 0, enrolled.stderr
    camera = cameras(1)
    agent = edge(camera.urls, data_dir=tmp_path / "box")
    eventually(lambda: stack.recording_camera("cam1") is not None, timeout=60, what="camera recording at the hub")

    def witnessed() -> int | None:
        with stack.hub.db.session() as session:
            return session.scalar(select(Appliance.witnessed_size))

    eventually(lambda: witnessed() is not None, timeout=60, what="the box's witnessed checkpoint at the hub")
    assert not inbox.about("offline")  # recording: nothing to tell

    camera.close()  # the camera dies; the box notices and tells the hub
    eventually(lambda: (_camera(stack) or Camera()).offline_since is not None, timeout=60, what="camera offline")
    since = _camera(stack).offline_since
    deadline = since + dt.timedelta(seconds=THRESHOLD_S + 60)  # the bound: the threshold plus a minute
    while not inbox.about("offline") and utcnow() < deadline:
        inbox.arrived.wait(0.5)
        inbox.arrived.clear()
    [mail] = inbox.about("offline")
    assert mail["To"] == OWNER_EMAIL and "cam1" in mail["Subject"]
    assert "not recording" in mail.get_payload() and "Bakery" in mail.get_payload()
    assert stack.hub.owner_alerts.passes >= 1 and agent.process.poll() is None


def test_back_online_and_request_reminders_are_sent_once(tmp_path: Path, inbox: Inbox):
    api = HubApi(tmp_path, smtp_host="127.0.0.1", smtp_port=inbox.controller.port, smtp_starttls=False,
                 public_url="https://hub.example.org")
    try:
        business_id, owner = api.business_with_owner("Bakery")
        camera_id = add_camera(api, business_id, "front", 40.7, -74.0, "dev-aaaaaaaaaaaa")
        with api.client(owner) as c:
            c.put("/api/owner/alert-settings", json={
                "email": OWNER_EMAIL, "camera_offline_after_s": 60, "request_emails": False,
                "request_reminder_after_s": 3600}).raise_for_status()
        alerts = api.hub.owner_alerts
        with api.hub.db.session() as session:
            set_status(session.get(Camera, camera_id), CameraStatusValue.OFFLINE, utcnow() - dt.timedelta(minutes=2))
            session.add(FootageRequest(camera_id=camera_id, mode="clip", window_from=utcnow(), window_to=utcnow(),
                                       duration_s=60, analyst="ana", reason="r", case_number="2026-1",
                                       created_at=utcnow() - dt.timedelta(hours=2)))
        alerts.run_once()
        alerts.run_once()  # nothing new: nothing sent again
        api.hub.mailer.close()
        assert [len(inbox.about(w)) for w in ("offline", "still waits")] == [1, 1]
        with api.hub.db.session() as session:
            set_status(session.get(Camera, camera_id), CameraStatusValue.RECORDING, utcnow())
        alerts.run_once()
        alerts.run_once()
        api.hub.mailer.close()
        assert len(inbox.about("back online")) == 1 and len(inbox.messages) == 3
        assert all(m["To"] == OWNER_EMAIL for m in inbox.messages)
    finally:
        api.close()


def test_an_owner_who_turns_request_e_mails_off_gets_none_and_on_again_gets_them(tmp_path: Path, inbox: Inbox):
    from tests.test_footage_requests import _ask, _incident, _setup

    api = HubApi(tmp_path, smtp_host="127.0.0.1", smtp_port=inbox.controller.port, smtp_starttls=False,
                 public_url="https://hub.example.org")
    try:
        (near, _, _), bakery_owner, _, analyst = _setup(api)
        incident = _incident(api)

        def ask_and_deliver(case_number: str) -> None:
            with api.client(analyst) as c:
                asked = c.post("/api/footage-requests", json=_ask([near], incident_id=incident, radius_m=200,
                                                                  case_number=case_number))
                assert asked.status_code == 201, asked.text
            api.hub.mailer.close()  # what was queued is delivered

        with api.client(bakery_owner) as c:
            off = {"email": "baker@example.org", "request_emails": False}
            c.put("/api/owner/alert-settings", json=off).raise_for_status()
        ask_and_deliver("2026-000001")
        assert inbox.messages == []
        with api.client(bakery_owner) as c:
            c.put("/api/owner/alert-settings", json={**off, "request_emails": True}).raise_for_status()
        ask_and_deliver("2026-000002")
        [mail] = inbox.messages
        assert mail["To"] == "baker@example.org" and "waits for your decision" in mail["Subject"]
    finally:
        api.close()
