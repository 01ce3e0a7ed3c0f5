"""HTTP byte ranges (RFC 9110 §14, `hub.api.ranges`): a golden table of what each Range/If-Range gets, and
properties over any header text (never an exception; a part always inside the representation; a single
well-formed range answered as a naive reference says)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.api.ranges import Part, Unsatisfiable, Whole, answer

SIZE = 1000
ETAG = '"' + "ab" * 32 + '"'

GOLDEN = {
    # one satisfiable range → 206
    "bytes=0-499": Part(0, 499, SIZE),
    "bytes=500-999": Part(500, 999, SIZE),
    "bytes=500-": Part(500, 999, SIZE),
    "bytes=0-0": Part(0, 0, SIZE),
    "bytes=-1": Part(999, 999, SIZE),
    "bytes=-500": Part(500, 999, SIZE),
    "bytes=-5000": Part(0, 999, SIZE),  # a suffix longer than the whole is the whole, as a 206
    "bytes=900-5000": Part(900, 999, SIZE),  # the last byte past the end is cut
    "bytes=999-999999999999999999999999": Part(999, 999, SIZE),
    "BYTES=10-19": Part(10, 19, SIZE),  # the unit is case-insensitive
    " bytes=10-19 ": Part(10, 19, SIZE),
    "bytes=10-19, ,": Part(10, 19, SIZE),  # empty list elements are skipped (RFC 9110 §5.6.1)
    "bytes=007-010": Part(7, 10, SIZE),
    # one range with nothing in it → 416
    "bytes=1000-": Unsatisfiable(SIZE),
    "bytes=1000-2000": Unsatisfiable(SIZE),
    "bytes=99999999999999999999999-": Unsatisfiable(SIZE),
    "bytes=-0": Unsatisfiable(SIZE),
    # ignored → 200 whole
    "bytes=0-1,5-9": Whole(SIZE),  # more than one range
    "bytes=0-1, 0-1": Whole(SIZE),
    "bytes=-1,-2,-3": Whole(SIZE),
    "bytes=500-499": Whole(SIZE),  # last before first: not a range
    "bytes=-": Whole(SIZE),
    "bytes=": Whole(SIZE),
    "bytes": Whole(SIZE),
    "bytes 0-1": Whole(SIZE),
    "bytes = 0-1": Whole(SIZE),
    "bytes=0 - 1": Whole(SIZE),
    "bytes=a-b": Whole(SIZE),
    "bytes=1.5-2": Whole(SIZE),
    "bytes=+1-2": Whole(SIZE),
    "bytes=--1": Whole(SIZE),
    "bytes=0x10-0x20": Whole(SIZE),
    "bytes=١-٢": Whole(SIZE),  # Arabic-Indic digits are not DIGIT
    "items=0-1": Whole(SIZE),
    "=0-1": Whole(SIZE),
    "": Whole(SIZE),
    "bytes=" + "9" * 5000 + "-": Whole(SIZE),  # a number past 100 digits: malformed, not a 500
    "bytes=0-" + "9" * 5000: Whole(SIZE),
}


@pytest.mark.parametrize("header", GOLDEN)
def test_each_range_header_gets_the_answer_rfc_9110_gives_it(header: str):
    assert answer(header, size=SIZE) == GOLDEN[header]


def test_no_range_header_is_the_whole_and_the_answers_carry_their_headers():
    assert answer(None, size=SIZE) == Whole(SIZE)
    assert Whole(SIZE).headers() == {"Content-Length": "1000", "Accept-Ranges": "bytes"}
    assert (Part(10, 19, SIZE).status, Part(10, 19, SIZE).headers()) == (206, {
        "Content-Length": "10", "Accept-Ranges": "bytes", "Content-Range": "bytes 10-19/1000"})
    assert (Unsatisfiable(SIZE).status, Unsatisfiable(SIZE).headers()) == (416, {
        "Accept-Ranges": "bytes", "Content-Range": "bytes */1000"})


def test_an_empty_representation_satisfies_no_range():
    assert answer("bytes=0-", size=0) == Unsatisfiable(0)
    assert answer("bytes=-5", size=0) == Unsatisfiable(0)
    assert answer(None, size=0) == Whole(0)


def test_if_range_keeps_the_range_only_for_the_current_strong_etag():
    assert answer("bytes=0-9", size=SIZE, if_range=ETAG, etag=ETAG) == Part(0, 9, SIZE)
    assert answer("bytes=0-9", size=SIZE, if_range=f" {ETAG} ", etag=ETAG) == Part(0, 9, SIZE)
    for other in ['"' + "cd" * 32 + '"', "W/" + ETAG, "Tue, 15 Nov 1994 08:12:31 GMT", "", "*"]:
        assert answer("bytes=0-9", size=SIZE, if_range=other, etag=ETAG) == Whole(SIZE), other
    assert answer("bytes=0-9", size=SIZE, if_range=ETAG) == Whole(SIZE)  # no ETag to match
    assert answer(None, size=SIZE, if_range=ETAG, etag=ETAG) == Whole(SIZE)  # If-Range without Range: ignored


@given(st.text(max_size=60), st.integers(min_value=0, max_value=10**12))
def test_any_header_text_gets_an_answer_and_a_part_lies_inside(header: str, size: int):
    got = answer(header, size=size)
    assert isinstance(got, (Whole, Part, Unsatisfiable)) and got.size == size
    if isinstance(got, Part):
        assert 0 <= got.first <= got.last < size and got.length == got.last - got.first + 1


def reference(first: int | None, last: int | None, size: int) -> Part | Unsatisfiable | Whole:
    """RFC 9110 §14.1.2 read literally, for one range-spec built from its parts."""
    if first is None:  # suffix of `last` bytes
        return Unsatisfiable(size) if last == 0 or size == 0 else Part(max(0, size - last), size - 1, size)
    if last is not None and last < first:
        return Whole(size)
    if first >= size:
        return Unsatisfiable(size)
    return Part(first, size - 1 if last is None or last >= size else last, size)


positions = st.integers(min_value=0, max_value=3000)


@given(st.one_of(st.tuples(positions, st.none() | positions), st.tuples(st.none(), positions)),
       st.integers(min_value=0, max_value=2000), st.sampled_from(["bytes", "Bytes"]))
def test_a_single_well_formed_range_is_answered_as_the_rfc_reads(spec, size: int, unit: str):
    first, last = spec
    header = f"{unit}={'' if first is None else first}-{'' if last is None else last}"
    assert answer(header, size=size) == reference(first, last, size)
