"""Region plate formats: resolve letter/digit confusions (O/0, I/1, B/8, S/5, ...) by position.

A format is a pattern of L (letter) and N (digit). A read is fitted to a region's
formats of its own length: a character of the wrong kind is replaced by its
look-alike of the right kind; a character with no look-alike rules the format
out, and so does a look-alike the OCR itself gave less than `MIN_EVIDENCE`
probability at that position (plates that follow no listed format are common:
a confident reading is never bent to fit). The format needing the fewest replacements wins; when two formats fit
equally well with different results, the read is left as it was (ambiguous).
Only formats that are public knowledge for the region are listed; unknown
regions and lengths leave reads unchanged.

Some letters a region's plates use only where a format puts a letter, if at all
(`DIGIT_GLYPH_LETTERS`): in the United States, O. Seventeen states (Alabama,
Florida, Georgia, Michigan, New Jersey, Texas, ...) issue no letter O; others
use it only on personalised plates or only among letters (California's
1ABC234), and hot lists compare O and 0 as one (`edge.alpr.matching`). A US
read's O is therefore 0 unless the format the read was fitted to has a letter
in its place.

`plausible` says whether a text can be a plate of the region at all. Only a
region whose listed formats are every plate it issues (`EXHAUSTIVE_REGIONS`:
Brazil, where every plate since 1990 is LLL NNNN or, since 2018, Mercosul
LLL N L NN, with no personalised plates) rules a text out by its formats: a
6-character read there is a sign or a sticker, not a plate. Elsewhere plates
that follow no listed format are common (US vanity plates, EU national
formats not listed), so every region also has only its public length limits.
Pure functions over plain data.
"""

from __future__ import annotations

from dataclasses import replace

from edge.alpr.base import ALPHABET, CharGuess

# Look-alikes of the other kind, most likely first.
DIGITS_LIKE = {"O": "0", "D": "0", "Q": "0", "U": "0", "I": "1", "L": "1", "T": "71", "Z": "2", "S": "5", "G": "6",
               "B": "8", "A": "4"}
LETTERS_LIKE = {"0": "ODQU", "1": "ILT", "2": "Z", "4": "A", "5": "S", "6": "G", "7": "T", "8": "B"}

REGION_FORMATS: dict[str, tuple[str, ...]] = {
    # Brazil: the old grey plates LLL NNNN and Mercosul LLL N L NN.
    "br": ("LLLNNNN", "LLLNLNN"),
    # Common EU national formats without their separators.
    "eu": (
        "LLNNNLL",  # Italy, France (SIV), Croatia-style
        "LLNNLLL",  # United Kingdom
        "NNNNLLL",  # Spain
        "LLLNNNN",  # Poland-style (district + number), Brazil-style imports
    ),
    # US state patterns that are each a large state's current standard issue.
    "us": (
        "NLLLNNN",  # California
        "LLLNNNN",  # New York, Pennsylvania, Texas, Georgia, Michigan, Ohio, ...
        "LLLNNN",  # many states' older standard issue
        "NNNLLL",  # several states' older issue
    ),
}

# Regions whose listed formats are every plate issued there: a text that fits none of them is not a plate.
EXHAUSTIVE_REGIONS = frozenset({"br"})
# Characters on a plate, without separators: the public limits. US states issue 1 to 8 (vanity plates too);
# EU national formats run from 1 (Luxembourg's short numbers) to 9 (a German plate of 8 with the electric "E").
PLATE_LENGTHS: dict[str, tuple[int, int]] = {"br": (7, 7), "eu": (1, 9), "us": (1, 8)}

# Letters a region's plates print as a digit's glyph: read as that digit wherever no fitted format has a letter.
DIGIT_GLYPH_LETTERS: dict[str, dict[str, str]] = {"us": {"O": "0"}}

MIN_EVIDENCE = 0.05  # least probability the OCR must have given a look-alike for it to be swapped in


def _kind(char: str) -> str:
    return "N" if char.isdigit() else "L"


def _swap(guess: CharGuess, kind: str) -> CharGuess | None:
    """The look-alike of the other kind: with the OCR's probabilities, the most probable look-alike
    (if probable enough); without them, the first."""
    partners = (DIGITS_LIKE if kind == "N" else LETTERS_LIKE).get(guess.char, "")
    if not partners:
        return None
    if guess.probs is None:
        return replace(guess, char=partners[0])
    best = max(partners, key=lambda c: guess.probs[ALPHABET.index(c)])
    evidence = guess.probs[ALPHABET.index(best)]
    return replace(guess, char=best, confidence=evidence) if evidence >= MIN_EVIDENCE else None


def fit(chars: tuple[CharGuess, ...], pattern: str) -> tuple[tuple[CharGuess, ...], int] | None:
    """The read made to follow `pattern` by look-alike swaps, and how many were needed; None if it cannot."""
    if len(chars) != len(pattern):
        return None
    out, changes = [], 0
    for guess, kind in zip(chars, pattern, strict=True):
        if _kind(guess.char) == kind:
            out.append(guess)
            continue
        swapped = _swap(guess, kind)
        if swapped is None:
            return None
        out.append(swapped)
        changes += 1
    return tuple(out), changes


def correct_chars(chars: tuple[CharGuess, ...], region: str | None) -> tuple[CharGuess, ...]:
    """The read corrected to the region's one best-fitting format (unchanged on no fit or a tie), then its
    letters that the region prints as digits (`DIGIT_GLYPH_LETTERS`) read as those digits outside the fitted
    format's letter places."""
    fits = [(pattern, *fitted) for pattern in REGION_FORMATS.get(region or "", ()) if (fitted := fit(chars, pattern))]
    fewest = min((changes for _, _, changes in fits), default=0)
    best = {_text(result): (result, pattern) for pattern, result, changes in fits if changes == fewest}
    result, pattern = next(iter(best.values())) if len(best) == 1 else (chars, None)
    return _digit_glyphs(result, pattern, region)


def _digit_glyphs(chars: tuple[CharGuess, ...], pattern: str | None, region: str | None) -> tuple[CharGuess, ...]:
    as_digit = DIGIT_GLYPH_LETTERS.get(region or "", {})
    if not as_digit:
        return chars
    out = []
    for i, guess in enumerate(chars):
        digit = as_digit.get(guess.char)
        if digit is None or (pattern is not None and pattern[i] == "L"):
            out.append(guess)
            continue
        # The letter cannot be there: its probability is the digit's (the two are one glyph).
        confidence = guess.confidence
        if guess.probs is not None:
            confidence = guess.probs[ALPHABET.index(guess.char)] + guess.probs[ALPHABET.index(digit)]
        out.append(replace(guess, char=digit, confidence=min(1.0, confidence)))
    return tuple(out)


def plausible(text: str, region: str | None) -> bool:
    """Whether `text` can be a plate of `region`: within its length limits, and for a region whose formats are
    exhaustive, of one of them (letters and digits exactly where the format has them). Unknown regions: any."""
    if not region or region not in PLATE_LENGTHS:
        return True
    shortest, longest = PLATE_LENGTHS[region]
    if not shortest <= len(text) <= longest:
        return False
    if region in EXHAUSTIVE_REGIONS:
        kinds = "".join(_kind(c) for c in text)
        return kinds in REGION_FORMATS[region]
    return True


def apply_region_format(text: str, region: str | None) -> str:
    """`correct_chars` for a bare text (no probabilities: every look-alike counts as evidence)."""
    return _text(correct_chars(tuple(CharGuess(c, 1.0) for c in text), region))


def _text(chars: tuple[CharGuess, ...]) -> str:
    return "".join(c.char for c in chars)
