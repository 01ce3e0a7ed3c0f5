"""The agent reads plates from a real simulated camera while it records: one read per pass, right text."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from edge.alpr.registry import ModelStore
from sim.truth import passes_between
from tests.alpr_support import FAST_MODEL_FILES, SHARED_MODELS
from tests.edge_support import EdgeProcess, config_text, wait_for

TOLERANCE_S = 1.5


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _alpr_section(tmp_path: Path) -> str:
    """The fast backend when this machine has its models (installed like a box would), else the offline one."""
    if all((SHARED_MODELS / name).is_file() for name in FAST_MODEL_FILES):
        model_dir = tmp_path / "models"
        ModelStore(model_dir).install_from(SHARED_MODELS)
        return f'[alpr]\nbackend = "fast"\nmodel_dir = "{model_dir}"\n'
    return '[alpr]\nbackend = "offline"\n'


@pytest.mark.parametrize("substream", [False, True], ids=["main-stream", "substream"])
def test_every_pass_is_read_once_with_the_right_text_while_recording(cameras, tmp_path: Path, substream: bool) -> None:
    """With `substream_url` the reader uses its own connection to it (here the same simulated stream)."""
    sim = cameras(count=1)
    agent = EdgeProcess(tmp_path / "edge", sim.urls)
    text = config_text(agent.data_dir, sim.urls, segment_seconds=10)
    if substream:
        text = text.replace(f'url = "{sim.urls[0]}"', f'url = "{sim.urls[0]}"\nsubstream_url = "{sim.urls[0]}"')
    agent.config.write_text(text + _alpr_section(tmp_path))
    agent.start()
    try:
        wait_for(lambda: b"plate reading started" in agent.log.read_bytes(), timeout=60, what="plate reading")
        started = time.time()
        time.sleep(26)  # four passes at least (one every 6 s)
        ended = time.time()
    finally:
        assert agent.terminate() == 0
    reads = json.loads(subprocess.run([sys.executable, "-m", "edge.cli", "reads", "--config", str(agent.config),
                                       "--json"], check=True, capture_output=True, text=True).stdout)
    truth = sim.truths[0]
    inside = [p for p in passes_between(truth, started, ended - TOLERANCE_S) if p.t_first >= started]
    assert len(inside) >= 3
    for plate_pass in inside:
        overlapping = [r for r in reads if _seconds(r["first_seen"]) < plate_pass.t_last + TOLERANCE_S
                       and _seconds(r["last_seen"]) > plate_pass.t_first - TOLERANCE_S]
        assert [r["text"] for r in overlapping] == [plate_pass.plate], (plate_pass, reads)
        assert Path(overlapping[0]["thumbnail"]).read_bytes()[:2] == b"\xff\xd8"
    seen = {p.plate for p in passes_between(truth, started - 30, ended + 30)}
    assert {r["text"] for r in reads} <= seen, "no read of something that is not a passing plate"
    log = agent.log.read_text()
    assert "camera cam1: recorder queue dropped 0 packets" in log
    assert "plate reading cam1:" in log
    assert ("camera cam1 substream: online" in log) == substream
