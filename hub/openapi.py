"""The hub's OpenAPI schema without a running hub: `python -m hub.openapi [--out FILE]`.

The web front end's build (`hub/web/scripts/schema.mjs`) types its API client from this schema, so a page and
the API cannot drift apart silently. The app is built with development settings in a temporary folder (no
broker, nothing kept) and asked for its schema; nothing is served.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from hub.app import create_app
from hub.services import HubServices
from hub.settings import HubSettings


def schema() -> dict:
    """The OpenAPI document of an app built from throw-away development settings."""
    with tempfile.TemporaryDirectory(prefix="canvass-openapi-") as folder:
        settings = HubSettings(environment="development", data_dir=Path(folder), mqtt_enabled=False)
        hub = HubServices(settings)
        try:
            return create_app(settings, hub).openapi()
        finally:
            hub.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hub.openapi", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write here (default: standard output)")
    args = parser.parse_args(argv)
    text = json.dumps(schema(), indent=1, sort_keys=True) + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
