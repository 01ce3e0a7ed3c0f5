"""Privacy mask rasterization and painting (edge.streaming.masks), on plain arrays and frames."""

from __future__ import annotations

import av
import numpy as np
import pytest

from edge.streaming.masks import BLACK_Y, NEUTRAL_C, MaskPainter, rasterize

LEFT_HALF = [(0, 0), (0.5, 0), (0.5, 1), (0, 1)]


def test_a_rectangle_covers_exactly_its_pixels():
    covered = rasterize([LEFT_HALF], 8, 4)
    assert covered[:, :4].all() and not covered[:, 4:].any()


@pytest.mark.parametrize("size", [(1920, 1080), (641, 359)])
def test_a_triangle_covers_its_area(size):
    width, height = size
    covered = rasterize([[(0.1, 0.1), (0.9, 0.1), (0.5, 0.9)]], width, height)
    assert covered.mean() == pytest.approx(0.32, abs=0.005)
    assert not covered[0].any() and not covered[-1].any()


def test_overlapping_polygons_are_a_union_and_a_concave_one_keeps_its_notch():
    square = [(0.2, 0.2), (0.6, 0.2), (0.6, 0.6), (0.2, 0.6)]
    shifted = [(0.4, 0.4), (0.8, 0.4), (0.8, 0.8), (0.4, 0.8)]
    union = rasterize([square, shifted], 100, 100)
    assert union.sum() == 40 * 40 * 2 - 20 * 20
    notched = rasterize([[(0, 0), (1, 0), (1, 1), (0.5, 0.5), (0, 1)]], 100, 100)
    assert not notched[90, 50] and notched[90, 5] and notched[10, 50]


def test_painting_blacks_out_every_plane_and_keeps_the_timing():
    planes = np.full((360 * 3 // 2, 640), 200, dtype=np.uint8)
    frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
    frame.pts = 1234
    painted = MaskPainter([LEFT_HALF]).paint(frame)
    assert painted.pts == 1234
    out = painted.to_ndarray()
    y, u = out[:360], out[360:360 + 90].reshape(180, 320)
    assert (y[:, :320] == BLACK_Y).all() and (y[:, 320:] == 200).all()
    assert (u[:, :160] == NEUTRAL_C).all() and (u[:, 160:] == 200).all()
    assert (frame.to_ndarray() == 200).all(), "the decoder's own frame was changed"


def test_other_pixel_formats_and_odd_sizes_are_converted_first():
    frame = av.VideoFrame.from_ndarray(np.full((99, 101, 3), 255, dtype=np.uint8), format="rgb24")
    painted = MaskPainter([LEFT_HALF]).paint(frame)
    assert (painted.width, painted.height, painted.format.name) == (102, 100, "yuv420p")
    assert painted.to_ndarray()[:100, :40].max() == BLACK_Y
