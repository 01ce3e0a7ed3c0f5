"""The tracker: plates followed across frames, one consensus read per vehicle pass."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from edge.alpr.base import ALPHABET, CharGuess, PlateRead
from edge.alpr.tracker import PlateTracker, partial_read, settle_close, settled_share, vote


def read(text: str, x: int, *, y: int = 600, w: int = 200, confidence: float = 0.9, det: float = 0.8,
         crop_value: int = 0) -> PlateRead:
    h = w // 3
    corners = np.float32([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])
    chars = tuple(CharGuess(c, confidence) for c in text)
    crop = np.full((64, 128, 3), crop_value, np.uint8)
    return PlateRead(corners=corners, box=(x, y, w, h), detection_confidence=det, chars=chars, crop=crop)


def drive(tracker: PlateTracker, frames: list[tuple[float, list[PlateRead]]]) -> list:
    passes = []
    for at, reads in frames:
        passes += tracker.update(at, reads)
    return passes


def test_a_plate_crossing_the_view_is_read_once_by_vote() -> None:
    """A car crosses in 4 s at 5 analysed frames/s; 3 of 20 frames misread one character, 2 miss the plate."""
    tracker = PlateTracker()
    frames = []
    for i in range(20):
        at = 100 + i * 0.2
        text = "ABC1234" if i % 7 != 3 else "A8C1234"
        frames.append((at, [] if i in (9, 15) else [read(text, 40 + i * 90, crop_value=i)]))
    passes = drive(tracker, frames) + tracker.update(110.0, [])
    assert len(passes) == 1
    (result,) = passes
    assert result.text == "ABC1234"
    assert result.observations == 18
    assert result.first_seen == 100 and result.last_seen == 100 + 19 * 0.2
    assert 0.8 < result.confidence <= 1.0
    assert result.best_crop is not None


def test_two_cars_one_after_the_other_give_two_reads() -> None:
    tracker = PlateTracker()
    first = [(100 + i * 0.2, [read("ABC1234", 40 + i * 90)]) for i in range(15)]
    second = [(106 + i * 0.2, [read("XYZ9876", 40 + i * 90)]) for i in range(15)]
    passes = drive(tracker, first + second) + tracker.flush(120)
    assert [p.text for p in passes] == ["ABC1234", "XYZ9876"]


def test_two_cars_in_view_at_once_are_tracked_apart() -> None:
    tracker = PlateTracker()
    frames = [(100 + i * 0.2, [read("ABC1234", 40 + i * 60), read("XYZ9876", 1700 - i * 60, y=300)])
              for i in range(20)]
    passes = drive(tracker, frames) + tracker.flush(120)
    assert sorted(p.text for p in passes) == ["ABC1234", "XYZ9876"]


def test_a_track_broken_by_a_long_gap_is_not_read_twice() -> None:
    """The car stops behind a van for 3 s (longer than the gap that closes a track), then goes on."""
    tracker = PlateTracker(max_gap_s=1.5, repeat_window_s=10)
    before = [(100 + i * 0.2, [read("ABC1234", 40 + i * 50)]) for i in range(10)]
    after = [(105 + i * 0.2, [read("ABC1234", 600 + i * 50)]) for i in range(10)]
    passes = drive(tracker, before + after) + tracker.flush(120)
    assert [p.text for p in passes] == ["ABC1234"]


def test_a_single_frame_or_an_indecisive_vote_is_not_a_pass() -> None:
    tracker = PlateTracker(min_observations=2)
    assert drive(tracker, [(100, [read("ABC1234", 100)]), (105, [])]) == []
    # A sign read as a different string every time: no character wins half the vote.
    noise = ["0000000", "3207000", "C200000", "BK07700", "8207000"]
    frames = [(200 + i * 0.2, [read(text, 500, confidence=0.6)]) for i, text in enumerate(noise)]
    assert drive(tracker, frames) + tracker.flush(210) == []


def test_a_vote_resting_on_one_frame_of_its_length_is_not_a_pass() -> None:
    """Three frames at one place: one sure read of four characters, two unsure reads of other lengths. The vote
    takes the four characters (their weight wins), but one frame is not a pass; two such frames are."""
    tracker = PlateTracker(min_observations=2)
    once = [(100.0, [read("RK61", 500, confidence=0.99)]), (100.2, [read("RK73SAS", 500, confidence=0.2)]),
            (100.4, [read("K735AS", 500, confidence=0.15)])]
    assert drive(tracker, once) + tracker.flush(110) == []
    twice = [(200.0, [read("RK61", 500, confidence=0.99)]), (200.2, [read("RK61", 500, confidence=0.98)]),
             (200.4, [read("K735AS", 500, confidence=0.15)])]
    assert [p.text for p in drive(tracker, twice) + tracker.flush(210)] == ["RK61"]


def test_vote_uses_probabilities_and_confidence() -> None:
    def with_probs(text: str, weights: dict[int, dict[str, float]], det: float) -> PlateRead:
        chars = []
        for i, c in enumerate(text):
            vector = [0.0] * len(ALPHABET)
            for symbol, p in weights.get(i, {c: 1.0}).items():
                vector[ALPHABET.index(symbol)] = p
            chars.append(CharGuess(c, max(vector), tuple(vector)))
        base = read(text, 0, det=det)
        return PlateRead(base.corners, base.box, det, tuple(chars), base.crop)

    # Two weak reads say 0, one strong read says O: the strong one wins the position.
    reads = [with_probs("AB0", {2: {"0": 0.55, "O": 0.45}}, 0.3), with_probs("AB0", {2: {"0": 0.55, "O": 0.45}}, 0.3),
             with_probs("ABO", {2: {"O": 0.99}}, 0.9)]
    result = vote(reads)
    assert "".join(c.char for c in result) == "ABO"
    # Reads of the wrong length are outvoted as a whole.
    assert "".join(c.char for c in vote([read("ABC123", 0), read("ABC1234", 0), read("ABC1234", 0)])) == "ABC1234"
    assert vote([]) == ()


def test_region_rules_apply_to_the_consensus() -> None:
    tracker = PlateTracker(region="br")
    frames = [(100 + i * 0.2, [read("A8C1234", 40 + i * 90)]) for i in range(8)]
    (result,) = drive(tracker, frames) + tracker.flush(110)
    assert result.text == "ABC1234"


def test_a_read_no_plate_of_the_region_has_is_no_pass() -> None:
    """A sign read the same way in every frame is no pass for a Brazilian camera (no Brazilian plate has six
    characters); the plate beside it is, and without a region both are."""
    frames = [(100 + i * 0.2, [read("ABC1234", 40 + i * 90), read("OKO606", 1200, y=100)]) for i in range(8)]
    br = PlateTracker(region="br")
    assert [p.text for p in drive(br, frames) + br.flush(110)] == ["ABC1234"]
    anywhere = PlateTracker()
    assert sorted(p.text for p in drive(anywhere, frames) + anywhere.flush(110)) == ["ABC1234", "OKO606"]


# -- cars that stand where the one before stood (a queue at a barrier) ---------------------------------------


def standing(text: str, start: float, seconds: float, *, x: int = 800, every: float = 0.2, **kwargs) -> list:
    """A plate standing at one place for `seconds`, read every `every` s."""
    return [(start + i * every, [read(text, x, **kwargs)]) for i in range(round(seconds / every))]


def test_two_plates_at_the_same_box_one_after_another_are_two_passes() -> None:
    """No gap at all between them: the second car is read at the very spot the first stood, in the next frame."""
    tracker = PlateTracker(max_gap_s=1.5)
    passes = drive(tracker, standing("ABC1234", 100, 3) + standing("XYZ9876", 103, 3)) + tracker.flush(120)
    assert [p.text for p in passes] == ["ABC1234", "XYZ9876"]
    first, second = passes
    assert first.last_seen < second.first_seen
    assert first.observations == second.observations == 15


def test_the_first_of_two_cars_at_one_spot_is_read_when_the_second_takes_its_place() -> None:
    """Its pass is closed once the second plate is confirmed (two decisive reads), not after the gap."""
    tracker = PlateTracker(max_gap_s=1.5, min_observations=2)
    first = drive(tracker, standing("ABC1234", 100, 3))
    assert first == [] and tracker.update(103.0, [read("XYZ9876", 800)]) == []
    (closed,) = tracker.update(103.2, [read("XYZ9876", 800)])
    assert closed.text == "ABC1234"


def test_a_plate_that_stays_is_one_pass() -> None:
    """Parked for 10 minutes: read in bursts (motion now and then) with gaps longer than a track lives."""
    tracker = PlateTracker(max_gap_s=1.5, repeat_window_s=10)
    frames = [frame for burst in range(60) for frame in standing("ABC1234", 100 + burst * 10, 1)]
    passes = drive(tracker, frames) + tracker.flush(800)
    assert [p.text for p in passes] == ["ABC1234"]


def test_a_plate_seen_again_after_the_repeat_window_is_a_new_pass() -> None:
    tracker = PlateTracker(max_gap_s=1.5, repeat_window_s=10)
    passes = drive(tracker, standing("ABC1234", 100, 2) + standing("ABC1234", 115, 2)) + tracker.flush(130)
    assert [p.text for p in passes] == ["ABC1234", "ABC1234"]


def test_a_look_alike_flip_in_one_frame_does_not_split_a_pass() -> None:
    """7→T in one frame, 8→B and 2→Z in another, all read confidently: one pass, the right text."""
    frames = standing("AB71282", 100, 3)
    frames[5] = (frames[5][0], [read("ABT1282", 800)])
    frames[9] = (frames[9][0], [read("AB71ZBZ", 800)])
    tracker = PlateTracker()
    passes = drive(tracker, frames) + tracker.flush(110)
    assert [p.text for p in passes] == ["AB71282"]
    assert passes[0].observations == 15


def test_an_unconfident_read_of_other_text_does_not_split_a_pass() -> None:
    """A blurred frame read as something else, weakly: it is the same car."""
    frames = standing("ABC1234", 100, 3)
    frames[7] = (frames[7][0], [read("XYZ9876", 800, confidence=0.3)])
    tracker = PlateTracker()
    assert [p.text for p in drive(tracker, frames) + tracker.flush(110)] == ["ABC1234"]


def test_a_plate_that_jumps_in_size_at_the_same_place_starts_a_new_track() -> None:
    """A cut to a much nearer plate (the next car, unreadable yet) is not the same plate growing."""
    tracker = PlateTracker(max_gap_s=1.5)
    near = [(103 + i * 0.2, [read("XYZ9876", 700, w=600, confidence=0.3 if i < 3 else 0.9)]) for i in range(15)]
    passes = drive(tracker, standing("ABC1234", 100, 3, x=800, w=200) + near) + tracker.flush(120)
    assert [p.text for p in passes] == ["ABC1234", "XYZ9876"]


def test_a_close_vote_gets_a_second_look_at_the_best_frames() -> None:
    """The frames split 7 against T; a careful reading of the best frames' context settles it."""
    context = np.zeros((60, 200, 3), np.uint8)
    frames = [(100 + i * 0.2, [replace(read("AB7C123" if i % 2 else "ABTC123", 800, det=0.5 + i / 100),
                                       context=context)]) for i in range(10)]
    looked_at: list[PlateRead] = []

    def careful(reads: list[PlateRead]) -> list[PlateRead]:
        looked_at.extend(reads)
        return [read("AB7C123", 0, confidence=0.95) for _ in reads]

    tracker = PlateTracker(second_look=careful)
    (result,) = drive(tracker, frames) + tracker.flush(110)
    assert result.text == "AB7C123"
    assert len(looked_at) == 3, "the best three frames keep their context"
    assert sorted(r.detection_confidence for r in looked_at) == pytest.approx([0.57, 0.58, 0.59])


