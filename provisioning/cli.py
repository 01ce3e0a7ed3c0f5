"""`canvass-provision`: enrol this appliance with a hub, rotate its key."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from provisioning.enroll import EnrolmentFailed, enroll, rotate

DEFAULT_IDENTITY = Path("/var/lib/canvass/identity")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="canvass-provision", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_enroll = sub.add_parser("enroll", help="trade a claim code for this box's certificate")
    p_enroll.add_argument("--hub", required=True, help="hub URL, e.g. https://hub.example.org")
    p_enroll.add_argument("--code", required=True, help="claim code from the business portal")
    p_enroll.add_argument("--name", default="", help="a name for this appliance")
    p_enroll.add_argument("--identity", type=Path, default=DEFAULT_IDENTITY)
    p_enroll.add_argument("--replace", action="store_true", help="start over even if already enrolled")
    p_rotate = sub.add_parser("rotate", help="new key and certificate for an enrolled box")
    p_rotate.add_argument("--hub", default=None, help="hub URL (default: the one enrolled with)")
    p_rotate.add_argument("--identity", type=Path, default=DEFAULT_IDENTITY)
    p_probe = sub.add_parser("probe", help="check what an RTSP camera sends")
    p_probe.add_argument("url")
    p_probe.add_argument("--seconds", type=float, default=5.0, help="how long to read (at least 3 keyframes)")
    p_probe.add_argument("--json", action="store_true")
    p_discover = sub.add_parser("discover", help="find ONVIF cameras on the local network (WS-Discovery)")
    p_discover.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for answers")
    p_discover.add_argument("--target", default=None,
                            help="probe this address directly instead of the multicast group (host[:port])")
    p_discover.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "probe":
        return _probe(args)
    if args.command == "discover":
        return _discover(args)
    try:
        if args.command == "enroll":
            identity = enroll(args.hub, args.code, args.identity, name=args.name, replace=args.replace)
            print(f"enrolled as {identity.device_id}; identity in {identity.directory}")
        else:
            identity = rotate(args.identity, hub_url=args.hub)
            print(f"new key for {identity.device_id}; the old certificate is revoked")
    except EnrolmentFailed as exc:
        print(f"canvass-provision: {exc}", file=sys.stderr)
        return 1
    return 0


def _probe(args: argparse.Namespace) -> int:
    from provisioning.probe import ProbeError, probe

    try:
        result = probe(args.url, seconds=args.seconds)
    except ProbeError as exc:
        print(f"canvass-provision: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result.as_dict()))
    else:
        print(f"{result.url}: {result.codec} {result.width}x{result.height} {result.fps} fps, keyframe every "
              f"{result.keyframe_interval_s} s, SPS/PPS in SDP: {'yes' if result.params_in_sdp else 'no'}")
        for warning in result.warnings:
            print(f"warning: {warning}")
    return 0


def _discover(args: argparse.Namespace) -> int:
    from provisioning.discover import discover

    found = discover(timeout_s=args.timeout, target=args.target)
    if args.json:
        print(json.dumps([d.as_dict() for d in found]))
    else:
        for device in found:
            print(f"{device.address}\t{' '.join(device.xaddrs)}\t{' '.join(device.scopes)}")
        print(f"{len(found)} device(s) answered", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
