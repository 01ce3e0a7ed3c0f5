"""The demo: four simulated cameras on 127.0.0.1 and one appliance recording them.

Until the hub exists this is the main job: it starts the cameras, writes an
appliance config under `.demo/`, runs `canvass-edge run` on it and prints
where the recordings are and the appliance's status every few seconds.
Ctrl-C (or `--seconds`) stops the agent gracefully (open segments are
closed and hashed), then the cameras.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path

from sim.process import CameraProcess

REPO = Path(__file__).resolve().parents[1]
STATUS_EVERY_S = 15


def appliance_config(data_dir: Path, urls: list[str], *, max_bytes: int) -> str:
    lines = [
        "# Written by `python -m sim.demo`: a development appliance recording the simulated cameras.",
        "[appliance]",
        'id = "demo-appliance"',
        f'data_dir = "{data_dir}"',
        "",
        "[recording]",
        f"max_bytes = {max_bytes}  # the demo never takes more than this of your disk",
    ]
    for n, url in enumerate(urls, start=1):
        lines += ["", "[[cameras]]", f'name = "cam{n}"', f'url = "{url}"']
    return "\n".join(lines) + "\n"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sim.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=REPO / ".demo", help="where config, logs and recordings go")
    parser.add_argument("--cameras", type=int, choices=range(1, 5), default=4, metavar="1-4")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long (default: until Ctrl-C)")
    parser.add_argument("--max-gb", type=float, default=2.0, help="disk budget for the demo's recordings")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    root: Path = args.dir.resolve()
    root.mkdir(parents=True, exist_ok=True)
    stopping = False

    def request_stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    print(f"demo: starting {args.cameras} simulated cameras (the first run encodes their clips, ~10 s each)", flush=True)
    cameras = CameraProcess(count=args.cameras, cache_dir=REPO / ".cache" / "sim", log_path=root / "cameras.log")
    cameras.start()
    agent: subprocess.Popen | None = None
    try:
        config = root / "edge.toml"
        config.write_text(appliance_config(root / "data", cameras.urls, max_bytes=int(args.max_gb * 1e9)))
        with open(root / "edge.log", "ab") as log:
            agent = subprocess.Popen(
                [sys.executable, "-m", "edge.cli", "run", "--config", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        for url in cameras.urls:
            print(f"demo: camera {url}")
        print(f"demo: appliance recording to {root / 'data' / 'recordings'} (log: {root / 'edge.log'})")
        print(f"demo: status:   .venv/bin/canvass-edge status --config {config}")
        print(f"demo: segments: .venv/bin/canvass-edge segments --config {config} --camera cam1")
        print("demo: Ctrl-C stops the appliance (open segments are closed and hashed) and the cameras", flush=True)
        started = time.monotonic()
        next_status = started + 5
        while not stopping and agent.poll() is None:
            if args.seconds is not None and time.monotonic() - started >= args.seconds:
                break
            if time.monotonic() >= next_status:
                subprocess.run([sys.executable, "-m", "edge.cli", "status", "--config", str(config)], check=False)
                next_status += STATUS_EVERY_S
            time.sleep(0.2)
        if agent.poll() is not None:
            print(f"demo: the appliance exited with {agent.returncode}; see {root / 'edge.log'}", file=sys.stderr)
            return 1
        agent.terminate()
        code = agent.wait(30)
        subprocess.run([sys.executable, "-m", "edge.cli", "status", "--config", str(config)], check=False)
        print(f"demo: stopped (appliance exit code {code}); recordings are in {root / 'data' / 'recordings'}")
        return code
    finally:
        if agent is not None and agent.poll() is None:
            agent.kill()
        cameras.close()


if __name__ == "__main__":
    sys.exit(main())
