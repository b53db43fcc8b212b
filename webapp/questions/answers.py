"""Answers as people type them, made countable (word clouds) or showable (open text, Q&A).

Both start with `webapp.text.clean` (NFC, trimmed, no control characters, lone surrogates or
bidirectional controls, not invisible-only) and refuse with `Invalid` naming the field.

A word-cloud answer is one line. Tabs and line breaks count as spaces, then it is put in
NFKC (full-width letters, ligatures and the like become their plain forms), its surrounding
punctuation is stripped and inner whitespace collapsed to one space: that is its `text`, the
form shown. Its `key` is `webapp.text.same_key` of the text (case-folded, format characters
dropped): answers with the same key count as one word. Which spelling a word is shown in is
the first one seen: the counts row stores the text of the answer that created it, and an
upsert never has to compare spellings (see `count_answers`).

Surrounding punctuation is every Unicode punctuation character at either end, but for the
few that carry meaning there: `#` and `%` at the end (C#, F#, 100%), `#`, `@` and `.` at the
start (#hashtag, @handle, .NET). Symbols (`+`, `$`, emoji) are never stripped (C++).

Open text and Q&A questions keep their line breaks: each line is cleaned on its own, runs of
spaces and tabs become one space, at most one empty line is kept between paragraphs, and at
most `TEXT_LINES` lines are allowed. They stay in NFC (NFKC would change m² into m2).

Lengths are counted in code points, both as sent (a bound on the work done on a hostile
body) and once normalised (NFKC can lengthen a text).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from webapp.errors import Invalid
from webapp.text import clean, same_key

ANSWER_MAX = 40  # a word-cloud answer, in characters
KEY_MAX = 3 * ANSWER_MAX  # its key: case folding can triple a character (ΐ)
TEXT_MAX = 1000  # an open-text answer or an audience question
TEXT_LINES = 20

_KEEP_AT_END = frozenset("#%")
_KEEP_AT_START = frozenset("#@.")
_BLANKS = re.compile(r"[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")


@dataclass(frozen=True)
class Answer:
    """A normalised word-cloud answer: `text` to show, `key` to count by."""

    key: str
    text: str


@dataclass(frozen=True)
class AnswerCount:
    key: str
    text: str
    count: int


def _punctuation(char: str) -> bool:
    return unicodedata.category(char).startswith("P")


def _strip_edges(text: str) -> str:
    """`text` (cleaned) without punctuation or invisible characters at either end: the
    punctuation goes here, the invisible characters by `clean`, until neither is left."""
    while True:
        start, end = 0, len(text)
        while start < end and _punctuation(text[start]) and text[start] not in _KEEP_AT_START:
            start += 1
        while end > start and _punctuation(text[end - 1]) and text[end - 1] not in _KEEP_AT_END:
            end -= 1
        if (start, end) == (0, len(text)):
            return text
        text = clean(text[start:end])


def _cleaned(text: str, field: str) -> str:
    try:
        return clean(text)
    except ValueError as exc:
        raise Invalid(field, str(exc)) from None


def _too_long(field: str, max_length: int, once: str = "") -> Invalid:
    return Invalid(field, f"should have at most {max_length} characters{once}")


def normalise_answer(text: str, field: str = "answer", max_length: int = ANSWER_MAX) -> Answer:
    """A word-cloud answer's display text and counting key; Invalid naming `field` if it is
    too long, holds a refused character, or nothing but punctuation and spaces."""
    if len(text) > max_length:
        raise _too_long(field, max_length)
    text = _cleaned(text.replace("\t", " ").replace("\r", " ").replace("\n", " "), field)
    if not text:
        raise Invalid(field, "must not be empty (spaces and invisible characters do not count)")
    text = _strip_edges(_cleaned(unicodedata.normalize("NFKC", text), field))
    text = " ".join(text.split())
    key = same_key(text)
    if all(_punctuation(char) or char == " " for char in key):
        raise Invalid(field, "must contain a word (punctuation and spaces do not count)")
    if len(text) > max_length:
        raise _too_long(field, max_length, " once normalised")
    return Answer(key=key, text=text)


def normalise_text(text: str, field: str = "text", max_length: int = TEXT_MAX) -> str:
    """Open text or an audience question, in NFC, paragraphs kept; Invalid naming `field`."""
    if len(text) > max_length:
        raise _too_long(field, max_length)
    lines: list[str] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = _cleaned(_BLANKS.sub(" ", raw), field)
        if line or (lines and lines[-1]):
            lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise Invalid(field, "must not be empty (spaces and invisible characters do not count)")
    if len(lines) > TEXT_LINES:
        raise Invalid(field, f"should have at most {TEXT_LINES} lines")
    joined = "\n".join(lines)
    if len(joined) > max_length:
        raise _too_long(field, max_length, " once normalised")
    return joined


def count_answers(answers: Iterable[Answer]) -> list[AnswerCount]:
    """Answers counted by key, in the order their keys were first seen, each shown in the
    spelling it was first seen in: what the counts table holds after these answers were
    upserted one by one."""
    counts: dict[str, AnswerCount] = {}
    for answer in answers:
        seen = counts.get(answer.key)
        counts[answer.key] = AnswerCount(
            answer.key, seen.text if seen else answer.text, seen.count + 1 if seen else 1
        )
    return list(counts.values())
