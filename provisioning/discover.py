"""`canvass-provision discover`: find ONVIF cameras with WS-Discovery (SOAP-over-UDP, port 3702).

Sends one WS-Discovery Probe for ONVIF NetworkVideoTransmitter devices to
the multicast group 239.255.255.250:3702 (or, with `target`, straight to one
address) and collects the ProbeMatches that answer within the timeout. Answers
are parsed with defusedxml: they come from anyone on the network.
"""

from __future__ import annotations

import socket
import time
import uuid
from dataclasses import asdict, dataclass

from defusedxml import ElementTree

MULTICAST = ("239.255.255.250", 3702)
NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "d": "http://schemas.xmlsoap.org/ws/2005/04/discovery",
}
MAX_ANSWER_BYTES = 65_535


@dataclass(frozen=True)
class Device:
    address: str          # where the answer came from
    endpoint: str         # the device's stable WS-Addressing id (urn:uuid:…)
    xaddrs: tuple[str, ...]  # ONVIF device service URLs
    scopes: tuple[str, ...]  # onvif://www.onvif.org/name/…, …/hardware/…, …

    def as_dict(self) -> dict:
        return asdict(self)


def probe_message(message_id: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="{NS['s']}" xmlns:a="{NS['a']}" xmlns:d="{NS['d']}" xmlns:dn="http://www.onvif.org/ver10/network/wsdl">
  <s:Header>
    <a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>
    <a:MessageID>{message_id}</a:MessageID>
    <a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo>
    <a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>
  </s:Header>
  <s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body>
</s:Envelope>""".encode()


def parse_probe_matches(data: bytes, source: str, message_id: str) -> list[Device]:
    """Devices in a ProbeMatches answer to `message_id`; [] for anything else (logged by the caller)."""
    try:
        root = ElementTree.fromstring(data)
    except Exception:  # defusedxml raises several kinds for hostile or broken XML
        return []
    relates = root.findtext("s:Header/a:RelatesTo", default="", namespaces=NS).strip()
    if relates != message_id:
        return []
    devices = []
    for match in root.iterfind("s:Body/d:ProbeMatches/d:ProbeMatch", NS):
        endpoint = match.findtext("a:EndpointReference/a:Address", default="", namespaces=NS).strip()
        xaddrs = tuple(match.findtext("d:XAddrs", default="", namespaces=NS).split())
        scopes = tuple(match.findtext("d:Scopes", default="", namespaces=NS).split())
        if endpoint or xaddrs:
            devices.append(Device(source, endpoint, xaddrs, scopes))
    return devices


def discover(*, timeout_s: float = 3.0, target: str | None = None) -> list[Device]:
    message_id = f"urn:uuid:{uuid.uuid4()}"
    if target:
        host, _, port = target.partition(":")
        destination = (host, int(port or 3702))
    else:
        destination = MULTICAST
    found: dict[str, Device] = {}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP) as sock:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.bind(("", 0))
        sock.sendto(probe_message(message_id), destination)
        deadline = time.monotonic() + timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            sock.settimeout(remaining)
            try:
                data, (address, _) = sock.recvfrom(MAX_ANSWER_BYTES)
            except TimeoutError:
                break
            for device in parse_probe_matches(data, address, message_id):
                found.setdefault(device.endpoint or device.xaddrs[0], device)
    return sorted(found.values(), key=lambda d: d.address)
