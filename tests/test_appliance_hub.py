"""An enrolled appliance agent (real process, real RTSP camera) reporting to a real hub through mosquitto."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from hub.tables import Appliance, Camera, Event
from tests.hub_support import HubStack, eventually


def camera_status(stack: HubStack, name: str) -> str | None:
    with stack.hub.db.session() as session:
        row = session.scalar(select(Camera).where(Camera.name == name))
        return row.status.value if row else None


def test_enrolled_agent_reports_camera_status_and_health(hub_stack: HubStack, cameras, edge, tmp_path: Path):
    business_id, owner = hub_stack.business_with_owner("Bakery")
    code = hub_stack.claim_code(owner, business_id)
    data_dir = tmp_path / "box"
    enrolled = hub_stack.enroll(code, data_dir / "identity", "bakery-box")
    assert enrolled.returncode == 0, enrolled.stderr
    reused = hub_stack.enroll(code, tmp_path / "other", "other-box")
    assert reused.returncode == 1 and "claim code already used" in reused.stderr

    camera = cameras(1)
    camera_urls = camera.urls
    agent = edge(camera_urls, data_dir=data_dir)
    eventually(lambda: camera_status(hub_stack, "cam1") == "recording", timeout=60, what="camera recording at hub")
    with hub_stack.hub.db.session() as session:
        appliance = session.scalar(select(Appliance))
        assert appliance.online and appliance.name == "bakery-box"
        kinds = [e.kind for e in session.scalars(select(Event).order_by(Event.seq))]
    assert "health" in kinds and "camera_status" in kinds
    # The agent witnesses the hub's audit log: it holds a checkpoint it verified.
    witnessed = data_dir / "link" / "audit-checkpoint.json"
    eventually(witnessed.exists, timeout=30, what="the agent's first witnessed checkpoint")

    camera.close()  # the camera dies: the agent notices and the hub hears
    eventually(lambda: camera_status(hub_stack, "cam1") == "offline", timeout=60, what="camera offline at hub")
    assert agent.terminate() == 0

    def appliance_online() -> bool:
        with hub_stack.hub.db.session() as session:
            return session.scalar(select(Appliance.online))

    eventually(lambda: not appliance_online(), what="appliance offline after its clean stop")

    # A box that dies without a word: the broker publishes its last will and the hub marks it offline.
    agent = edge(camera_urls, data_dir=data_dir)
    eventually(appliance_online, timeout=60, what="appliance back online")
    agent.kill()
    eventually(lambda: not appliance_online(), timeout=30, what="last will: offline")
