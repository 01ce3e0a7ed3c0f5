"""The playback track's controls against a frame read in flight: a pause or a speed change that comes while the
next frame is being read from disk applies to that frame too (found as one frame leaking after a pause, and a
non-keyframe at 16x, on a loaded machine)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from edge.streaming.playback import Frame, PlaybackTrack

START_US = 1_000_000_000


class GatedFootage:
    """Footage whose frames (a keyframe, then P-frames `spacing_us` apart) are handed out one per `gate`
    release."""

    def __init__(self, count: int = 6, spacing_us: int = 1_000_000) -> None:
        self.start_us = START_US
        self.gate = threading.Semaphore(1)  # the first frame is free
        self.frames_list = [Frame(b"\x00\x00\x00\x01" + bytes([n]), START_US + n * spacing_us, keyframe=n == 0)
                            for n in range(count)]

    def frames(self):
        for frame in self.frames_list:
            if not self.gate.acquire(timeout=10):
                return
            yield frame


async def _reading(track: PlaybackTrack, footage: GatedFootage) -> asyncio.Task:
    """recv() started and blocked reading the next frame from `footage`."""
    task = asyncio.ensure_future(track.recv())
    await asyncio.sleep(0.05)  # let it reach the read, which waits on the gate
    assert not task.done()
    return task


@pytest.mark.timeout(60)
def test_a_pause_during_a_read_holds_that_frame_until_resume():
    async def scenario():
        footage = GatedFootage(spacing_us=66_667)  # 15 fps: the frame is due by the time its read ends
        track = PlaybackTrack(footage)
        await track.recv()  # the keyframe
        sent = track.position_us
        task = await _reading(track, footage)
        track.pause()
        footage.gate.release()  # the read finishes after the pause
        done, _ = await asyncio.wait({task}, timeout=0.5)
        assert not done and track.position_us == sent, "a frame went out after the pause"
        track.resume()
        await asyncio.wait_for(task, 5)
        assert track.position_us == footage.frames_list[1].at_us  # nothing skipped either
        track.stop()

    asyncio.run(scenario())


@pytest.mark.timeout(60)
def test_a_speed_above_4x_while_a_frame_waits_drops_that_non_keyframe():
    async def scenario():
        footage = GatedFootage(count=3)
        footage.frames_list.append(Frame(b"\x00\x00\x00\x01\x65", START_US + 3 * 1_000_000, keyframe=True))
        track = PlaybackTrack(footage)
        await track.recv()
        task = await _reading(track, footage)
        footage.gate.release()
        await asyncio.sleep(0.02)  # the P-frame is read and waits for its time (1 s at 1x)
        assert not task.done()
        track.set_speed(16)
        for _ in range(2):
            footage.gate.release()
        await asyncio.wait_for(task, 5)
        assert track.position_us == footage.frames_list[3].at_us  # the next keyframe, the P-frames dropped
        track.stop()

    asyncio.run(scenario())
