"""`canvass-edge`: run the appliance agent, list segments and plate reads, show status, export a clip."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import time
from pathlib import Path

from edge.app import EdgeApp
from edge.clock import clock_status
from edge.config import EdgeConfig, load_config
from edge.consent.guard import ALL_CAMERAS, ConsentGuard
from edge.errors import EdgeError
from edge.link.outbox import Outbox
from edge.recording.index import SegmentIndex
from edge.recording.storage import Layout
from edge.service import setup_logging
from edge.status import build_status, format_status, parse_time, segment_json
from wire import messages as wire


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="canvass-edge", description="Canvass appliance agent")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="record the configured cameras until stopped")
    run.add_argument("--config", type=Path, required=True)
    run.add_argument("--verbose", "-v", action="store_true")
    segments = sub.add_parser("segments", help="list recorded segments of a camera, with hashes")
    segments.add_argument("--config", type=Path, required=True)
    segments.add_argument("--camera", required=True)
    _add_time_range(segments)
    segments.add_argument("--json", action="store_true")
    status = sub.add_parser("status", help="cameras, recording state, disk use and alarms")
    status.add_argument("--config", type=Path, required=True)
    status.add_argument("--json", action="store_true")
    for name, text in (("pause", "stop all sharing from this box (the hub cannot override it)"),
                       ("resume", "lift a pause made with `pause`")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--config", type=Path, required=True)
        cmd.add_argument("--camera", default=None, help="one camera (default: every camera)")
    reads = sub.add_parser("reads", help="plate reads stored on this box, one per vehicle pass")
    reads.add_argument("--config", type=Path, required=True)
    reads.add_argument("--camera", default=None)
    _add_time_range(reads)
    reads.add_argument("--json", action="store_true")
    clip = sub.add_parser("clip", help="export a camera's footage as DIR/clip.mp4 and DIR/manifest.json, signed by "
                          "this box (checked with `canvass-audit verify-clip`)")
    clip.add_argument("--config", type=Path, required=True)
    clip.add_argument("--camera", required=True)
    _add_time_range(clip)
    clip.add_argument("--out", type=Path, required=True, metavar="DIR", help="directory to write the clip into")
    access = sub.add_parser("access-log", help="every access grant presented to this box and the decision")
    access.add_argument("--config", type=Path, required=True)
    access.add_argument("--json", action="store_true")
    owners = sub.add_parser("owners", help="the owner keys (passkeys) this box holds: `pair` shows a one-time code "
                            "for adding one in the owner's console, `list`, `remove CREDENTIAL_ID`")
    owners.add_argument("action", choices=("pair", "list", "remove"))
    owners.add_argument("credential_id", nargs="?", help="for `remove`: the key's credential id (see `list`)")
    owners.add_argument("--config", type=Path, required=True)
    owners.add_argument("--json", action="store_true")
    requests = sub.add_parser("requests", help="footage requests the hub sent for this box's cameras, with "
                              "their status, hold and clip")
    requests.add_argument("--config", type=Path, required=True)
    requests.add_argument("--json", action="store_true")
    return parser


def _add_time_range(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="from_", metavar="TIME", help="ISO-8601 time (UTC if no offset)")
    parser.add_argument("--to", metavar="TIME", help="ISO-8601 time (UTC if no offset)")


def _time_range(args: argparse.Namespace) -> tuple[int | None, int | None]:
    """`--from` and `--to` in microseconds (None where not given); EdgeError for a time that does not parse."""
    try:
        return (parse_time(args.from_) if args.from_ else None, parse_time(args.to) if args.to else None)
    except ValueError as exc:
        raise EdgeError(f"bad time: {exc}") from None


def _open_index(config: EdgeConfig) -> SegmentIndex:
    layout = Layout(config.appliance.data_dir)
    if not layout.index_path.exists():
        raise EdgeError(f"no recordings yet: {layout.index_path} does not exist (has `canvass-edge run` started?)")
    return SegmentIndex(layout.index_path, readonly=True)


def _cmd_run(args: argparse.Namespace) -> int:
    setup_logging(level=logging.DEBUG if args.verbose else logging.INFO)
    config = load_config(args.config)
    asyncio.run(_run_until_signal(EdgeApp(config)))
    return 0


async def _run_until_signal(app: EdgeApp) -> None:
    """Run the agent until SIGTERM or SIGINT, then stop it gracefully (open segments are closed)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await app.async_start()
    try:
        await stop.wait()
    finally:
        await app.async_stop()


