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


def test_the_box_gets_turn_credentials_for_each_session_from_the_hub(tmp_path: Path):
    import base64
    import hashlib
    import hmac

    from pydantic import ValidationError

    from edge.config import StreamingConfig
    from edge.streaming.streamer import session_ice
    from hub.services import HubServices
    from hub.streams import StreamService
    from wire import messages as m

    class NoMedia:
        name = "none"

        def close(self) -> None:
            pass

    secret, url = "turn-secret-0123456789abcdef", "turn:127.0.0.1:3478?transport=udp"
    settings = HubSettings(data_dir=tmp_path, environment="development", mqtt_enabled=False, turn_urls=[url],
                           turn_secret=secret, turn_credential_ttl_s=600)
    hub = HubServices(settings)
    service = StreamService(hub, NoMedia(), wall_clock=lambda: 1796000000.0)
    try:
        session_id = uuid.uuid4()
        [server] = service._appliance_ice_servers(session_id)  # noqa: SLF001 — what stream.start carries
        assert server.urls == [url] and server.username == f"1796000600:box-{session_id.hex}"
        expected = hmac.new(secret.encode(), server.username.encode(), hashlib.sha1).digest()
        assert server.credential == base64.b64encode(expected).decode()  # what coturn recomputes from its secret
        # It survives the wire, and the box's peer uses exactly it (relay only, when the box is so configured).
        start = m.StreamStart(session_id=session_id, signed=m.SignedDocument(document="{}", signature="x" * 86),
                              ice_servers=[server])
        start = m.StreamStart.model_validate_json(start.model_dump_json())
        ice = session_ice(StreamingConfig(relay_only=True, ice_host_addresses=["127.0.0.1"]), start)
        assert ice.relay_only and ice.host_addresses == ("127.0.0.1",)
        assert [(t.urls, t.username, t.credential) for t in ice.turn_servers] == [
            ((url,), server.username, server.credential)]
        bare = m.StreamStart(session_id=session_id, signed=start.signed)
        assert session_ice(StreamingConfig(), bare).turn_servers == ()
    finally:
        service.close()
        hub.close()
    with pytest.raises(ValidationError):  # only TURN servers, and the box's config no longer takes a TURN user
        m.IceServer(urls=["stun:stun.example.org"], username="u", credential="c")
    with pytest.raises(ValidationError):
        StreamingConfig(turn_username="box", turn_password="static")
