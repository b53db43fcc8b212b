"""Text as people send it, made safe to store and compare: the same on PostgreSQL and SQLite.

Every text field is normalised to Unicode NFC and trimmed, refuses control characters (NUL
among them, which PostgreSQL refuses and SQLite stores), lone surrogates and bidirectional
controls (which can make a label read backwards), and is empty, hence refused, if nothing but
invisible characters remain. `same_key` is what two options must differ in: options that
only differ in case, width, invisible characters or spacing look alike and are duplicates.

`PATTERN` is the same rule as a regular expression, for the OpenAPI document: a text matches
it exactly when `clean` accepts it and leaves something visible. Only characters of the Basic
Multilingual Plane are trimmed as invisible: the format characters beyond it are the tag
characters of emoji flags, which end a flag and must stay.
"""

from __future__ import annotations

import unicodedata

# Explicit bidirectional formatting: embeddings, overrides, isolates and marks.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def _invisible(char: str) -> bool:
    if ord(char) > 0xFFFF:
        return False
    return char.isspace() or unicodedata.category(char) in ("Cf", "Zs", "Zl", "Zp")


def _refused(char: str) -> bool:
    return char in BIDI_CONTROLS or unicodedata.category(char) in ("Cc", "Cs")


def _char_class(chars: list[int], negate: bool = False) -> str:
    """A regex character class of these BMP code points, as \\uXXXX ranges."""
    ranges: list[tuple[int, int]] = []
    for code in chars:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    body = "".join(f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)
    return f"[{'^' if negate else ''}{body}]"


def _pattern() -> str:
    bmp = [chr(code) for code in range(0x10000)]
    trimmed = [ord(c) for c in bmp if _invisible(c) and c not in BIDI_CONTROLS]
    # Lone surrogates are no Unicode scalar values: no JSON Schema string holds one, and
    # regex engines refuse them in a class (clean refuses them all the same).
    refused = [ord(c) for c in bmp if _refused(c) and unicodedata.category(c) != "Cs"]
    edge = _char_class(trimmed)
    inner = _char_class(refused, negate=True)
    visible = _char_class(sorted(set(trimmed) | set(refused)), negate=True)
    return f"^{edge}*{visible}(?:{inner}*{visible})?{edge}*$"


PATTERN = _pattern()


def clean(text: str) -> str:
    """The text in NFC without leading or trailing whitespace or invisible characters; a
    ValueError says what is wrong with what is left otherwise."""
    text = unicodedata.normalize("NFC", text)
    if not BIDI_CONTROLS.isdisjoint(text):
        raise ValueError("must not contain bidirectional control characters")
    start, end = 0, len(text)
    while start < end and _invisible(text[start]):
        start += 1
    while end > start and _invisible(text[end - 1]):
        end -= 1
    text = text[start:end]
    for char in text:
        category = unicodedata.category(char)
        if category == "Cc":
            raise ValueError("must not contain control characters (such as NUL or a line break)")
        if category == "Cs":
            raise ValueError("must be valid Unicode (it contains a lone surrogate)")
    if all(_invisible(char) for char in text):
        return ""
    return text


def same_key(text: str) -> str:
    """What two texts are compared by: NFKC, case-folded, invisible characters dropped and
    spaces collapsed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    visible = "".join(" " if char.isspace() else char for char in folded if not _hidden(char))
    return " ".join(visible.split())


def _hidden(char: str) -> bool:
    return unicodedata.category(char) == "Cf"