def _cmd_segments(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    config.camera(args.camera)
    from_us, to_us = _time_range(args)
    index = _open_index(config)
    layout = Layout(config.appliance.data_dir)
    rows = [segment_json(s, layout) for s in index.segments(args.camera, from_us=from_us, to_us=to_us)]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(f"{row['start']}  {row['end'] or '(open)':<27}  {row['bytes']:>10}  {row['sha256'] or '-':<64}  {row['path']}")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    index = _open_index(config)
    status = build_status(config, index, clock_status(), int(time.time() * 1_000_000))
    print(json.dumps(status, indent=2) if args.json else format_status(status))
    return 0


def _cmd_pause(args: argparse.Namespace, *, paused: bool = True) -> int:
    """The owner's switch: recorded in the box's consent store, reported to the hub through the outbox."""
    config = load_config(args.config)
    camera = args.camera or ALL_CAMERAS
    if args.camera:
        config.camera(args.camera)
    layout = Layout(config.appliance.data_dir)
    guard = ConsentGuard(layout.consent_path)
    try:
        guard.pause(camera, note="canvass-edge pause") if paused else guard.resume(camera)
    finally:
        guard.close()
    what = f"camera {args.camera}" if args.camera else "every camera"
    if layout.identity.exists():
        outbox = Outbox(layout.outbox_path)
        try:
            outbox.put(wire.Alarm(code="sharing.paused" if paused else "sharing.resumed",
                                  message=f"the owner {'paused' if paused else 'resumed'} sharing of {what} on the box"))
        finally:
            outbox.close()
    print(f"sharing {'paused' if paused else 'resumed'} for {what}")
    return 0


def _cmd_reads(args: argparse.Namespace) -> int:
    from edge.alpr.reads import ReadStore  # loads OpenCV and numpy: only this command needs them

    config = load_config(args.config)
    if args.camera:
        config.camera(args.camera)
    from_us, to_us = _time_range(args)
    layout = Layout(config.appliance.data_dir)
    if not layout.reads_path.exists():
        rows = []
    else:
        store = ReadStore(layout.reads_path, layout.thumbnails, readonly=True)
        try:
            rows = [r.to_json() for r in store.query(camera=args.camera, from_us=from_us, to_us=to_us)]
        finally:
            store.close()
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            hit = f"  HIT {r['hit']['list']}: {r['hit']['reason']}" if r["hit"] else ""
            print(f"{r['first_seen']}  {r['last_seen']}  {r['camera']:<12} {r['text']:<10} {r['confidence']:.2f}{hit}")
    return 0


def _cmd_clip(args: argparse.Namespace) -> int:
    from edge.clips.owner import owner_export, summary  # PyAV and the signing code: only this command needs them

    config = load_config(args.config)
    from_us, to_us = _time_range(args)
    if from_us is None or to_us is None:
        raise EdgeError("a clip needs both --from and --to")
    exported = owner_export(config, args.camera, from_us=from_us, to_us=to_us, out_dir=args.out)
    print("\n".join(summary(exported)))
    return 0


def _cmd_access_log(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    guard = ConsentGuard(Layout(config.appliance.data_dir).consent_path)
    try:
        rows = guard.access_log()
    finally:
        guard.close()
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            verdict = ("ACCEPTED" if r["accepted"] else f"refused: {r['decision']}") if r["grant_id"] \
                else r["decision"]  # a policy or an owner key
            print(f"{r['at']}  {r['camera'] or '-'}  {r['mode'] or '-'}  {r['analyst'] or '-'}  "
                  f"case {r['case_number'] or '-'}  {verdict}")
    return 0


def _cmd_owners(args: argparse.Namespace) -> int:
    """Owner keys, at the box only: the hub has no way to run this (see docs/owner-keys.md)."""
    from edge.consent.owners import PAIRING_MINUTES

    guard = ConsentGuard(Layout(load_config(args.config).appliance.data_dir).consent_path)
    try:
        if args.action == "pair":
            print(f"pairing code: {guard.open_pairing()}\n(type it into the owner console's \"add this box\" form "
                  f"within {PAIRING_MINUTES} minutes; it adds one key, once)")
        elif args.action == "remove":
            if not args.credential_id or not guard.owners.remove(args.credential_id):
                raise EdgeError("no such owner key (see `canvass-edge owners list`)")
            print("removed: policies and approvals signed with it no longer count")
        else:
            rows = guard.owners.listing()
            print(json.dumps(rows, indent=2) if args.json else "\n".join(
                f"{r['fingerprint']}  {r['label'] or '-':<24} rp {r['rp_id']}  added {r['added_at']}  "
                f"id {r['credential_id']}" for r in rows) or "no owner keys: run `canvass-edge owners pair`")
    finally:
        guard.close()
    return 0


def _cmd_requests(args: argparse.Namespace) -> int:
    from edge.clips.requests import RequestBook

    path = Layout(load_config(args.config).appliance.data_dir).requests_path
    rows = []
    if path.exists():
        book = RequestBook(path, readonly=True)
        try:
            rows = [r.to_json() for r in book.requests()]
        finally:
            book.close()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no footage requests")
    for r in rows:
        held = "held" if r["held"] else "not held"
        print(f"#{r['request_id']}  {r['camera']}  {r['window_from']} to {r['window_to']}  {r['status'].upper()}  "
              f"({held}{', clip ' + r['clip'] if r['clip'] else ''})  case {r['case_number']}  {r['purpose']}  "
              f"by {r['analyst']}\n    {r['reason']}{chr(10) + '    note: ' + r['note'] if r['note'] else ''}")
    return 0


COMMANDS = {"run": _cmd_run, "segments": _cmd_segments, "status": _cmd_status, "pause": _cmd_pause,
            "resume": lambda args: _cmd_pause(args, paused=False), "access-log": _cmd_access_log, "reads": _cmd_reads,
            "clip": _cmd_clip, "requests": _cmd_requests, "owners": _cmd_owners}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except EdgeError as exc:
        print(f"canvass-edge: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
