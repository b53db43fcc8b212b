"""A word cloud laid out on the server and drawn as SVG: no client library, no CDN.

Sizes. The `MAX_WORDS` most frequent answers are drawn (count descending, then key). A word's
font size is proportional to the square root of its count, so that its area is proportional
to the count: `MAX_FONT * sqrt(count / top count)`, at least `MIN_FONT`. If the words would
cover more than `FILL` of the picture, every size is scaled down by the same factor (never
below `MIN_FONT`), so a hundred answers given once each still fit, and a long answer is made
small enough to take at most `WIDEST` of the width. Sizes are whole pixels.

Widths. The server has no font metrics: a word's width is estimated from its characters
(narrow, wide, capitals, East Asian wide, zero-width marks), and the SVG sets `textLength` to
that width, so whatever font the browser picks draws the word exactly in its box.

Places. Words are horizontal and placed in turn, biggest first, each at the free place
nearest the centre (distances stretched to the picture's aspect): where a fine spiral walk
out from the centre would stop, found on a grid of `CELL`-pixel cells kept as one int of bits
per row, so 100 words take milliseconds rather than a walk over thousands of points each.
Ties go left or right, up or down, by a CRC-32 of the word's key, so words spread around the
centre and the same input always gives the same picture (no randomness, no salted hash).

Stability. `layout(counts, previous)` first keeps every word of `previous` that is still
drawn at its previous centre, at its new size: those whose box did not grow first (their
boxes shrank around their centres, so they cannot collide), then those that grew, biggest
first, as long as they still fit there. Only the words that do not (they grew into a
neighbour) and new words are then placed around them. A word that is no longer drawn
(hidden, or pushed out of the top) frees its space. A word that finds no room at all is
counted in `unplaced` and left out of the picture, but not out of the text alternative.

The picture is an `<svg role="img">` with a `<title>` and a `<desc>` listing the most frequent
answers with their counts, for screen readers; words are filled with `currentColor` and carry
the classes `wordcloud-word wordcloud-tN` (N = 1 for the biggest fifth of the sizes .. 5) for
the page's light and dark styles.
"""

from __future__ import annotations

import math
import re
import unicodedata
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from typing import Any

from webapp.questions.answers import AnswerCount

WIDTH = 800
HEIGHT = 450
MIN_FONT = 14
MAX_FONT = 64
MAX_WORDS = 100
FILL = 0.3  # the share of the picture the words' boxes may cover
WIDEST = 0.8  # a long word's size is capped so that it takes at most this share of the width
PADDING = 2  # pixels around each word's box
LINE = 1.15  # a box's height, in font sizes
DESCRIBED = 20  # words named in the <desc>
CELL = 4  # the occupancy grid's cell, in pixels
_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")


@dataclass(frozen=True)
class Placed:
    """One drawn word: its centre (x, y), font size and box (width, height) in pixels."""

    key: str
    text: str
    count: int
    size: int
    x: int
    y: int
    width: int
    height: int

    @property
    def box(self) -> tuple[int, int, int, int]:
        left = self.x - self.width // 2
        top = self.y - self.height // 2
        return left, top, left + self.width, top + self.height


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    words: tuple[Placed, ...]  # in drawing order: count descending, then key
    answers: int  # every answer counted, drawn or not
    distinct: int  # distinct answers, drawn or not
    unplaced: tuple[AnswerCount, ...] = ()  # among the top MAX_WORDS, found no room

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, to keep the layout between updates (see `from_dict`)."""
        return {
            "width": self.width,
            "height": self.height,
            "answers": self.answers,
            "distinct": self.distinct,
            "words": [
                [w.key, w.text, w.count, w.size, w.x, w.y, w.width, w.height] for w in self.words
            ],
            "unplaced": [[u.key, u.text, u.count] for u in self.unplaced],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Layout:
        """The layout `to_dict` gave; ValueError if `data` is not one."""
        try:
            words = tuple(
                Placed(str(k), str(t), int(c), int(s), int(x), int(y), int(w), int(h))
                for k, t, c, s, x, y, w, h in data["words"]
            )
            unplaced = tuple(AnswerCount(str(k), str(t), int(c)) for k, t, c in data["unplaced"])
            return cls(
                int(data["width"]),
                int(data["height"]),
                words,
                int(data["answers"]),
                int(data["distinct"]),
                unplaced,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a word-cloud layout: {exc!r}") from None


def _char_width(char: str) -> float:
    """An estimate of a character's advance, in font sizes, for a semi-bold sans-serif."""
    category = unicodedata.category(char)
    if category in ("Mn", "Me", "Cf") or 0x1F3FB <= ord(char) <= 0x1F3FF:
        return 0.0  # combining marks, joiners, variation selectors, skin tones
    if unicodedata.east_asian_width(char) in ("W", "F"):
        return 1.0
    if char in "iIjl1.,:;'!|()[]{} ":
        return 0.32 if char != " " else 0.28
    if char in "mwMW@%":
        return 0.92
    if char.isupper():
        return 0.7
    if char.isdigit():
        return 0.58
    return 0.58 if category.startswith("L") else 0.62