def test_a_decisive_vote_gets_no_second_look() -> None:
    def careful(reads: list[PlateRead]) -> list[PlateRead]:
        raise AssertionError("no second look expected")

    context = np.zeros((60, 200, 3), np.uint8)
    frames = [(100 + i * 0.2, [replace(read("AB7C123", 800), context=context)]) for i in range(10)]
    tracker = PlateTracker(second_look=careful)
    assert [p.text for p in drive(tracker, frames) + tracker.flush(110)] == ["AB7C123"]


def test_a_parked_car_read_in_every_frame_is_one_pass_read_while_it_stays() -> None:
    """10 minutes at 5 frames/s without a break: read once, within `max_track_s` of arriving, never again."""
    tracker = PlateTracker(max_track_s=30, repeat_window_s=10)
    emitted = [(at, p.text) for at, reads in standing("ABC1234", 100, 600) for p in tracker.update(at, reads)]
    assert [text for _, text in emitted] == ["ABC1234"]
    assert emitted[0][0] <= 100 + 31
    assert tracker.flush(800) == []


# -- a second OCR opinion on characters the vote left close ------------------------------------------------


def guess(char: str, probs: dict[str, float]) -> CharGuess:
    vector = [0.0] * len(ALPHABET)
    for symbol, p in probs.items():
        vector[ALPHABET.index(symbol)] = p
    return CharGuess(char, probs[char], tuple(vector))


