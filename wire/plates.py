"""Plate text compared as the box compares it: look-alike characters are one symbol. Pure.

The box matches reads against its hot list in this canonical form (`edge.alpr.matching`), and the hub searches
the reads it holds in the same form (`hub.plate_search`), so a search for "BOB1234" finds a read of "8OB1234"
exactly as the box would have matched it. Defined once, here, for both.
"""

from __future__ import annotations

#: O, Q, D → 0; I → 1; Z → 2; S → 5; G → 6; B → 8.
CANONICAL = str.maketrans({"O": "0", "Q": "0", "D": "0", "I": "1", "Z": "2", "S": "5", "G": "6", "B": "8"})


def canonical(plate: str) -> str:
    """`plate` upper-cased, without spaces or hyphens, each look-alike as its one symbol."""
    return plate.upper().replace(" ", "").replace("-", "").translate(CANONICAL)


def deletions(text: str) -> set[str]:
    """Every string `text` gives with one character removed."""
    return {text[:i] + text[i + 1:] for i in range(len(text))}


def within_one_edit(a: str, b: str) -> bool:
    """Whether `a` and `b` differ by at most one substituted, missing or extra character."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    return shorter in deletions(longer)
