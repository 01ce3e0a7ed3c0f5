"""`canvass-hub`: run the hub, create the first admin, write the broker's configuration, run case retention."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
from pathlib import Path

from pydantic import ValidationError

from hub import audit
from hub.services import HubServices
from hub.tables import Role, User
from hub.security import PasswordPolicyError, find_user, hash_password
from hub.settings import SECRET_FILE, HubSettings, new_secret, read_secret
from provisioning.keys import write_private


def settings_from(args: argparse.Namespace) -> HubSettings:
    overrides = {}
    if args.data is not None:
        overrides["data_dir"] = args.data
    for name in ("broker_host", "broker_port"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return HubSettings(**overrides)


def create_admin(hub: HubServices, args: argparse.Namespace) -> int:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        import getpass

        password = getpass.getpass("password for the new admin: ")
    try:
        password_hash = hash_password(password, username=args.username)
    except PasswordPolicyError as exc:
        print(f"canvass-hub: {exc}", file=sys.stderr)
        return 2
    with hub.db.session() as session:
        if find_user(session, args.username) is not None:  # names are unique in any case
            print(f"canvass-hub: user {args.username!r} already exists", file=sys.stderr)
            return 1
        session.add(User(username=args.username, password_hash=password_hash, role=Role.ADMIN))
        audit.append(session, actor="cli", action="user.create", outcome=audit.Outcome.SUCCESS,
                     object=f"user:{args.username}", source="local", role=Role.ADMIN.value)
    print(f"admin {args.username!r} created")
    return 0


def write_secret(data_dir: Path) -> bool:
    """Give the hub at `data_dir` a server secret of its own (0600) unless it has one; True if one was made."""
    path = data_dir / "keys" / SECRET_FILE
    if read_secret(path) is not None:
        return False
    write_private(path, new_secret().encode())
    return True


def init(hub: HubServices, args: argparse.Namespace) -> int:
    """The files a hub needs before `run`: its server secret (made by `main`) and the broker's files."""
    print(f"server secret in {hub.settings.keys_dir / SECRET_FILE}")
    return broker_config(hub, args)


def broker_config(hub: HubServices, args: argparse.Namespace) -> int:
    files = hub.write_broker_config()
    print(f"wrote {files.config}")
    print(f"run the broker with: mosquitto -c {files.config}")
    return 0


def sfu_config(hub: HubServices, args: argparse.Namespace) -> int:
    from hub.sfu_config import SfuConfigError, describe, write_sfu_config

    try:
        config = write_sfu_config(hub.settings.data_dir, hub.settings.keys_dir, args)
    except SfuConfigError as exc:
        print(f"canvass-hub: {exc}", file=sys.stderr)
        return 2
    print(describe(config))
    return 0


