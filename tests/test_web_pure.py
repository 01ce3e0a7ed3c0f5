"""The web front end's pure code (CSV rows, server-sent events, statuses, purposes, times) passes its own
tests under node's test runner (`npm test` in hub/web: hub/web/tests/pure.test.ts)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[1] / "hub" / "web"


def test_the_front_ends_pure_code_passes_its_tests():
    npm = shutil.which("npm")
    if npm is None or not (WEB / "node_modules").is_dir():
        pytest.fail("npm or hub/web/node_modules missing: run scripts/setup.sh (it installs them)")
    run = subprocess.run([npm, "test"], cwd=WEB, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "# fail 0" in run.stdout and "# pass 0" not in run.stdout
