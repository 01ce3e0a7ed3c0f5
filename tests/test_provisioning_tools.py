"""`canvass-provision probe` against the real RTSP simulator; `discover` against a WS-Discovery responder."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

from defusedxml import ElementTree

from provisioning.discover import NS, parse_probe_matches
from provisioning.probe import ProbeResult, warnings_for

REPO = Path(__file__).resolve().parents[1]


def provision(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "provisioning.cli", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=120)


def test_probe_reports_the_simulated_camera(cameras):
    for params_in_sdp in (False, True):
        camera = cameras(1, params_in_sdp=params_in_sdp)
        done = provision("probe", camera.urls[0], "--seconds", "3", "--json")
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert (result["codec"], result["width"], result["height"]) == ("h264", 1920, 1080)
        assert result["fps"] == 15.0
        assert 1.0 <= result["keyframe_interval_s"] <= 2.0  # the simulator's GOP is 15–30 frames
        assert result["warnings"] == []
        camera.close()


def test_probe_refuses_a_dead_url_clearly():
    done = provision("probe", "rtsp://user:secret@127.0.0.1:9/none", "--seconds", "1")
    assert done.returncode == 1
    assert "cannot open rtsp://***@127.0.0.1:9/none: ConnectionRefusedError" in done.stderr
    assert "secret" not in done.stderr


def test_long_gop_and_other_codecs_are_flagged():
    base = dict(url="rtsp://x", width=1920, height=1080, fps=15.0, params_in_sdp=True, packets=90, seconds=6.0)
    assert warnings_for(ProbeResult(codec="h264", keyframe_interval_s=2.0, **base)) == []
    [gop] = warnings_for(ProbeResult(codec="h264", keyframe_interval_s=4.0, **base))
    assert "4.0 s is over 2 s" in gop
    [codec] = warnings_for(ProbeResult(codec="hevc", keyframe_interval_s=1.0, **base))
    assert "not H.264" in codec


PROBE_MATCH = """<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope"
  xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"
  xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl">
 <SOAP-ENV:Header>
  <wsa:MessageID>urn:uuid:7b0c0f3e-0000-4000-8000-000000000001</wsa:MessageID>
  <wsa:RelatesTo>{relates}</wsa:RelatesTo>
  <wsa:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>
  <wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action>
 </SOAP-ENV:Header>
 <SOAP-ENV:Body><d:ProbeMatches><d:ProbeMatch>
  <wsa:EndpointReference><wsa:Address>urn:uuid:5f5a69c2-e0ae-504f-829b-00fcf3a29a10</wsa:Address></wsa:EndpointReference>
  <d:Types>dn:NetworkVideoTransmitter</d:Types>
  <d:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/name/FrontDoor onvif://www.onvif.org/hardware/IPC-1</d:Scopes>
  <d:XAddrs>http://127.0.0.1:8080/onvif/device_service</d:XAddrs>
  <d:MetadataVersion>1</d:MetadataVersion>
 </d:ProbeMatch></d:ProbeMatches></SOAP-ENV:Body>
</SOAP-ENV:Envelope>"""


def test_discover_collects_probe_matches():
    """A WS-Discovery responder on loopback answers the way ONVIF cameras do (to the probe's MessageID)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10)
    port = sock.getsockname()[1]
    probes: list[bytes] = []

    def respond() -> None:
        data, peer = sock.recvfrom(65535)
        probes.append(data)
        message_id = ElementTree.fromstring(data).findtext("s:Header/a:MessageID", namespaces=NS)
        sock.sendto(b"garbage that is not XML", peer)
        sock.sendto(PROBE_MATCH.format(relates="urn:uuid:someone-else").encode(), peer)
        sock.sendto(PROBE_MATCH.format(relates=message_id).encode(), peer)
        sock.sendto(PROBE_MATCH.format(relates=message_id).encode(), peer)  # repeats are normal over UDP

    responder = threading.Thread(target=respond)
    responder.start()
    done = provision("discover", "--target", f"127.0.0.1:{port}", "--timeout", "2", "--json")
    responder.join()
    sock.close()
    assert done.returncode == 0, done.stderr
    [device] = json.loads(done.stdout)
    assert device["xaddrs"] == ["http://127.0.0.1:8080/onvif/device_service"]
    assert "onvif://www.onvif.org/name/FrontDoor" in device["scopes"]
    assert b"NetworkVideoTransmitter" in probes[0]


def test_hostile_xml_is_ignored():
    bomb = b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><l>&b;</l>'
    assert parse_probe_matches(bomb, "127.0.0.1", "urn:uuid:x") == []
