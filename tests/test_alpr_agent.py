"""The agent reads plates from real simulated cameras while it records: one read per pass, right text.

Three cameras: the street (cars cross one at a time), the queue (cars pull up to one spot one after another,
0-3 s apart: tracking by place alone merges them) and the real-photo camera (real photos of cars from three
regions, each zooming toward its plate for 3 s, the next car at the same spot right after)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from edge.alpr.registry import ModelStore
from sim.process import CameraProcess
from sim.truth import CameraTruth, SeenRead, WallPass, attribute_reads, merge_repeats, passes_between
from tests.alpr_support import FAST_MODEL_FILES, SHARED_MODELS, readable_photo_set, shared_alpr_data, shared_models
from tests.edge_support import EdgeProcess, config_text, wait_for

TOLERANCE_S = 1.5  # the box's frame times trail the simulator's clock by the stream's latency
SAME_PLATE_S = 10.0  # the agent's default same_plate_window_s


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _alpr_section(tmp_path: Path) -> str:
    """The fast backend when this machine has its models (installed like a box would), else the offline one."""
    if all((SHARED_MODELS / name).is_file() for name in FAST_MODEL_FILES):
        model_dir = tmp_path / "models"
        ModelStore(model_dir).install_from(SHARED_MODELS)
        return f'[alpr]\nbackend = "fast"\nmodel_dir = "{model_dir}"\n'
    return '[alpr]\nbackend = "offline"\n'


@dataclass
class Watched:
    reads: list[dict]
    inside: list[WallPass]  # the passes wholly inside the watched time
    nearby: list[WallPass]  # and those cut by its edges
    log: str


def watch(sim: CameraProcess, tmp_path: Path, seconds: float, *, substream: bool = False) -> Watched:
    """Run the agent with plate reading on the first camera of `sim` for `seconds`; its reads and the truth."""
    agent = EdgeProcess(tmp_path / "edge", sim.urls[:1])
    text = config_text(agent.data_dir, sim.urls[:1], segment_seconds=10)
    if substream:
        text = text.replace(f'url = "{sim.urls[0]}"', f'url = "{sim.urls[0]}"\nsubstream_url = "{sim.urls[0]}"')
    agent.config.write_text(text + _alpr_section(tmp_path))
    agent.start()
    try:
        wait_for(lambda: b"plate reading started" in agent.log.read_bytes(), timeout=60, what="plate reading")
        started = time.time()
        time.sleep(seconds)
        ended = time.time()
    finally:
        assert agent.terminate() == 0
    reads = json.loads(subprocess.run([sys.executable, "-m", "edge.cli", "reads", "--config", str(agent.config),
                                       "--json"], check=True, capture_output=True, text=True).stdout)
    truth: CameraTruth = sim.truths[0]
    nearby = merge_repeats(passes_between(truth, started - 60, ended + 60), SAME_PLATE_S)
    inside = [p for p in nearby if p.t_first >= started and p.t_last <= ended - TOLERANCE_S]
    return Watched(reads, inside, nearby, agent.log.read_text())


def assert_every_pass_read_once_right(watched: Watched) -> None:
    seen = [SeenRead(r["id"], r["text"], _seconds(r["first_seen"]), _seconds(r["last_seen"])) for r in watched.reads]
    given, unmatched = attribute_reads(watched.nearby, seen, tolerance_s=TOLERANCE_S)
    by_pass = dict(zip(watched.nearby, given, strict=True))
    wrong = {p.plate: [r.text for r in by_pass[p]] for p in watched.inside if [r.text for r in by_pass[p]] != [p.plate]}
    assert not wrong, f"passes not read exactly once right (plate: reads): {wrong}"
    assert not unmatched, f"reads of no pass: {[r.text for r in unmatched]}"
    thumbnails = {r["id"]: r["thumbnail"] for r in watched.reads}
    for p in watched.inside:
        assert Path(thumbnails[by_pass[p][0].id]).read_bytes()[:2] == b"\xff\xd8"
    assert "camera cam1: recorder queue dropped 0 packets" in watched.log
    assert "plate reading cam1:" in watched.log


@pytest.mark.parametrize("substream", [False, True], ids=["main-stream", "substream"])
def test_every_pass_is_read_once_with_the_right_text_while_recording(cameras, tmp_path: Path, substream: bool) -> None:
    """With `substream_url` the reader uses its own connection to it (here the same simulated stream)."""
    watched = watch(cameras(count=1), tmp_path, 26, substream=substream)  # four passes at least (one every 6 s)
    assert len(watched.inside) >= 3
    assert_every_pass_read_once_right(watched)
    assert ("camera cam1 substream: online" in watched.log) == substream


@pytest.mark.slow
def test_cars_stopping_at_one_spot_one_after_another_are_each_read_once(sim_cache: Path, tmp_path: Path) -> None:
    """The queue scene: each car pulls up from behind the one before and stops where it stood, 0-3 s after it
    started to leave (tracking by place alone reads two cars as one)."""
    with CameraProcess(count=1, cache_dir=sim_cache, extra_args=["--scene", "queue"]) as sim:
        watched = watch(sim, tmp_path, 30)
    assert len(watched.inside) >= 3
    assert_every_pass_read_once_right(watched)


@pytest.mark.slow
def test_real_photos_one_car_after_another_are_each_read_once(sim_cache: Path, tmp_path: Path) -> None:
    """The real-photo camera, three photos from each region whose plate the still-photo path reads right on the
    last frame of its zoom (and in which it reads no other text), interleaved, each car right after the last:
    the video path must read each of those plates once, right."""
    shared_alpr_data()
    from edge.alpr.backends import make_backend

    models = ModelStore(tmp_path / "models")
    models.install_from(shared_models())
    photos = readable_photo_set(sim_cache / "photos-agent-test", ("us", "eu", "br"), 3,
                                make_backend("fast", models, video=True))
    with CameraProcess(count=1, cache_dir=sim_cache, extra_args=["--scene", "photos", "--photos", str(photos)]) as sim:
        loop_s = sim.truths[0].n_frames / sim.truths[0].fps
        watched = watch(sim, tmp_path, loop_s + 6)  # a whole pass (3 s) inside, with the 1.5 s tolerance
    assert {p.plate for p in watched.inside} == {p.plate for p in sim.truths[0].passes}
    assert_every_pass_read_once_right(watched)
