"""What footage a stream showed is on the record: the grant, `stream.start` and every playback control name the
granted window (and where playback started), so an auditor can tell what could be seen.

The hub's real stream service and API answer an appliance in this process: its real consent guard judges each
grant (and takes the owner's policy as the hub pushes it), a real aiortc peer makes the SDP offer. No media
flows; the end-to-end playback tests with a real box are in tests/test_streaming.py.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from aiortc import RTCPeerConnection
from sqlalchemy import select

from edge.consent.guard import ConsentGuard
from hub.keys import public_pem
from hub.stream_relay import RelayMedia
from hub.streams import StreamService
from hub.tables import AuditEntry, Role, utcnow
from tests.hub_support import HubApi
from tests.test_hub_api import add_camera
from tests.owner_support import pair_box, put_consent
from wire import consent as c
from wire import messages as m
from wire import rtc

DEVICE = "dev-aaaaaaaaaaaa"
REASON = "armed robbery reported at the corner store"


class InProcessBox:
    """The appliance's side of the hub's link, for the stream service: policy, grant, answer, controls."""

    def __init__(self, guard: ConsentGuard):
        self.guard = guard
        self.runner = rtc.LoopThread("box")
        self.runner.start()
        self.peers: list[RTCPeerConnection] = []

    def request(self, device_id: str, body, timeout_s: float = 10) -> m.Reply:
        assert device_id == DEVICE
        return m.Reply(request_id=uuid.uuid4(), ok=True, result=self._result(body))

    def send(self, device_id: str, body) -> None:
        """Keepalives and stops: nothing to answer."""

    def _result(self, body) -> m.ReplyResult:
        if isinstance(body, m.PolicyUpdate):
            document = self.guard.accept_policy(body.signed)
            return m.PolicyTaken(camera=document.camera, version=document.version)
        if isinstance(body, m.OwnerKeyOffer):
            key = self.guard.enrol_owner_key(body.offer)
            return m.OwnerKeyTaken(accepted=True, reason="held", fingerprint=key.fingerprint())
        if isinstance(body, m.StreamStart):
            decision = self.guard.judge(c.Signed(document=body.signed.document, signature=body.signed.signature))
            if not decision.accepted:
                return m.StreamOffer(accepted=False, reason=decision.reason)
            return m.StreamOffer(accepted=True, reason="accepted", sdp=self.runner.call(self._offer(), 15),
                                 deadline=decision.grant.expires_at)
        if isinstance(body, m.StreamAnswer):
            return m.AnswerTaken(session_id=body.session_id)
        if isinstance(body, m.StreamControl):
            return m.PlaybackState(position=body.at, paused=body.action == "pause", speed=body.speed or 1)
        raise AssertionError(f"the box was not asked {type(body).__name__}")

    async def _offer(self) -> str:
        pc = RTCPeerConnection(rtc.configuration(rtc.IceSettings()))
        self.peers.append(pc)
        pc.addTransceiver("video", direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        return pc.localDescription.sdp

    async def _close(self) -> None:
        for pc in self.peers:
            await pc.close()

    def stop(self) -> None:
        self.runner.call(self._close(), 10)
        self.runner.stop()


@pytest.fixture
def hub(tmp_path: Path):
    api = HubApi(tmp_path / "hub")
    yield api
    api.close()


@pytest.fixture
def guard(hub: HubApi, tmp_path: Path):
    g = ConsentGuard(tmp_path / "box" / "consent.sqlite3", device_id=DEVICE, cameras=["front"],
                     grant_key_pem=hub.hub.grant_public_key_pem, audit_key_pem=public_pem(hub.hub.audit_key),
                     audit_origin=hub.settings.audit_origin)
    yield g
    g.close()


def camera_and_analyst(api: HubApi) -> tuple[int, str, str]:
    """A camera on the box's device, its owner's token and an analyst's (the hub's start-up is run and closed
    by each `with` client, so this comes before `attach_box`)."""
    business, owner = api.business_with_owner("Bakery")
    camera_id = add_camera(api, business, "front", 40.7, -74.0, DEVICE)
    api.add_user("ana", "correct-horse-battery", Role.ANALYST, unit="Robbery")
    return camera_id, owner, api.login("ana", "correct-horse-battery")


def attach_box(api: HubApi, guard: ConsentGuard) -> None:
    """The hub's link now reaches the box in this process; its stream service runs (the hub's close stops both,
    so from here on clients are used without `with`, which would run the app's shutdown)."""
    api.hub.link = InProcessBox(guard)
    api.hub.streams = StreamService(api.hub, RelayMedia(rtc.IceSettings()))


def details(api: HubApi, action: str) -> list[dict]:
    with api.hub.db.session() as session:
        return [e.details for e in session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                                   .order_by(AuditEntry.leaf_index))]


def share(api: HubApi, owner: str, camera_id: int, modes: list[str]) -> None:
    client = api.client(owner)
    pair_box(client, DEVICE, api.hub.link.guard)
    r = put_consent(client, camera_id, {"sharing": "always", "modes": modes})
    assert r.status_code == 200, r.text


def test_a_playback_grant_its_start_and_each_control_name_the_footage_window(hub: HubApi, guard: ConsentGuard):
    camera_id, owner, analyst = camera_and_analyst(hub)
    attach_box(hub, guard)
    share(hub, owner, camera_id, ["live", "playback"])
    start = (utcnow() - dt.timedelta(days=1)).replace(microsecond=0)
    window = {"window_from": start.isoformat(), "window_to": (start + dt.timedelta(seconds=60)).isoformat()}
    seek = start + dt.timedelta(seconds=30)
    client = hub.client(analyst)
    r = client.post("/api/streams", json={"camera_id": camera_id, "mode": "playback", "at": start.isoformat(),
                                          "duration_s": 60, "purpose": "violent_crime", "reason": REASON,
                                          "case_number": "2026-004711"})
    assert r.status_code == 201, r.text
    session_id = r.json()["session_id"]
    for body in ({"action": "pause"}, {"action": "seek", "at": seek.isoformat()}):
        assert client.post(f"/api/streams/{session_id}/control", json=body).status_code == 200
    assert client.delete(f"/api/streams/{session_id}").status_code == 204

    [grant] = details(hub, "access.grant")
    assert {k: grant[k] for k in window} == window
    [started] = details(hub, "stream.start")
    assert {k: started[k] for k in window} == window and started["at"] == start.isoformat()
    controls = details(hub, "stream.control")
    assert [(e["control"], e["at"]) for e in controls] == [("pause", None), ("seek", seek.isoformat())]
    assert all({k: e[k] for k in window} == window for e in controls)


def test_a_live_stream_names_no_footage_window(hub: HubApi, guard: ConsentGuard):
    camera_id, owner, analyst = camera_and_analyst(hub)
    attach_box(hub, guard)
    share(hub, owner, camera_id, ["live"])
    r = hub.client(analyst).post("/api/streams", json={"camera_id": camera_id, "purpose": "violent_crime",
                                                       "reason": REASON, "case_number": "2026-004712"})
    assert r.status_code == 201, r.text
    [started] = details(hub, "stream.start")
    assert (started["window_from"], started["window_to"], started["at"]) == (None, None, None)
