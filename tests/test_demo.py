"""The README's main job: `python -m sim.demo` brings up hub, broker, cameras and an enrolled appliance."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_demo_runs_the_whole_stack(tmp_path: Path):
    done = subprocess.run([sys.executable, "-m", "sim.demo", "--dir", str(tmp_path / "demo"), "--cameras", "2",
                           "--seconds", "25"], capture_output=True, text=True, cwd=REPO, timeout=300)
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    assert re.search(r"demo: hub http://127\.0\.0\.1:\d+", out)
    for user in ("owner", "analyst", "auditor"):  # each kind of user has a sign-in, and their page is named
        assert f"sign in as '{user}' with password" in out
    assert "demo: auditor's console http://127.0.0.1:" in out and "/transparency" in out
    assert "demo: owner's access log and alerts http://127.0.0.1:" in out
    assert "demo: analyst page http://127.0.0.1:" in out
    # The owner's passkey flow: the console at localhost (WebAuthn needs a host name) and a code from the box.
    assert re.search(r"demo: owner console http://localhost:\d+/owner .*the code [A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}",
                     out)
    assert "sign in as 'owner' with password" in out
    assert "enrolled as dev-" in out
    # The hub's map shows both cameras recording, placed by the owner near the demo site.
    map_lines = [line for line in out.splitlines() if "the hub's map near the bakery" in line]
    assert any("cam1 recording (0 m)" in line and "cam2 recording (22 m)" in line for line in map_lines), map_lines
    assert list((tmp_path / "demo" / "data" / "recordings" / "cam1").rglob("*.mp4"))