def sure(text: str) -> tuple[CharGuess, ...]:
    return tuple(guess(c, {c: 1.0}) for c in text)


def test_a_second_opinion_decides_a_close_character_and_never_a_settled_one() -> None:
    """The vote split T 0.55 / 7 0.45 at position 2: the other model's 7 at 0.9 wins it (7 at 0.675). It also
    reads the first character as 4, which the vote settled: that is not its call."""
    voted = (guess("A", {"A": 0.95, "4": 0.05}), guess("B", {"B": 1.0}), guess("T", {"T": 0.55, "7": 0.45}),
             *sure("C123"))
    opinion = (guess("4", {"4": 0.99, "A": 0.01}), guess("B", {"B": 1.0}), guess("7", {"7": 0.9, "T": 0.1}),
               *sure("C123"))
    settled = settle_close(voted, [opinion], close_below=2 / 3)
    assert "".join(c.char for c in settled) == "AB7C123"
    assert settled[2].confidence == pytest.approx(0.675)
    assert settled[0] == voted[0] and settled[3:] == voted[3:]


def test_a_second_opinion_of_another_length_or_as_unsure_changes_nothing() -> None:
    voted = (*sure("AB"), guess("T", {"T": 0.55, "7": 0.45}), *sure("C123"))
    merged_double = sure("AB7C12")  # CTC may merge a double or drop a character: no position is known
    assert settle_close(voted, [merged_double], close_below=2 / 3) == voted
    assert settle_close(voted, [], close_below=2 / 3) == voted
    torn = (*sure("AB"), guess("7", {"7": 0.5, "T": 0.5}), *sure("C123"))
    assert "".join(c.char for c in settle_close(voted, [torn], close_below=2 / 3)) == "ABTC123"
    bare = tuple(CharGuess(c, 0.5) for c in "ABTC123")  # a vote without distributions has nothing to average
    assert settle_close(bare, [sure("AB7C123")], close_below=2 / 3) == bare


