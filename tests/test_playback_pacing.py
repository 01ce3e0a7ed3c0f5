"""When recorded frames go out (edge.streaming.playback.Pacer): pure, given the time; no clock is read here."""

from __future__ import annotations

import pytest

from edge.streaming.playback import BEHIND_S, PRE_ROLL_PACE_S, Pacer

FRAME_US = 66_667  # 15 fps
T0 = 1_700_000_000_000_000


def play(pacer: Pacer, frames: list[tuple[int, bool]], start: float = 100.0) -> list[float]:
    """Send every frame when it is due (the sender never runs late); the release times."""
    now, released = start, []
    for at_us, after_gap in frames:
        now = pacer.due(at_us, now, after_gap=after_gap)
        pacer.sent(at_us, now, after_gap=after_gap)
        released.append(now)
    return released


def steps(times: list[float]) -> list[float]:
    return [round(b - a, 4) for a, b in zip(times, times[1:])]


def test_pre_roll_goes_quickly_then_recorded_pace():
    target = T0 + 5 * FRAME_US  # a keyframe at T0, the asked moment five frames later
    times = play(Pacer(target), [(T0 + n * FRAME_US, False) for n in range(10)])
    assert steps(times)[:5] == [PRE_ROLL_PACE_S] * 5
    assert steps(times)[5:] == [pytest.approx(FRAME_US / 1e6, abs=1e-4)] * 4


@pytest.mark.parametrize("speed", [0.5, 2.0, 4.0])
def test_speed_divides_the_recorded_spacing(speed: float):
    times = play(Pacer(T0, speed), [(T0 + n * FRAME_US, False) for n in range(6)])
    assert steps(times)[1:] == [pytest.approx(FRAME_US / 1e6 / speed, abs=1e-4)] * 4


def test_a_gap_in_the_recording_is_skipped_not_waited_through():
    frames = [(T0 + n * FRAME_US, False) for n in range(3)] + [(T0 + 3600_000_000, True), (T0 + 3600_066_667, False)]
    times = play(Pacer(T0), frames)
    assert steps(times)[2] == PRE_ROLL_PACE_S  # an hour of nothing took one pre-roll step
    assert steps(times)[3] == pytest.approx(FRAME_US / 1e6, abs=1e-4)  # and the pace resumes after it


def test_falling_behind_re_anchors_instead_of_bursting():
    pacer = Pacer(T0)
    play(pacer, [(T0 + n * FRAME_US, False) for n in range(3)])
    late = 100.0 + 2 * FRAME_US / 1e6 + 5.0  # the reader waited 5 s for the recorder
    assert pacer.due(T0 + 3 * FRAME_US, late) == late
    pacer.sent(T0 + 3 * FRAME_US, late)
    assert pacer.due(T0 + 4 * FRAME_US, late) == pytest.approx(late + FRAME_US / 1e6)


def test_slightly_late_frames_keep_the_schedule():
    pacer = Pacer(T0)
    play(pacer, [(T0, False), (T0 + FRAME_US, False)])
    scheduled = 100.0 + 2 * FRAME_US / 1e6
    now = scheduled + BEHIND_S / 2
    assert pacer.due(T0 + 2 * FRAME_US, now) == now  # due already: at once
    pacer.sent(T0 + 2 * FRAME_US, now)
    assert pacer.due(T0 + 3 * FRAME_US, now) == now  # catching up, within BEHIND_S
    assert pacer.due(T0 + 12 * FRAME_US, now) == pytest.approx(100.0 + 12 * FRAME_US / 1e6)  # the schedule held


def test_resume_and_speed_change_start_a_new_pace_from_now():
    pacer = Pacer(T0)
    play(pacer, [(T0 + n * FRAME_US, False) for n in range(3)])
    pacer.pause()
    assert pacer.paused
    pacer.resume()
    later = 500.0
    assert pacer.due(T0 + 3 * FRAME_US, later) == later  # not a burst for the time spent paused
    pacer.sent(T0 + 3 * FRAME_US, later)
    pacer.set_speed(2.0)
    assert pacer.due(T0 + 4 * FRAME_US, later) == pytest.approx(later + PRE_ROLL_PACE_S)
    pacer.sent(T0 + 4 * FRAME_US, later + PRE_ROLL_PACE_S)
    assert pacer.due(T0 + 5 * FRAME_US, later) == pytest.approx(later + PRE_ROLL_PACE_S + FRAME_US / 2e6)


def test_seek_pre_rolls_to_the_new_target():
    pacer = Pacer(T0)
    play(pacer, [(T0 + n * FRAME_US, False) for n in range(3)])
    pacer.seek(T0 + 60_000_000)
    now = 200.0
    assert pacer.due(T0 + 59_500_000, now) == pytest.approx(max(now, 100.0 + 2 * FRAME_US / 1e6 + PRE_ROLL_PACE_S))
