"""`canvass-provision`: enrol this appliance with a hub, rotate its key."""

from __future__ import annotations

import argparse
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
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
