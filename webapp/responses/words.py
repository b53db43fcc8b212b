"""A word cloud's answers: up to the poll's `answers_per_person` per person, each in a
numbered slot (`word_answer`, keyed (poll, user, slot) and unique per (poll, user, key)),
and one running count per word (`word_count`, keyed (poll, key)).

Every write runs under the poll's lock, so one poll's answers are serialised (answers go in
by batches, webapp/responses/word_batches.py; a withdrawal in `respond`); the keys hold the
rules even so. The count is an upsert: identical answers sent at the same
moment are one row counted once each, and `hidden` is never touched by it, so a word the
owner hid stays hidden for later answers too.
"""

from __future__ import annotations

from typing import Any

from webapp import refusals
from webapp.errors import Invalid, NotFound
from webapp.questions.answers import normalise_answer
from webapp.responses import Change, Keyed, moderate, respond
from webapp.responses.word_batches import give
from webapp.tables import Kind, Poll
from webapp.text import same_key
from webapp.votes import Voter

FIELD = "answer"
SLOTS_MAX = 10  # answers_per_person is at most this (a CHECK on poll and word_answer)
DELETE_SQL = (
    'DELETE FROM word_answer WHERE poll = {} AND "user" = {} AND slot = {} RETURNING answer_key'
)
UNCOUNT_SQL = "UPDATE word_count SET count = count - 1 WHERE poll = {} AND answer_key = {}"
LEFT_SQL = 'SELECT count(*) AS n FROM word_answer WHERE poll = {} AND "user" = {}'
HIDE_SQL = (
    "UPDATE word_count SET hidden = {} WHERE poll = {} AND answer_key = {} AND hidden <> {}"
    " RETURNING answer_key"
)
EXISTS_SQL = "SELECT 1 AS found FROM word_count WHERE poll = {} AND answer_key = {}"


async def add_answer(
    voter: Voter, poll_id: int, text: str, window_s: int, keyed: Keyed | None = None
) -> Change:
    """Give an answer: a change (201) into the lowest free slot; your own repeat of a word
    changes nothing (200); 409 with every slot taken; 422 naming `answer`."""
    answer = normalise_answer(text, FIELD)
    with refusals.counted(poll_id):
        return await give(voter, poll_id, answer, window_s, keyed)


async def remove_answer(
    voter: Voter, poll_id: int, slot: int, keyed: Keyed | None = None
) -> Change:
    """Take back the answer in one of your slots (nothing to take back: no change)."""

    async def write(poll: dict[str, Any], has_ballot: bool) -> Change:
        if not 1 <= slot <= SLOTS_MAX:  # the column is a SMALLINT: no statement for these
            return Change(False)
        rows = await Poll.raw(DELETE_SQL, poll_id, voter.user_id, slot)
        if not rows:
            return Change(False)
        await Poll.raw(UNCOUNT_SQL, poll_id, rows[0]["answer_key"])
        left = await Poll.raw(LEFT_SQL, poll_id, voter.user_id)
        return Change(True, -1 if int(left[0]["n"]) == 0 else 0)

    return await respond(voter, poll_id, Kind.word_cloud, write, keyed=keyed)


async def hide_word(poll_id: int, user_id: int, key: str, hidden: bool) -> bool:
    """The owner hides a word from every screen (or shows it again): whether that changed
    anything; 404 for a word nobody gave. `key` is a word's key, or the word as typed."""
    keys = [key]
    try:
        keys.append(normalise_answer(key, "key").key)
    except Invalid:
        keys.append(same_key(key))

    async def change(poll: dict[str, Any]) -> bool:
        for candidate in dict.fromkeys(keys):
            if await Poll.raw(EXISTS_SQL, poll_id, candidate):
                rows = await Poll.raw(HIDE_SQL, hidden, poll_id, candidate, hidden)
                return bool(rows)
        raise NotFound("No such word in this poll.")

    return await moderate(poll_id, user_id, Kind.word_cloud, change)
