"""Pure ALPR policy: region format rules, look-alike-aware hot-list matching, the slot OCR's decoding."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.alpr.base import ALPHABET, CharGuess
from edge.alpr.fast import OCR_ALPHABET, decode_slots
from edge.alpr.formats import apply_region_format, correct_chars, plausible
from edge.alpr.matching import HotListMatcher, canonical, within_one_edit
from models.evaluate import edit_distance
from wire.messages import HotListEntry

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def guesses(text: str, probs: dict[int, dict[str, float]] | None = None) -> tuple[CharGuess, ...]:
    """Characters of `text` as an OCR sure of each would give them, except the positions in `probs`."""
    out = []
    for i, char in enumerate(text):
        vector = [0.0] * len(ALPHABET)
        for symbol, p in (probs or {}).get(i, {char: 0.999}).items():
            vector[ALPHABET.index(symbol)] = p
        out.append(CharGuess(char, max(vector), tuple(vector)))
    return tuple(out)


# -- format rules ---------------------------------------------------------------


@pytest.mark.parametrize(("region", "read", "expected"), [
    ("br", "ABC1234", "ABC1234"),  # already a format: unchanged
    ("br", "A8C1234", "ABC1234"),  # 8 where a letter must be → B
    ("br", "ABC12O4", "ABC1204"),  # O where a digit must be → 0 (Mercosul would need two swaps)
    ("br", "ABC1O34", "ABC1O34"),  # a valid Mercosul plate as read
    ("br", "ABC1D23", "ABC1D23"),  # Mercosul LLLNLNN: a letter in 5th place is right
    ("br", "5BC1234", "SBC1234"),  # S/5
    ("br", "ABCI234", "ABC1234"),  # I/1
    ("br", "ABC12345", "ABC12345"),  # no 8-character format: unchanged
    ("br", "ABCX234", "ABCX234"),  # X has no digit look-alike: no format fits
    ("us", "7FRX71", "7FRX71"),  # fits no listed US format: X has no look-alike
    ("us", "8ABC123", "8ABC123"),  # California NLLLNNN as read
    ("us", "BABC123", "8ABC123"),  # California, B → 8 in first place
    ("eu", "AB123CD", "AB123CD"),
    ("eu", "AB1Z3CD", "AB123CD"),
    (None, "A8C1234", "A8C1234"),  # no region: no rules
    ("xx", "A8C1234", "A8C1234"),
])
def test_region_formats_resolve_look_alikes_by_position(region, read, expected) -> None:
    assert apply_region_format(read, region) == expected


def test_a_tie_between_formats_leaves_the_read_as_it_was() -> None:
    # "8BC1234" is California NLLLNNN with 1 → I, or LLLNNNN with 8 → B: one swap each, two different
    # plates: ambiguous, left alone. The same read in Brazil has only LLLNNNN: 8 → B.
    assert apply_region_format("8BC1234", "us") == "8BC1234"
    assert apply_region_format("8BC1234", "br") == "BBC1234"


def test_a_confident_reading_is_not_bent_to_fit_a_format() -> None:
    # The OCR is sure of the 5 (S has almost no probability): "WA56660" is a real Polish plate, not WAS6660.
    sure = guesses("WA56660", {2: {"5": 0.999, "S": 0.0005}})
    assert "".join(c.char for c in correct_chars(sure, "eu")) == "WA56660"
    unsure = guesses("WA56660", {2: {"5": 0.7, "S": 0.29}})
    assert "".join(c.char for c in correct_chars(unsure, "eu")) == "WAS6660"


def test_with_probabilities_the_most_probable_look_alike_is_chosen() -> None:
    # A 1 in a letter position: I and L both look like it; the OCR thinks L is likelier.
    read = guesses("51TA600", {1: {"1": 0.6, "L": 0.3, "I": 0.07}})
    fixed = correct_chars(read, "us")
    assert "".join(c.char for c in fixed) == "5LTA600"
    assert fixed[1].confidence == pytest.approx(0.3)


@pytest.mark.parametrize(("read", "expected"), [
    ("UH1FOF", "UH1F0F"),  # no listed format: the US O is a zero
    ("ABCO123", "ABC0123"),  # LLLNNNN: a digit's place (the format swap)
    ("8OBC123", "8OBC123"),  # California NLLLNNN: O in a letter's place stays (California issues O with letters)
    ("OOSE", "00SE"),
])
def test_a_us_letter_o_is_a_zero_outside_a_formats_letter_places(read, expected) -> None:
    assert apply_region_format(read, "us") == expected
    assert apply_region_format(read, "eu") == (read if read != "ABCO123" else "ABC0123")  # Europe issues O


def test_an_o_read_as_zero_keeps_the_probability_of_both() -> None:
    read = guesses("UH1FOF", {4: {"O": 0.55, "0": 0.40, "D": 0.05}})
    fixed = correct_chars(read, "us")
    assert "".join(c.char for c in fixed) == "UH1F0F"
    assert fixed[4].confidence == pytest.approx(0.95)


# -- hot-list matching ------------------------------------------------------------


def entry(plate: str, *, expires: dt.datetime | None = None, name: str = "stolen") -> HotListEntry:
    return HotListEntry(plate=plate, list_name=name, reason=f"{plate} reported", expires_at=expires)


def test_look_alikes_match_exactly() -> None:
    matcher = HotListMatcher([entry("BOB1234"), entry("XYZ999")])
    assert [m.entry.plate for m in matcher.match("8O81234", now=NOW)] == ["BOB1234"]
    assert [m.edits for m in matcher.match("B0B1234", now=NOW)] == [0]
    assert matcher.match("XYZ998", now=NOW) == []  # one edit off, tolerance off


def test_one_edit_tolerance_finds_substitutions_insertions_and_deletions() -> None:
    matcher = HotListMatcher([entry("ABC1234")], max_edits=1)
    for read in ("ABC1235", "ABC123", "ABCX1234", "A8C1234"):
        found = matcher.match(read, now=NOW)
        assert [m.entry.plate for m in found] == ["ABC1234"], read
    assert matcher.match("ABC1235", now=NOW)[0].edits == 1
    assert matcher.match("A8C1234", now=NOW)[0].edits == 0
    assert matcher.match("ABD1299", now=NOW) == []


def test_expired_entries_never_match() -> None:
    matcher = HotListMatcher([entry("ABC1234", expires=NOW - dt.timedelta(seconds=1)),
                              entry("ABC1234", expires=NOW + dt.timedelta(hours=1), name="amber")], max_edits=1)
    assert [m.entry.list_name for m in matcher.match("ABC1234", now=NOW)] == ["amber"]


def test_max_edits_is_zero_or_one() -> None:
    with pytest.raises(ValueError):
        HotListMatcher([], max_edits=2)


plates = st.text(alphabet="ABC018OIS5", min_size=1, max_size=8)


@settings(max_examples=300, deadline=None)
@given(entries=st.lists(plates, max_size=12), read=plates)
def test_matching_agrees_with_a_naive_scan(entries: list[str], read: str) -> None:
    matcher = HotListMatcher([entry(p) for p in entries], max_edits=1)
    found = sorted(m.entry.plate for m in matcher.match(read, now=NOW))
    exact = sorted(p for p in entries if canonical(p) == canonical(read))
    naive = exact or sorted(p for p in entries if edit_distance(canonical(p), canonical(read)) <= 1)
    assert found == naive


@given(a=plates, b=plates)
def test_within_one_edit_is_edit_distance_at_most_one(a: str, b: str) -> None:
    assert within_one_edit(a, b) == (edit_distance(a, b) <= 1)


# -- the slot OCR's output ----------------------------------------------------------


def test_slot_decoding_golden() -> None:
    """Nine slots over 0-9A-Z_: padding slots are dropped, each character keeps its distribution."""
    probs = np.full((9, len(OCR_ALPHABET)), 0.001, np.float32)
    for slot, symbol in enumerate("AB12C3__" + "_"):
        probs[slot, OCR_ALPHABET.index(symbol)] = 0.9
    probs[2, OCR_ALPHABET.index("I")] = 0.08  # the 1 has a little I in it
    chars = decode_slots(probs)
    assert "".join(c.char for c in chars) == "AB12C3"
    assert [round(c.confidence, 3) for c in chars] == [0.9] * 6
    assert len(chars[0].probs) == len(ALPHABET)  # padding removed, renormalised
    assert sum(chars[2].probs) == pytest.approx(1.0)
    assert chars[2].probs[ALPHABET.index("I")] > 0.07


@pytest.mark.parametrize(("text", "region", "expected"), [
    ("ABC1234", "br", True),  # the old grey plates
    ("ABC1D23", "br", True),  # Mercosul
    ("OKO606", "br", False),  # 6 characters: a sign, not a Brazilian plate
    ("1ABC234", "br", False),  # 7 characters, letters and digits where no Brazilian plate has them
    ("ABCD234", "br", False),
    ("OKO606", "us", True),  # formats elsewhere are not exhaustive: any length a plate can have
    ("M1LE", "eu", True),
    ("ABCDEFGHJ", "us", False),  # longer than any US plate
    ("KAAB1234E", "eu", True),  # a German electric car's plate: 9 characters
    ("ABCDEFGHJ", None, True),  # no region: no rule
])
def test_plausible_rules_out_what_no_plate_of_the_region_reads(text, region, expected) -> None:
    assert plausible(text, region) is expected