def test_a_second_opinion_decides_between_look_alike_classes_never_within_one() -> None:
    """The vote split 0 0.55 / O 0.45: the other model's O is no evidence about which of the two a plate's font
    means (a text recogniser decides that from words), so 0 stays, more surely a 0-like character than before.
    Between 8/B and 3 it decides the class, and the vote's 8 beats B within it."""
    voted = (*sure("AB"), guess("0", {"0": 0.55, "O": 0.45}), *sure("C1"))
    settled = settle_close(voted, [(*sure("AB"), guess("O", {"O": 0.95, "0": 0.05}), *sure("C1"))], close_below=2 / 3)
    assert "".join(c.char for c in settled) == "AB0C1"
    assert sum(settled[2].probs) == pytest.approx(1.0) and settled[2].confidence == pytest.approx(0.55)
    split = (*sure("AB"), guess("3", {"3": 0.5, "8": 0.3, "B": 0.2}), *sure("C1"))
    other = (*sure("AB"), guess("B", {"B": 0.9, "3": 0.1}), *sure("C1"))
    assert "".join(c.char for c in settle_close(split, [other], close_below=2 / 3)) == "AB8C1"


def test_a_close_vote_asks_the_second_opinion_on_the_best_frames_and_it_decides() -> None:
    """Six frames read T, four 7 (T wins 0.6 of the vote: close); the other model reads 7 in the best frames."""
    context = np.zeros((60, 200, 3), np.uint8)
    frames = [(100 + i * 0.2, [replace(read("x", 800, det=0.5 + i / 100), chars=sure("AB7C123" if i in (1, 4, 6, 8)
                                                                                     else "ABTC123"), context=context)])
              for i in range(10)]
    asked: list[PlateRead] = []

    def other_model(reads: list[PlateRead]) -> list[tuple[CharGuess, ...]]:
        asked.extend(reads)
        return [sure("AB7C123") for _ in reads]

    alone = PlateTracker()
    assert [p.text for p in drive(alone, frames) + alone.flush(110)] == ["ABTC123"]
    tracker = PlateTracker(second_opinion=other_model)
    (result,) = drive(tracker, frames) + tracker.flush(110)
    assert result.text == "AB7C123"
    assert sorted(r.detection_confidence for r in asked) == pytest.approx([0.57, 0.58, 0.59])