def utc_time(text: str) -> dt.datetime:
    """An ISO 8601 date or date-time for the command line; naive means UTC."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or time: {text!r}") from None
    return moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment.astimezone(dt.timezone.utc)


def audit_export(hub: HubServices, args: argparse.Namespace) -> int:
    from hub.audit.export import export_file

    since, until = args.since, args.until
    if since and until and since >= until:
        print("canvass-hub: --from must be before --to", file=sys.stderr)
        return 2
    with hub.db.session() as session:  # the export is itself on the record (and in a whole-log export)
        audit.append(session, actor="cli", action="audit.export", outcome=audit.Outcome.SUCCESS, source="local",
                     format="verifiable", path=str(args.out),
                     since=since.isoformat() if since else None, until=until.isoformat() if until else None)
    with hub.db.session() as session:
        count = export_file(session, args.out, hub.audit_key, hub.settings.audit_origin, since, until)
    what = "audit entries" if since is None and until is None else "audit entries in the range"
    print(f"wrote {count} {what} and the signed checkpoint(s) that vouch for them to {args.out}")
    print("verify with: canvass-audit verify", args.out)
    return 0


def retention(hub: HubServices, args: argparse.Namespace) -> int:
    """One maintenance pass now: delete the clips of cases past their retention (audited), and abandoned
    uploads."""
    from hub.clips.retention import retention_pass

    deleted = retention_pass(hub.db, hub.clip_store)
    swept = hub.clip_intake.staging.sweep(hub.settings.clip_upload_abandoned_s)
    print(f"deleted {deleted} clip(s) past their case's retention; discarded {len(swept)} abandoned upload(s)")
    return 0


def run(hub: HubServices, args: argparse.Namespace) -> int:
    import uvicorn

    from hub.app import create_app
    from hub.clips.play import TicketRedactor

    files = hub.broker_files
    if hub.settings.mqtt_enabled and not (files.hub_cert.exists() and files.hub_key.exists() and files.ca.exists()):
        print(f"canvass-hub: the broker's files are missing in {files.directory}: run "
              f"`canvass-hub --data {hub.settings.data_dir} init` first", file=sys.stderr)
        return 2
    logging.getLogger("uvicorn.access").addFilter(TicketRedactor())  # kept by uvicorn's logging set-up
    # Live hit streams (server-sent events) stay open until their clients leave: a stop cuts them after 10 s.
    uvicorn.run(create_app(hub.settings, hub), host=args.host, port=args.port, log_level="info",
                timeout_graceful_shutdown=10)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="canvass-hub", description=__doc__)
    parser.add_argument("--data", type=Path, default=None,
                        help="directory for everything the hub keeps (default: $CANVASS_HUB_DATA_DIR or ./hub-data)")
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="serve the API and connect to the broker")
    p_run.add_argument("--host", default="127.0.0.1")
    p_run.add_argument("--port", type=int, default=8000)
    p_admin = sub.add_parser("create-admin", help="create an admin account")
    p_admin.add_argument("--username", required=True)
    p_admin.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p_init = sub.add_parser("init", help="make the hub's server secret (once) and write the broker's files")
    p_init.add_argument("--broker-host", default=None, help="address the broker listens on and appliances use")
    p_init.add_argument("--broker-port", type=int, default=None)
    p_broker = sub.add_parser("broker-config", help="write mosquitto's config, ACL, CRL and certificates")
    p_broker.add_argument("--broker-host", default=None, help="address the broker listens on and appliances use")
    p_broker.add_argument("--broker-port", type=int, default=None)
    p_sfu = sub.add_parser("sfu-config", help="write Janus's and coturn's configs and the hub's settings for them")
    from hub.sfu_config import add_arguments

    add_arguments(p_sfu)
    p_audit = sub.add_parser("audit", help="the audit log")
    audit_sub = p_audit.add_subparsers(dest="audit_command", required=True)
    p_export = audit_sub.add_parser("export", help="write a verifiable export of the log (or of a time range)")
    p_export.add_argument("--out", type=Path, required=True)
    p_export.add_argument("--from", dest="since", type=utc_time, default=None,
                          help="first moment to include, ISO 8601 (a date or date and time; UTC unless it says)")
    p_export.add_argument("--to", dest="until", type=utc_time, default=None,
                          help="first moment to leave out, ISO 8601")
    sub.add_parser("retention", help="delete the clips of cases past their retention now (audited)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "init" and not os.environ.get("CANVASS_HUB_SECRET_KEY"):
        write_secret(args.data or Path(os.environ.get("CANVASS_HUB_DATA_DIR", "hub-data")))
    try:
        settings = settings_from(args)
    except ValidationError as exc:
        problems = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
        print(f"canvass-hub: bad settings: {problems}", file=sys.stderr)
        return 2
    hub = HubServices(settings)
    try:
        commands = {"run": run, "init": init, "create-admin": create_admin, "broker-config": broker_config,
                    "sfu-config": sfu_config, "audit": audit_export, "retention": retention}
        return commands[args.command](hub, args)
    finally:
        hub.db.dispose()


if __name__ == "__main__":
    sys.exit(main())
