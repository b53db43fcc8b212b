"""A word cloud's results, from its running count per word (`word_count`), laid out so that
words keep their places between updates.

The layout is state, not a per-process memory: the last one is kept in `question_view`
with the seq it was made at. A reader at that seq takes it as it is (one statement); a
reader at a later seq lays the counts out again around it (`wordcloud.layout(counts,
previous)`) and stores the new one with `INSERT ... ON CONFLICT DO UPDATE ... WHERE seq <`,
so the newest wins; a loser of the race writes nothing and shows the winner's layout, so
that two readers of one seq never show two pictures. The counts and the seq come from
one statement, so a stored layout is always the picture of its seq. Readers are the live
hub (once per live interval per poll, whatever the burst), the API and the pages.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from typing import Any

from webapp.db import is_foreign_key_violation
from webapp.kinds.details import WordCloudDetail, WordView
from webapp.questions.answers import AnswerCount
from webapp.questions.wordcloud import (
    HEIGHT,
    MAX_WORDS,
    WIDTH,
    Layout,
    Placed,
    layout,
    svg,
)
from webapp.tables import Poll

log = logging.getLogger(__name__)

# Hidden words and words whose every answer was withdrawn are out of the picture.
# The seq, the totals and the words that can be drawn, in one statement (so they agree): only
# the MAX_WORDS most frequent rows are read (the (poll, count) index), however many differ.
_SHOWN = "FROM word_count WHERE poll = {} AND count > 0 AND NOT hidden"
COUNTS_SQL = (
    "SELECT p.seq, t.answers, t.words, w.answer_key, w.text, w.count FROM poll p"
    f" LEFT JOIN (SELECT sum(count) AS answers, count(*) AS words {_SHOWN}) t ON 1 = 1"
    f" LEFT JOIN (SELECT answer_key, text, count {_SHOWN}"
    f" ORDER BY count DESC, answer_key LIMIT {MAX_WORDS}) w ON 1 = 1"
    " WHERE p.id = {}"
)
VIEW_SQL = "SELECT seq, view FROM question_view WHERE poll = {}"
STORE_SQL = (
    "INSERT INTO question_view (poll, seq, view) VALUES ({}, {}, {})"
    " ON CONFLICT (poll) DO UPDATE SET seq = excluded.seq, view = excluded.view"
    " WHERE question_view.seq < excluded.seq RETURNING seq"
)
MINE_SQL = (
    'SELECT slot, answer_key, text FROM word_answer WHERE poll = {} AND "user" = {} ORDER BY slot'
)
WORDS_SQL = (
    "SELECT answer_key, text, count, hidden FROM word_count WHERE poll = {}"
    " AND (count > 0 OR hidden) ORDER BY hidden DESC, count DESC, answer_key LIMIT {}"
)
CREATOR_SQL = "SELECT creator FROM poll WHERE id = {}"
MODERATED = 100  # the words the owner's hide and unhide list shows


@dataclass
class MyWord:
    slot: int
    key: str
    text: str


@dataclass
class MyWords:
    """A person's own answers (what `GET .../words/mine` returns), in slot order."""

    poll_id: int
    answers_per_person: int
    answers: list[MyWord]


@dataclass
class Moderated:
    key: str
    text: str
    count: int
    hidden: bool


@dataclass
class WordsOfPage:
    """What the voting block shows: the person's answers and, to the owner, the words to
    hide or unhide (hidden first, then the most frequent)."""

    answers: list[MyWord]
    moderation: list[Moderated] | None


def _stored(rows: list[dict[str, Any]]) -> tuple[int, Layout | None]:
    if not rows:
        return -1, None
    try:
        return int(rows[0]["seq"]), Layout.from_dict(json.loads(rows[0]["view"]))
    except ValueError:  # not a layout (JSON or shape): lay out afresh, and overwrite it
        log.warning("question_view of a word cloud is not a layout", exc_info=True)
        return -1, None


async def current_layout(poll_id: int, seq: int | None = None) -> Layout:
    """The poll's layout at `seq` (the seq the caller read) or later."""
    seq_stored, stored = _stored(await Poll.raw(VIEW_SQL, poll_id))
    if stored is not None and seq is not None and seq_stored >= seq:
        return stored
    rows = await Poll.raw(COUNTS_SQL, poll_id, poll_id, poll_id)
    if not rows:
        return stored or layout([])
    now = int(rows[0]["seq"])
    if stored is not None and seq_stored >= now:
        return stored
    counts = [
        AnswerCount(row["answer_key"], row["text"], int(row["count"]))
        for row in rows
        if row["answer_key"] is not None
    ]
    totals = rows[0]
    made = replace(
        layout(counts, stored),
        answers=int(totals["answers"] or 0),
        distinct=int(totals["words"] or 0),
    )
    try:
        if await Poll.raw(STORE_SQL, poll_id, now, json.dumps(made.to_dict())):
            return made
    except Exception as exc:
        if not is_foreign_key_violation(exc):  # the poll was deleted meanwhile
            raise
        return made
    # Another reader stored this seq (or a newer one) first, perhaps laid out around another
    # previous layout: show what every other screen shows, not a picture of our own.
    seq_won, won = _stored(await Poll.raw(VIEW_SQL, poll_id))
    return won if won is not None and seq_won >= now else made


def detail_of(made: Layout) -> WordCloudDetail:
    return WordCloudDetail(
        answers=made.answers,
        distinct=made.distinct,
        words=[
            WordView(w.key, w.text, w.count, w.size, w.x, w.y, w.width, w.height)
            for w in made.words
        ],
        more=made.distinct - len(made.words),
    )


async def detail(poll: dict[str, Any]) -> WordCloudDetail:
    return detail_of(await current_layout(poll["id"], poll.get("seq")))


def picture(found: WordCloudDetail, poll_id: int) -> str:
    """The detail's words as the SVG the pages and the live HTML stream show."""
    words = tuple(
        Placed(w.key, w.text, w.count, w.size, w.x, w.y, w.width, w.height) for w in found.words
    )
    shown = Layout(WIDTH, HEIGHT, words, found.answers, found.distinct)
    return svg(shown, "Word cloud of the answers", id_prefix=f"wordcloud-{poll_id}")


async def answers_of(poll_id: int, user_id: int) -> list[MyWord]:
    rows = await Poll.raw(MINE_SQL, poll_id, user_id)
    return [MyWord(int(row["slot"]), row["answer_key"], row["text"]) for row in rows]


async def words_of_page(poll_id: int, user_id: int) -> WordsOfPage:
    """The person's answers, and the words to moderate if they made the poll."""
    answers = await answers_of(poll_id, user_id)
    rows = await Poll.raw(CREATOR_SQL, poll_id)
    if not rows or rows[0]["creator"] != user_id:
        return WordsOfPage(answers, None)
    words = await Poll.raw(WORDS_SQL, poll_id, MODERATED)
    return WordsOfPage(
        answers,
        [Moderated(w["answer_key"], w["text"], int(w["count"]), bool(w["hidden"])) for w in words],
    )