def test_a_decisive_vote_asks_no_second_opinion() -> None:
    def other_model(reads: list[PlateRead]) -> list[tuple[CharGuess, ...]]:
        raise AssertionError("no second opinion expected")

    context = np.zeros((60, 200, 3), np.uint8)
    frames = [(100 + i * 0.2, [replace(read("AB7C123", 800), context=context)]) for i in range(10)]
    tracker = PlateTracker(second_opinion=other_model)
    assert [p.text for p in drive(tracker, frames) + tracker.flush(110)] == ["AB7C123"]


def test_a_plate_whose_frames_split_one_character_between_look_alikes_is_still_a_pass() -> None:
    """A third of the frames read 0, a third D, a third O: none wins half the vote, but every frame agrees a
    0-like character is there (the plate, not a sign read differently each time). A split between characters
    that look nothing alike is no pass."""
    split = [(100 + i * 0.2, [replace(read("x", 800, det=0.8 + (i % 3 == 0) / 100),
                                      chars=sure("P6" + "0DO"[i % 3] + "2849"))]) for i in range(9)]
    tracker = PlateTracker()
    (result,) = drive(tracker, split) + tracker.flush(110)
    assert result.text == "P602849" and result.confidence < 0.4
    torn = [(200 + i * 0.2, [replace(read("x", 800), chars=sure("P6" + "0KX"[i % 3] + "2849"))]) for i in range(9)]
    assert drive(tracker, torn) + tracker.flush(210) == []
    grille = [(300 + i * 0.2, [replace(read("x", 800), chars=tuple(
        guess(c, {c: 0.5, ("1" if c == "I" else "I"): 0.5}) for c in ("III111", "1I1I11", "I11II1")[i % 3]))])
        for i in range(9)]  # unsure in every frame: look-alikes do not make it a plate
    assert drive(tracker, grille) + tracker.flush(310) == []


