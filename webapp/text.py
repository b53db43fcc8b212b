"""Text as people send it, made safe to store and compare: the same on PostgreSQL and SQLite.

Every text field is normalised to Unicode NFC and trimmed, refuses control characters (NUL
among them, which PostgreSQL refuses and SQLite stores), lone surrogates and bidirectional
controls (which can make a label read backwards), and is empty, hence refused, if nothing but
invisible characters remain. `same_key` is what two options must differ in: options that
only differ in case, width, invisible characters or spacing look alike and are duplicates.
"""

from __future__ import annotations

import unicodedata

# Explicit bidirectional formatting: embeddings, overrides, isolates and marks.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def _invisible(char: str) -> bool:
    return char.isspace() or unicodedata.category(char) in ("Cf", "Zs", "Zl", "Zp")


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
