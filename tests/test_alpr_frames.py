"""Frames for analysis: motion, the moving region, converting only that region, the newest-frame slot."""

from __future__ import annotations

import av
import numpy as np

from edge.alpr.frames import MIN_REGION, AnalysisFrame, FrameSlot, bgr_region, motion, region_of


def test_motion_finds_what_changed_and_where() -> None:
    still = np.full((90, 160), 100, np.uint8)
    assert motion(None, still).fraction == 1.0  # nothing to compare: treat as motion
    assert motion(still, still.copy()).fraction == 0.0 and motion(still, still.copy()).box is None
    moved = still.copy()
    moved[40:50, 20:60] = 200
    change = motion(still, moved)
    assert change.box == (20, 40, 40, 10)
    assert change.fraction == 400 / still.size
    noisy = still + np.random.default_rng(1).integers(-10, 10, still.shape).astype(np.uint8)  # sensor noise
    assert motion(still, noisy).fraction == 0.0


def test_region_is_scaled_grown_clamped_and_even() -> None:
    x, y, w, h = region_of((20, 40, 40, 10), (160, 90), (1920, 1080))
    assert (x % 2, y % 2, w % 2, h % 2) == (0, 0, 0, 0)
    assert x <= 240 and x + w >= 720 and y <= 480 and y + h >= 600  # covers the change
    assert w >= MIN_REGION and h >= MIN_REGION
    assert region_of((150, 80, 10, 10), (160, 90), (1920, 1080))[0] + region_of((150, 80, 10, 10), (160, 90),
                                                                                (1920, 1080))[2] <= 1920
    assert region_of(None, (160, 90), (1920, 1080)) == (0, 0, 1920, 1080)


def test_only_the_region_is_converted_and_it_matches_the_whole_frame() -> None:
    rng = np.random.default_rng(2)
    picture = rng.integers(0, 255, (360, 640, 3), dtype=np.uint8)
    frame = av.VideoFrame.from_ndarray(picture, format="bgr24").reformat(format="yuv420p")
    whole = frame.to_ndarray(format="bgr24")
    for region in ((100, 50, 320, 200), (0, 0, 640, 360), (318, 158, 322, 202)):
        x, y, w, h = region
        part = bgr_region(frame, region)
        assert part.shape == (h, w, 3)
        assert np.abs(part.astype(int) - whole[y:y + h, x:x + w].astype(int)).mean() < 3


def test_the_slot_keeps_the_newest_frame_per_camera_and_counts_drops() -> None:
    slot = FrameSlot()
    image = np.zeros((2, 2, 3), np.uint8)
    for n in range(3):
        slot.put(AnalysisFrame("cam1", n, image))
    slot.put(AnalysisFrame("cam2", 10, image))
    assert slot.dropped == {"cam1": 2}
    first = slot.take(["cam2", "cam1"], timeout=0)
    second = slot.take(["cam2", "cam1"], timeout=0)
    assert (first.camera, second.camera, second.wall_us) == ("cam2", "cam1", 2)
    assert slot.take(["cam1", "cam2"], timeout=0.01) is None


def test_a_plate_being_tracked_stays_in_the_region_while_something_else_moves() -> None:
    """A car stopped at the barrier (its plate at x 1400-1600) while a pedestrian moves at the left: the region
    analysed holds the pedestrian and the plate with one plate width around it, not the pedestrian alone."""
    pedestrian, plate = (10, 30, 10, 20), (1400, 700, 200, 50)
    alone = region_of(pedestrian, (160, 90), (1920, 1080))
    assert alone[0] + alone[2] < plate[0], "without it the plate is cut out"
    x, y, w, h = region_of(pedestrian, (160, 90), (1920, 1080), keep=[plate])
    assert x <= alone[0] and y <= alone[1], "still holds what moved"
    assert x + w >= 1700 - 2 and y <= 625 - 0 and y + h >= 925 - 2, "the plate and a plate width around it"
    assert (x % 2, y % 2, w % 2, h % 2) == (0, 0, 0, 0) and x + w <= 1920 and y + h <= 1080
    assert region_of(None, (160, 90), (1920, 1080), keep=[plate]) == (0, 0, 1920, 1080)