def test_settled_share_counts_a_character_with_its_look_alikes() -> None:
    chars = (guess("B", {"B": 0.45, "8": 0.4, "3": 0.15}), guess("7", {"7": 0.5, "T": 0.5}), *sure("C1"))
    assert settled_share(chars) == pytest.approx(0.5)  # 7/T are not one symbol in the look-alike table
    assert settled_share(chars[:1] + chars[2:]) == pytest.approx(0.85)
    assert settled_share(tuple(CharGuess(c, 0.6) for c in "AB1")) == pytest.approx(0.6)


def test_open_boxes_say_where_each_tracked_plate_was_last_seen_until_its_track_closes() -> None:
    tracker = PlateTracker(max_gap_s=1.5)
    assert tracker.open_boxes() == []
    drive(tracker, [(100.0, [read("ABC1234", 40), read("XYZ9876", 1200, y=200)]), (100.2, [read("ABC1234", 130)])])
    assert sorted(tracker.open_boxes()) == [(130, 600, 200, 66), (1200, 200, 200, 66)]
    tracker.update(105.0, [])
    assert tracker.open_boxes() == []


def test_a_part_of_the_plate_read_alone_does_not_start_another_pass() -> None:
    """The text detector splits "AJK 7551" at its gap in some frames and only 7551 is read there: the same car,
    one pass with the whole plate. A different plate standing in the same place is still another car."""
    frames = [(100 + i * 0.2, [read("7551" if i % 3 == 1 else "AJK7551", 800)]) for i in range(12)]
    tracker = PlateTracker()
    assert [p.text for p in drive(tracker, frames) + tracker.flush(110)] == ["AJK7551"]
    other = standing("AJK7551", 200, 3) + standing("XYZ9876", 203, 3)
    assert [p.text for p in drive(tracker, other) + tracker.flush(210)] == ["AJK7551", "XYZ9876"]
    assert partial_read("7551", "AJK7551") and partial_read("AJK7551", "AJK7") and not partial_read("75", "AJK7551")
    assert not partial_read("7561", "AJK7551")


# -- text that moves with a plate (a badge, a phone number on a van) ---------------------------------------


def approaching(text: str, *, offset: tuple[float, float], size: float, det: float, start: float = 100,
                frames: int = 15, **kwargs) -> list:
    """Reads of text on a car driving toward the camera: the plate grows from 150 to 450 px wide and sinks in
    the frame; this text keeps `offset` (in plate widths) from the plate's centre and `size` times its width."""
    out = []
    for i in range(frames):
        plate_w = 150 + i * 20
        plate_cx, plate_cy = 900, 500 + i * 15
        w = round(plate_w * size)
        cx, cy = plate_cx + offset[0] * plate_w, plate_cy + offset[1] * plate_w
        out.append((start + i * 0.2, [read(text, round(cx - w / 2), y=round(cy - w / 6), w=w, det=det, **kwargs)]))
    return out


def together(*tracks: list) -> list:
    return [(at, [r for track in tracks for t, rs in track if t == at for r in rs]) for at, _ in tracks[0]]


def test_text_moving_with_a_plate_is_not_a_pass_of_its_own() -> None:
    """A van's phone number above its plate and a dealer's badge beside it, read surely in every frame: the
    detector finds the plate more plate-like, so the van is one pass."""
    plate = approaching("2DA044", offset=(0, 0), size=1.0, det=0.85)
    phone = approaching("4559000", offset=(0.2, -1.5), size=1.3, det=0.45)
    badge = approaching("S300", offset=(2.5, 0.4), size=0.5, det=0.5, confidence=0.95)
    tracker = PlateTracker()
    passes = drive(tracker, together(plate, phone, badge)) + tracker.flush(120)
    assert [p.text for p in passes] == ["2DA044"]