@lru_cache(maxsize=4096)  # bounded: answers are many and arbitrary
def _em_width(text: str) -> float:
    return sum(_char_width(char) for char in text)


def _box(text: str, size: int) -> tuple[int, int]:
    return (
        math.ceil(max(_em_width(text), 0.5) * size) + 2 * PADDING,
        math.ceil(size * LINE) + 2 * PADDING,
    )


def _sizes(words: list[AnswerCount], width: int, height: int) -> list[int]:
    if not words:
        return []
    top = max(word.count for word in words)
    raw = [max(MIN_FONT, MAX_FONT * math.sqrt(word.count / top)) for word in words]
    area = sum(_em_width(w.text) * s * s * LINE for w, s in zip(words, raw, strict=True))
    scale = min(1.0, math.sqrt(FILL * width * height / area)) if area else 1.0
    widest = [
        math.floor((width * WIDEST - 2 * PADDING) / max(_em_width(w.text), 0.5)) for w in words
    ]
    return [
        max(MIN_FONT, min(round(size * scale), most))
        for size, most in zip(raw, widest, strict=True)
    ]


class _Grid:
    """Which `CELL`-pixel cells the boxes placed so far touch: one int of bits per row."""

    def __init__(self, width: int, height: int) -> None:
        self.cols, self.nrows = width // CELL, height // CELL
        self.width, self.height = self.cols * CELL, self.nrows * CELL
        self.full = (1 << self.cols) - 1
        self.rows = [0] * self.nrows

    @staticmethod
    def _cells(box: tuple[int, int, int, int]) -> tuple[int, int, int]:
        left, top, right, bottom = box
        mask = ((1 << ((right - 1) // CELL + 1)) - 1) ^ ((1 << (left // CELL)) - 1)
        return mask, top // CELL, (bottom - 1) // CELL + 1

    def fits(self, box: tuple[int, int, int, int]) -> bool:
        left, top, right, bottom = box
        if left < 0 or top < 0 or right > self.width or bottom > self.height:
            return False
        mask, first, last = self._cells(box)
        return not any(row & mask for row in self.rows[first:last])

    def add(self, box: tuple[int, int, int, int]) -> None:
        mask, first, last = self._cells(box)
        for index in range(first, last):
            self.rows[index] |= mask

    def nearest(self, w: int, h: int, key: str) -> tuple[int, int] | None:
        """The top-left pixel of the free box of w x h pixels, on the cell grid, whose centre
        is nearest the picture's centre (distance stretched to the picture's aspect): where
        a fine spiral walk from the centre would stop, found without walking it. Ties go
        left or right, up or down, by a CRC-32 of the key."""
        span, depth = -(-w // CELL), -(-h // CELL)
        if span > self.cols or depth > self.nrows:
            return None
        mirror = zlib.crc32(key.encode()) & 3
        aspect = (self.width / self.height) ** 2
        centre_x, centre_y = self.width / 2 - w / 2, self.height / 2 - h / 2
        target = max(0, min(self.cols - span, round(centre_x / CELL)))
        tops = range(self.nrows - depth + 1)
        best: tuple[float, int, int] | None = None
        for top in reversed(tops) if mirror & 2 else tops:
            dy = top * CELL - centre_y
            if best is not None and dy * dy >= best[0]:
                continue
            band = 0
            for row in self.rows[top : top + depth]:
                band |= row
            starts, run = ~band & self.full, 1
            while run < span and starts:
                shift = min(run, span - run)
                starts &= starts >> shift
                run += shift
            if not starts:
                continue
            below = starts & ((1 << (target + 1)) - 1)
            above = starts >> target
            choices = []
            if below:
                choices.append(below.bit_length() - 1)
            if above:
                choices.append(target + (above & -above).bit_length() - 1)
            for column in reversed(choices) if mirror & 1 else choices:
                dx = column * CELL - centre_x
                distance = dx * dx / aspect + dy * dy
                if best is None or distance < best[0]:
                    best = (distance, column * CELL, top * CELL)
        return None if best is None else (best[1], best[2])


def _at(word: AnswerCount, size: int, x: int, y: int) -> Placed:
    w, h = _box(word.text, size)
    return Placed(word.key, word.text, word.count, size, x, y, w, h)


def _grew(new: Placed, old: Placed) -> bool:
    return new.width > old.width or new.height > old.height


def _free_place(word: AnswerCount, size: int, grid: _Grid) -> Placed | None:
    w, h = _box(word.text, size)
    corner = grid.nearest(w, h, word.key)
    if corner is None:
        return None
    return Placed(
        word.key, word.text, word.count, size, corner[0] + w // 2, corner[1] + h // 2, w, h
    )


def top_words(counts: Iterable[AnswerCount], limit: int = MAX_WORDS) -> list[AnswerCount]:
    """The `limit` most frequent answers with a positive count: count descending, then key."""
    return sorted((c for c in counts if c.count > 0), key=lambda c: (-c.count, c.key))[:limit]


def layout(
    counts: Iterable[AnswerCount],
    previous: Layout | None = None,
    width: int = WIDTH,
    height: int = HEIGHT,
    max_words: int = MAX_WORDS,
) -> Layout:
    """The cloud of these answer counts (one per key), keeping the places of `previous`."""
    every = [c for c in counts if c.count > 0]
    if len({c.key for c in every}) != len(every):
        raise ValueError("one count per key")
    chosen = top_words(every, max_words)
    sizes = dict(zip((w.key for w in chosen), _sizes(chosen, width, height), strict=True))
    before = {}
    if previous is not None and (previous.width, previous.height) == (width, height):
        before = {w.key: w for w in previous.words}
    grid = _Grid(width, height)
    placed: dict[str, Placed] = {}
    # Words that did not grow keep their places first: their boxes shrank around their old
    # centres, so they cannot collide. Then those that grew, biggest first, where they fit.
    staying = [
        (_at(word, sizes[word.key], before[word.key].x, before[word.key].y), before[word.key])
        for word in chosen
        if word.key in before
    ]
    for kept, _ in sorted(staying, key=lambda pair: _grew(*pair)):
        if grid.fits(kept.box):
            grid.add(kept.box)
            placed[kept.key] = kept
    unplaced: list[AnswerCount] = []
    for word in chosen:
        if word.key in placed:
            continue
        new = _free_place(word, sizes[word.key], grid)
        if new is None:
            unplaced.append(word)
        else:
            grid.add(new.box)
            placed[word.key] = new
    return Layout(
        width=width,
        height=height,
        words=tuple(placed[w.key] for w in chosen if w.key in placed),
        answers=sum(c.count for c in every),
        distinct=len(every),
        unplaced=tuple(unplaced),
    )


_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    """Text for an SVG element or attribute: escaped, and without characters XML forbids."""
    return escape(_NOT_XML.sub("\ufffd", text), quote=True)


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def description(layout: Layout, limit: int = DESCRIBED) -> str:
    """What the picture shows, in words: the counts, then the most frequent answers."""
    if not layout.distinct:
        return "No answers yet."
    heading = (
        f"{_plural(layout.answers, 'answer', 'answers')}, "
        f"{_plural(layout.distinct, 'different one', 'different ones')}."
    )
    words = sorted(
        [(w.key, w.text, w.count) for w in layout.words]
        + [(u.key, u.text, u.count) for u in layout.unplaced],
        key=lambda w: (-w[2], w[0]),
    )
    named = "; ".join(f"{text}: {count}" for _, text, count in words[:limit])
    more = layout.distinct - min(limit, len(words))
    return f"{heading} Most frequent: {named}{f'; and {more} more' if more else ''}."


def svg(layout: Layout, title: str = "Word cloud", id_prefix: str = "wordcloud") -> str:
    """The layout as one `<svg>` element, to put in a page or a live message."""
    if not _ID.fullmatch(id_prefix):
        raise ValueError("id_prefix: a letter then up to 63 letters, digits, '-' or '_'")
    sizes = sorted({w.size for w in layout.words}, reverse=True)
    tiers = {size: 1 + (5 * i) // len(sizes) for i, size in enumerate(sizes)}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="wordcloud" role="img"'
        f' viewBox="0 0 {layout.width} {layout.height}"'
        f' aria-labelledby="{id_prefix}-title {id_prefix}-desc">',
        f'<title id="{id_prefix}-title">{_xml(title)}</title>',
        f'<desc id="{id_prefix}-desc">{_xml(description(layout))}</desc>',
        '<g fill="currentColor" text-anchor="middle" dominant-baseline="central"'
        ' font-family="system-ui, sans-serif" font-weight="600">',
    ]
    for word in layout.words:
        parts.append(
            f'<text class="wordcloud-word wordcloud-t{tiers[word.size]}"'
            f' x="{word.x}" y="{word.y}" font-size="{word.size}"'
            f' textLength="{word.width - 2 * PADDING}" lengthAdjust="spacingAndGlyphs">'
            f"{_xml(word.text)}</text>"
        )
    parts.append("</g></svg>")
    return "".join(parts)
