"""The clip cutter's decisions on plain data (edge.clips.plan): windows, open segments, gaps, and the sentence
for a window with nothing in it."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.clips.cut import Timeline
from edge.clips.plan import ClipGap, check_window, closed_segments, gaps_inside, nothing_recorded, to_datetime, to_us
from edge.errors import ClipError, StillRecording
from edge.recording.index import Gap, Segment

T0 = 1_800_000_000_000_000
S = 1_000_000


def segment(start: int, end: int | None, state: str = "closed") -> Segment:
    return Segment(1, "cam1", start, end, 100, 30, f"cam1/{start}.mp4", None if end is None else "0" * 64, state)


@given(st.integers(min_value=0, max_value=4_102_444_800_000_000))
def test_microseconds_and_datetimes_convert_exactly(us: int):
    assert to_us(to_datetime(us)) == us


def test_a_naive_time_is_refused():
    with pytest.raises(ClipError, match="no time zone"):
        to_us(dt.datetime(2027, 1, 1))


def test_a_window_must_end_after_it_starts():
    check_window(T0, T0 + 1)
    for end in (T0, T0 - S):
        with pytest.raises(ClipError, match="ends .* at or before it starts"):
            check_window(T0, end)


def test_a_window_reaching_into_the_segment_being_written_is_refused_with_its_start():
    segments = [segment(T0, T0 + 2 * S), segment(T0 + 2 * S, None, "open")]
    assert closed_segments(segments, to_us=T0 + 2 * S) == segments[:1]  # ends where the open one begins
    with pytest.raises(StillRecording, match="still being recorded") as caught:
        closed_segments(segments, to_us=T0 + 2 * S + 1)
    assert caught.value.open_since_us == T0 + 2 * S


def test_recovered_segments_are_used_like_closed_ones():
    segments = [segment(T0, T0 + S, "recovered"), segment(T0 + S, T0 + 2 * S)]
    assert closed_segments(segments, to_us=T0 + 2 * S) == segments


def test_gaps_are_cut_to_the_window_and_a_running_gap_runs_to_its_end():
    gaps = [Gap(1, "cam1", T0 - 5 * S, T0 + S, "camera offline"),  # starts before the window
            Gap(2, "cam1", T0 + 3 * S, T0 + 4 * S, "not recording"),
            Gap(3, "cam1", T0 + 9 * S, None, "camera offline"),  # still open
            Gap(4, "cam1", T0 + 20 * S, T0 + 21 * S, "after the window")]
    extra = [ClipGap(T0 + 5 * S, T0 + 6 * S, "recorded segment changed since it was closed")]
    assert gaps_inside(gaps + extra, from_us=T0, to_us=T0 + 10 * S) == (
        ClipGap(T0, T0 + S, "camera offline"),
        ClipGap(T0 + 3 * S, T0 + 4 * S, "not recording"),
        ClipGap(T0 + 5 * S, T0 + 6 * S, "recorded segment changed since it was closed"),
        ClipGap(T0 + 9 * S, T0 + 10 * S, "camera offline"))


def test_nothing_recorded_says_what_was_recorded_nearest():
    before, after = segment(T0 - 10 * S, T0 - 5 * S), segment(T0 + 20 * S, T0 + 22 * S)
    text = nothing_recorded("cam1", T0, T0 + 10 * S, before, after)
    assert text == ("nothing of camera cam1 is recorded from 2027-01-15T08:00:00Z to 2027-01-15T08:00:10Z; the last "
                    "recording before it ended at 2027-01-15T07:59:55Z and recording resumed at 2027-01-15T08:00:20Z")
    assert nothing_recorded("cam1", T0, T0 + S, None, None).endswith("the camera has no recordings at all")
    assert nothing_recorded("cam1", T0, T0 + S, None, after).endswith("recording resumed at 2027-01-15T08:00:20Z")


def test_the_timeline_counts_from_the_first_frame_in_90_khz_ticks_and_ends_with_the_last_frames_end():
    timeline = Timeline()
    for n in range(3):
        timeline.note(T0 + n * 66_667, 66_667)
    timeline.note(T0 + 10 * S, 0)  # after a gap, with no duration: the last interval between frames
    assert timeline.first_us == T0 and timeline.frames == 4
    assert timeline.ticks(T0) == 0 and timeline.ticks(T0 + S) == 90_000 and timeline.ticks(T0 + 66_667) == 6_000
    assert timeline.end_us == T0 + 10 * S + 66_667
