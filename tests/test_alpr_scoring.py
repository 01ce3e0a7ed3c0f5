"""How the video benchmark and the agent tests score reads against the simulator's truth (pure)."""

from __future__ import annotations

from sim.truth import SeenRead, WallPass, attribute_reads, merge_repeats


def test_a_read_goes_to_the_pass_it_overlaps_longest_when_cars_follow_with_no_gap() -> None:
    """With the stream's latency a read of the first car overlaps the second's start; it is still the first's."""
    passes = [WallPass("AAA111", 100, 103), WallPass("BBB222", 103, 106)]
    reads = [SeenRead("1", "AAA111", 100.3, 103.4), SeenRead("2", "BBB222", 103.3, 106.4)]
    given, unmatched = attribute_reads(passes, reads, tolerance_s=1.5)
    assert [[r.id for r in g] for g in given] == [["1"], ["2"]] and unmatched == []


def test_a_misread_goes_to_the_pass_it_overlaps_and_a_read_of_nothing_is_unmatched() -> None:
    passes = [WallPass("AAA111", 100, 103), WallPass("BBB222", 103, 106)]
    reads = [SeenRead("1", "AAA1I1", 100.2, 102.9), SeenRead("2", "CCC333", 200, 202)]
    given, unmatched = attribute_reads(passes, reads, tolerance_s=1.5)
    assert [[r.id for r in g] for g in given] == [["1"], []]
    assert [r.id for r in unmatched] == ["2"]


def test_a_read_with_the_text_of_an_overlapping_pass_goes_to_it() -> None:
    """A read spanning two cars (merged) that kept the second's text is the second's read, and the first missed."""
    passes = [WallPass("AAA111", 100, 103), WallPass("BBB222", 103, 104)]
    given, _ = attribute_reads(passes, [SeenRead("1", "BBB222", 100.2, 104.3)], tolerance_s=1.5)
    assert [[r.id for r in g] for g in given] == [[], ["1"]]


def test_the_same_plate_again_within_the_window_is_one_pass() -> None:
    passes = [WallPass("AAA111", 100, 103), WallPass("AAA111", 103, 106), WallPass("BBB222", 106, 109),
              WallPass("AAA111", 130, 133)]
    assert merge_repeats(passes, 10) == [WallPass("AAA111", 100, 106), WallPass("BBB222", 106, 109),
                                         WallPass("AAA111", 130, 133)]