def test_the_less_plate_like_of_two_that_move_together_goes_whichever_ends_first() -> None:
    """The badge's track ends (it leaves the view) while the plate's goes on, and the other way round."""
    plate = approaching("2DA044", offset=(0, 0), size=1.0, det=0.85)
    badge = approaching("S300X", offset=(2.5, 0.4), size=0.5, det=0.5)[:6]
    tracker = PlateTracker()
    assert [p.text for p in drive(tracker, together(plate, badge)) + tracker.flush(120)] == ["2DA044"]
    plate_first = approaching("2DA044", offset=(0, 0), size=1.0, det=0.85, start=200)[:6]
    badge_longer = approaching("S300X", offset=(2.5, 0.4), size=0.5, det=0.5, start=200)
    tracker = PlateTracker()
    passes = drive(tracker, together(badge_longer, plate_first)) + tracker.flush(220)
    assert [p.text for p in passes] == ["2DA044"]


def test_two_cars_approaching_side_by_side_at_different_speeds_are_two_passes() -> None:
    near = approaching("ABC1234", offset=(0, 0), size=1.0, det=0.85)
    other_lane = [(at, [read("XYZ9876", 300 + i * 5, y=400, w=120 + i * 4, det=0.6)])
                  for i, (at, _) in enumerate(near)]
    tracker = PlateTracker()
    passes = drive(tracker, together(near, other_lane)) + tracker.flush(120)
    assert sorted(p.text for p in passes) == ["ABC1234", "XYZ9876"]


def test_two_cars_parked_side_by_side_are_two_passes() -> None:
    """Standing still, any two plates keep their offset: motion is what shows them to be one vehicle."""
    left, right = standing("ABC1234", 100, 3, x=400, det=0.85), standing("XYZ9876", 100, 3, x=900, det=0.6)
    tracker = PlateTracker()
    passes = drive(tracker, together(left, right)) + tracker.flush(120)
    assert sorted(p.text for p in passes) == ["ABC1234", "XYZ9876"]


def test_without_a_plate_detector_text_moving_with_a_plate_is_kept() -> None:
    """A text detector's confidence says how text-like a badge is, not how plate-like: no read is dropped."""
    plate = approaching("2DA044", offset=(0, 0), size=1.0, det=0.5)
    badge = approaching("S300", offset=(2.5, 0.4), size=0.5, det=0.9, confidence=0.95)
    tracker = PlateTracker(plate_detector=False)
    passes = drive(tracker, together(plate, badge)) + tracker.flush(120)
    assert sorted(p.text for p in passes) == ["2DA044", "S300"]


def test_a_plate_that_jumps_after_a_blurred_read_stays_one_pass() -> None:
    """The car lurches forward: its plate is read blurred, then much larger a little lower. The new read is
    not like the blurred one but is the plate its sure reads say: the same track, one pass with all frames."""
    frames = [(100 + i * 0.2, [read("8P62983", 780, y=540, w=180)]) for i in range(5)]
    frames.append((101.0, [read("8PQ9B3", 780, y=540, w=185, confidence=0.3)]))
    frames += [(101.2 + i * 0.2, [read("8P62983", 760, y=470, w=400 + i * 10)]) for i in range(8)]
    tracker = PlateTracker()
    passes = drive(tracker, frames) + tracker.flush(120)
    assert [(p.text, p.observations) for p in passes] == [("8P62983", 14)]


def test_a_sure_read_one_character_from_any_of_the_tracks_sure_reads_is_the_same_plate() -> None:
    """The car's first sure reads mostly drop a character ("8P6998"), one reads it whole with 2 read as 9; its
    next sure read is two edits from what most say and one from that whole read: the same plate, one pass with
    every frame, not a second car."""
    first = ["8P6998", "8P6908", "8P69983", "8P6998"]
    frames = [(100 + i * 0.2, [read(text, 780 + i * 3, w=190)]) for i, text in enumerate(first)]
    frames += [(101 + i * 0.2, [read("8P62983", 792, w=192 + i * 8)]) for i in range(10)]
    tracker = PlateTracker()
    passes = drive(tracker, frames) + tracker.flush(120)
    assert [(p.text, p.observations) for p in passes] == [("8P62983", 14)]
