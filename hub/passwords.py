"""Password rules after NIST SP 800-63B §5.1.1.2 (memorised secrets): plain functions over plain data.

A password is refused when it is
- shorter than 12 characters (the hub's floor; NIST's is 8) or longer than 1024 (NIST: allow at least 64);
- containing the user name (or a part of it of four characters or more) or the name of this service;
- a repeated or sequential pattern: a shorter unit said again (abcabc…, iloveyouiloveyou), or fewer than six
  characters that do not simply repeat or continue a run (aaaa, abcd, 4321, qwerty);
- on the list of the most common passwords shipped with the hub (`common-passwords.txt`, from zxcvbn), also
  after dropping digits and symbols at either end (dragon2024!) and undoing look-alike letters (p@ssw0rd).
There are no composition rules (no "a digit and a symbol") and any characters are allowed. Reasons name the
rule, never the password.
"""

from __future__ import annotations

import functools
import re
from importlib.resources import files

MIN_LENGTH = 12
MAX_LENGTH = 1024
SERVICE_NAME = "canvass"
#: Fewer characters than this that neither repeat nor continue a run make a password a pattern.
MIN_SURPRISES = 6

_KEYBOARD_ROWS = ("`1234567890-=", "qwertyuiop[]", "asdfghjkl;'", "zxcvbnm,./")
_KEY_AT = {key: (row, column) for row, keys in enumerate(_KEYBOARD_ROWS) for column, key in enumerate(keys)}
_LOOK_ALIKES = str.maketrans({"@": "a", "4": "a", "0": "o", "3": "e", "$": "s", "5": "s", "7": "t", "1": "i",
                              "!": "i", "|": "l", "+": "t"})


class PasswordPolicyError(ValueError):
    """Raised by `check_password_policy` for a password the rules refuse; the message names the rule."""


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords, lower-case (read once, on first use)."""
    text = files("hub").joinpath("common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def check_password_policy(password: str, *, username: str = "", common: frozenset[str] | None = None) -> None:
    """Raise `PasswordPolicyError` saying which rule `password` (for `username`, when known) breaks."""
    if len(password) < MIN_LENGTH:
        raise PasswordPolicyError(f"password must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError(f"password must be at most {MAX_LENGTH} characters")
    lower = password.lower()
    if any(part in lower for part in name_parts(username)):
        raise PasswordPolicyError("password must not contain the user name")
    if SERVICE_NAME in lower:
        raise PasswordPolicyError(f"password must not contain the name of this service ({SERVICE_NAME})")
    if is_pattern(lower):
        raise PasswordPolicyError("password is a repeated or sequential pattern (like aaaa, abcabc, 12345 or qwerty)")
    if common_forms(lower) & (common_passwords() if common is None else common):
        raise PasswordPolicyError("password is too common: it is on a list of the most used passwords")


def name_parts(username: str) -> set[str]:
    """The user name and its parts (split at . _ @ - and the like) of four characters or more, lower-case."""
    name = username.lower()
    return {part for part in [name, *re.split(r"[^a-z0-9]+", name)] if len(part) >= 4}


def period(text: str) -> int:
    """The length of the shortest unit `text` repeats (its own length when it repeats none)."""
    for size in range(1, len(text) // 2 + 1):
        if all(text[i] == text[i - size] for i in range(size, len(text))):
            return size
    return len(text)


def follows(previous: str, char: str) -> bool:
    """Whether `char` comes predictably after `previous`: the same, the next or previous one, or the key beside."""
    if abs(ord(char) - ord(previous)) <= 1:
        return True
    a, b = _KEY_AT.get(previous), _KEY_AT.get(char)
    return a is not None and b is not None and a[0] == b[0] and abs(a[1] - b[1]) == 1


def surprises(text: str) -> int:
    """How many characters of `text` neither repeat nor continue a run."""
    return sum(1 for i, char in enumerate(text) if i == 0 or not follows(text[i - 1], char))


def is_pattern(lower: str) -> bool:
    return period(lower) <= len(lower) // 2 or surprises(lower) < MIN_SURPRISES


def common_forms(lower: str) -> set[str]:
    """The forms of a lower-case password looked up in the common list."""
    trimmed = lower.strip("".join({c for c in lower if not c.isalpha()}))
    forms = {lower, trimmed, lower.translate(_LOOK_ALIKES), trimmed.translate(_LOOK_ALIKES)}
    return {form for form in forms if form}
