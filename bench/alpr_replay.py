"""Plate reading on the simulator's clips without an agent: the reader's accuracy whatever the machine's load.

Each camera's clip is decoded here (PyAV) and the agent's own reader
(`edge.alpr.service.PlateReader.analyse`: the same backend, tracker, second
look and read store) is given every frame the agent would analyse when it
keeps up: one frame every 1/`analysis_fps` s while something moves (only the
region that moved, as `edge.alpr.frames` cuts it) or while a plate is being
tracked (the whole frame). Reads are scored as `bench/alpr_video.py` scores
the agent's. Run through `bench/alpr_video.py --replay`.
"""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import av

from bench.alpr_video import CACHE, SAME_PLATE_S, score_camera
from edge.alpr.backends import make_backend, make_second_opinion
from edge.alpr.frames import MOTION_SIZE, AnalysisFrame, bgr_region, motion, region_of
from edge.alpr.reads import ReadStore
from edge.alpr.registry import ModelStore, default_model_dir
from edge.alpr.service import PlateReader
from edge.config import AlprConfig
from sim.clip import ClipSpec, prepare_clip
from sim.truth import merge_repeats, passes_between


def replay_clip(path: Path, fps: int, camera: str, reader: PlateReader, config: AlprConfig) -> int:
    """Give `reader` the frames of one pass through the clip the agent would analyse; the count analysed.
    (The reader's clock must say the clip's end: `stop` then closes the tracks still open.)"""
    step_us, last_us, reference, analysed = int(1e6 / config.analysis_fps), -10**12, None, 0
    with av.open(str(path), format="h264") as container:
        for index, frame in enumerate(container.decode(video=0)):
            wall_us = int(index * 1e6 / fps)
            if wall_us - last_us < step_us:
                continue
            small = frame.reformat(width=MOTION_SIZE[0], height=MOTION_SIZE[1], format="gray").to_ndarray()
            change = motion(reference, small)
            reference = small
            moved = change.fraction >= config.motion_threshold
            tracked = reader.tracked_boxes(camera)
            if not (moved or tracked):
                continue
            region = region_of(change.box if moved else None, MOTION_SIZE, (frame.width, frame.height), keep=tracked)
            reader.analyse(AnalysisFrame(camera, wall_us, bgr_region(frame, region), (region[0], region[1]),
                                         moving=moved))
            last_us, analysed = wall_us, analysed + 1
    return analysed


def replay_cameras(specs: list[ClipSpec], labels: list[str] | None, backend: str, model_dir: str | None, *,
                   region_rules: bool = False, second_opinion: bool = True) -> dict:
    """Every camera's clip once through the reader; per camera: the score, frames analysed, CPU per frame."""
    config = AlprConfig(backend=backend, model_dir=Path(model_dir) if model_dir else None, second_opinion=second_opinion)
    models = ModelStore(config.model_dir or default_model_dir())
    video, careful = make_backend(backend, models, video=True), make_backend(backend, models, video=False)
    opinion = make_second_opinion(backend, models) if second_opinion else None
    cameras, cpu_ms = {}, []
    with tempfile.TemporaryDirectory(prefix="canvass-bench-replay-") as tmp:
        store = ReadStore(Path(tmp) / "reads.sqlite3", Path(tmp) / "thumbnails")
        for n, spec in enumerate(specs, start=1):
            camera = f"cam{n}"
            label = (labels or [])[n - 1] if labels and n <= len(labels) else None
            if region_rules and label in ("us", "eu", "br"):  # a box knows its country, as the photo bench does
                config = AlprConfig(backend=backend, model_dir=config.model_dir, region=label,
                                    second_opinion=second_opinion)
            clip = prepare_clip(spec, camera, CACHE)
            end_s = clip.truth.n_frames / clip.truth.fps + 60
            reader = PlateReader(config, store, clock=lambda end_s=end_s: end_s, backend=video, careful_backend=careful,
                                 second_opinion=opinion)
            started = time.process_time()
            analysed = replay_clip(clip.path, spec.fps, camera, reader, config)
            reader.stop()
            cpu_s = time.process_time() - started
            nearby = merge_repeats(passes_between(clip.truth, 0, end_s - 60), SAME_PLATE_S)
            reads = [r.to_json() for r in store.query(camera=camera)]
            cameras[camera] = {**score_camera(camera, nearby, reads, nearby), "analysed_frames": analysed,
                               "cpu_s": round(cpu_s, 1)}
            cpu_ms.append(1000 * cpu_s / max(1, analysed))
        store.close()
    passes = sum(c["passes"] for c in cameras.values())
    right = sum(c["read_once_right"] for c in cameras.values())
    reads = sum(c["reads"] for c in cameras.values())
    unmatched = sum(len(c["reads_matching_no_pass"]) for c in cameras.values())
    of_no_plate = sum(len(c["reads_of_no_plate"]) for c in cameras.values())
    return {
        "bench": "alpr_video --replay", "scene": specs[0].scene, "backend": backend, "region_rules": region_rules,
        "second_opinion": opinion is not None,
        "camera_labels": labels or list(cameras), "passes": passes, "passes_read_once_right": right,
        "share_read_once_right": round(right / max(1, passes), 3), "reads": reads,
        "share_reads_matching_no_pass": round(unmatched / max(1, reads), 3),
        "share_reads_of_no_plate": round(of_no_plate / max(1, reads), 3),
        "share_read_once_right_per_camera": {
            label: c["share_read_once_right"] for label, c in zip(labels or cameras, cameras.values(), strict=True)},
        "cpu_ms_per_analysed_frame_median_of_cameras": round(statistics.median(cpu_ms), 1),
        "per_camera": cameras,
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.processor() or platform.platform()}",
    }
