"""The SFU's small parts without servers: TURN REST credentials, the configuration written for Janus and coturn,
the viewer tokens and the media-path choice."""

from __future__ import annotations

import stat
import uuid
from pathlib import Path

import pytest

from hub.settings import HubSettings
from hub.sfu_files import write_coturn_config, write_janus_files
from hub.stream_media import MediaError
from hub.streams import media_path
from hub.turn import turn_credentials


def test_turn_credentials_follow_the_turn_rest_api_convention():
    # Golden value from `openssl dgst -sha1 -hmac SECRET -binary | base64` over the user name.
    made = turn_credentials("a-shared-secret-of-coturn", "viewer-1", now=1796000000.7, ttl_s=3600)
    assert made.username == "1796003600:viewer-1" and made.expires_at == 1796003600
    assert made.credential == "2U/qwpAvC3OxYlKAUvICF1uZTOo="
    with pytest.raises(ValueError):
        turn_credentials("a-shared-secret-of-coturn", "name:with-colon", now=0, ttl_s=60)


def test_janus_is_configured_for_the_hub_alone(tmp_path: Path):
    files = write_janus_files(tmp_path / "janus", bind="127.0.0.1", api_port=18088, admin_port=17088,
                              admin_secret="admin-secret-0123456789", room_admin_key="room-key-0123456789",
                              rtp_ports=(30000, 30199), ice_interfaces="eth0")
    core = files.config.read_text()
    assert "token_auth = true" in core and 'admin_secret = "admin-secret-0123456789"' in core
    assert 'rtp_port_range = "30000-30199"' in core and 'ice_enforce_list = "eth0"' in core
    http = (files.folder / "janus.transport.http.jcfg").read_text()
    assert 'ip = "127.0.0.1"' in http and 'admin_ip = "127.0.0.1"' in http and "https = false" in http
    assert 'admin_key = "room-key-0123456789"' in (files.folder / "janus.plugin.videoroom.jcfg").read_text()
    assert [p.name for p in (files.folder / "plugins").iterdir()] == ["libjanus_videoroom.so"]
    assert [p.name for p in (files.folder / "transports").iterdir()] == ["libjanus_http.so"]
    for path in files.folder.glob("*.jcfg"):  # secrets inside: the owner's only
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert files.api_url == "http://127.0.0.1:18088/janus" and files.admin_url == "http://127.0.0.1:17088/admin"


def test_coturn_takes_only_shared_secret_credentials_and_refuses_multicast(tmp_path: Path):
    conf = write_coturn_config(tmp_path / "turn.conf", listen="127.0.0.1", relay="192.0.2.2", port=3478,
                               secret="turn-secret-0123456789", realm="city.example", relay_ports=(40000, 40099))
    lines = conf.read_text().splitlines()
    assert {"use-auth-secret", "static-auth-secret=turn-secret-0123456789", "no-multicast-peers", "no-cli",
            "listening-ip=127.0.0.1", "relay-ip=192.0.2.2"} <= set(lines)
    assert "allow-loopback-peers" not in lines  # only one-machine set-ups ask for it


def test_the_sfu_path_needs_its_settings_and_the_relay_is_a_switch(tmp_path: Path):
    unconfigured = HubSettings(data_dir=tmp_path, environment="development", mqtt_enabled=False)
    assert unconfigured.stream_media == "sfu"
    with pytest.raises(MediaError, match="no SFU is configured"):
        media_path(unconfigured)
    relay = media_path(HubSettings(data_dir=tmp_path, environment="development", mqtt_enabled=False,
                                   stream_media="relay"))
    try:
        assert relay.name == "relay"
    finally:
        relay.close()


def test_a_viewer_token_works_once_for_its_session_and_user_only(tmp_path: Path):
    from hub.services import HubServices
    from hub.streams import LiveSession, StreamService

    class NoMedia:
        name = "none"

        def close(self) -> None:
            pass

    clock = [1000.0]
    hub = HubServices(HubSettings(data_dir=tmp_path, environment="development", mqtt_enabled=False))
    service = StreamService(hub, NoMedia(), clock=lambda: clock[0])
    try:
        session_id = uuid.uuid4()
        service.sessions[session_id] = LiveSession(session_id, "box", "cam1", 1, "ana", "2026-1", None, None)
        redeem = service._redeem  # noqa: SLF001 — the token rule itself, without a room to join
        token = service.viewer_token(session_id, "ana").token
        assert not redeem(session_id, "bob", token)  # another user: refused, and spent
        assert not redeem(session_id, "ana", token)
        token = service.viewer_token(session_id, "ana").token
        assert not redeem(uuid.uuid4(), "ana", token)  # another session
        token = service.viewer_token(session_id, "ana").token
        clock[0] += hub.settings.viewer_token_ttl_s + 1
        assert not redeem(session_id, "ana", token)  # expired
        token = service.viewer_token(session_id, "ana").token
        assert redeem(session_id, "ana", token) and not redeem(session_id, "ana", token)  # once only
        assert service.viewer_token(session_id, "ana").ice_servers == ()  # no TURN configured: none handed out
    finally:
        service.sessions.clear()  # no room was made
        service.close()
        hub.close()
