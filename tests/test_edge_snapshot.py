"""The box's still for its owner's mask editor: a JPEG no wider than asked and no larger than the wire allows,
a clear refusal when there is no picture, and the wire refusing anything that is not a bounded JPEG."""

from __future__ import annotations

import base64
import datetime as dt
import io

import av
import numpy as np
import pytest
from PIL import Image

from edge.streaming.snapshot import SnapshotError, Snapshots, decode_keyframe, jpeg_of
from wire import messages as m


def _noise_frame(width: int = 1920, height: int = 1080) -> av.VideoFrame:
    rng = np.random.default_rng(7)  # noise compresses badly: the hardest picture to fit
    return av.VideoFrame.from_ndarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), format="rgb24")


def test_the_still_is_scaled_down_and_its_quality_steps_down_until_it_fits():
    jpeg, width, height = jpeg_of(_noise_frame(), max_width=960)
    assert (width, height) == (960, 540) and len(jpeg) <= m.MAX_SNAPSHOT_BYTES
    assert Image.open(io.BytesIO(jpeg)).size == (960, 540)
    roomy, _, _ = jpeg_of(_noise_frame(), max_width=960, max_bytes=10 * m.MAX_SNAPSHOT_BYTES)
    assert len(roomy) > len(jpeg)  # with room to spare it keeps the higher quality
    with pytest.raises(SnapshotError, match="does not fit"):
        jpeg_of(_noise_frame(), max_width=1920, max_bytes=20_000)


def test_no_picture_and_no_camera_are_said_plainly():
    with pytest.raises(SnapshotError, match="no picture yet"):
        decode_keyframe([])
    with pytest.raises(SnapshotError, match="no camera named back"):
        Snapshots(lambda name: None).take(m.SnapshotRequest(camera="back"))


@pytest.mark.parametrize("data, problem", [(b"GIF89a" + b"\0" * 10, "not a JPEG"),
                                           (b"\xff\xd8\xff" + b"\0" * m.MAX_SNAPSHOT_BYTES, "at most|larger than")])
def test_the_wire_takes_only_a_bounded_jpeg(data: bytes, problem: str):
    body = {"kind": "camera.snapshot_taken", "camera": "front", "taken_at": dt.datetime.now(dt.timezone.utc),
            "width": 10, "height": 10, "jpeg": base64.b64encode(data).decode()}
    with pytest.raises(ValueError, match=problem):
        m.SnapshotTaken.model_validate(body)
