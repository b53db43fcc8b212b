"""Open text's responses: one answer per person (`text_answer`, UNIQUE (poll, user)),
replaceable and withdrawable, and the owner's moderation of them.

A replaced answer takes a new id (newest again): an approval sent for the old text
finds no answer (404) instead of approving words the owner never read. A new or replaced
answer waits for approval (`pending`) when the poll is premoderated, else it is `shown`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from webapp.db import is_postgres
from webapp.errors import Forbidden, Invalid, NotFound
from webapp.kinds.open_text import MINE_SQL, stamp
from webapp.polls import poll_row
from webapp.questions.answers import normalise_text
from webapp.responses import Change, moderate
from webapp.routing import MAX_ID
from webapp.tables import Kind, Poll
from webapp.votes import wrong_kind

FIELD = "text"
QUEUE_MAX = 100
INSERT_SQL = 'INSERT INTO text_answer (poll, "user", text, state) VALUES ({}, {}, {}, {})'
DELETE_SQL = 'DELETE FROM text_answer WHERE poll = {} AND "user" = {} RETURNING id'
# A replacement takes a new id, past every id given out (SQLite's next id is the largest
# plus one; this row then holds the largest), and the time of the replacement.
NEW_ID = {
    True: "nextval(pg_get_serial_sequence('text_answer', 'id'))",
    False: "(SELECT max(id) + 1 FROM text_answer)",
}
REPLACE_SQL = (
    "UPDATE text_answer SET id = {new_id}, text = {{}}, state = {{}},"
    ' created_at = CURRENT_TIMESTAMP WHERE poll = {{}} AND "user" = {{}}'
)
ANSWER_SQL = "SELECT id, text, state, created_at FROM text_answer WHERE id = {} AND poll = {}"
QUEUE_SQL = (
    "SELECT id, text, state, created_at FROM text_answer WHERE poll = {} AND id < {}"
    f" ORDER BY id DESC LIMIT {QUEUE_MAX + 1}"
)

State = Literal["pending", "shown", "hidden"]


@dataclass
class AnswerView:
    """An answer as its poll's owner sees it, in any state."""

    id: int
    text: str
    state: State
    created_at: datetime


@dataclass
class AnswerQueue:
    """The owner's moderation queue: answers newest first, a page at a time."""

    answers: list[AnswerView]
    # Send as `before` for the next (older) page; null: this was the last.
    next_before: int | None


def _view(row: dict[str, Any]) -> AnswerView:
    return AnswerView(row["id"], row["text"], row["state"], stamp(row["created_at"]))


async def put(poll: dict[str, Any], user_id: int, value: object, has_ballot: bool) -> Change:
    """Answer (or replace the answer): 422 naming `text` for an empty or too long one."""
    if not isinstance(value, str):
        raise Invalid(FIELD, "should be a string")
    text = normalise_text(value, FIELD)
    poll_id = poll["id"]
    rows = await Poll.raw(MINE_SQL, poll_id, user_id)
    if rows and rows[0]["text"] == text:
        return Change(False)
    state = "pending" if poll["premoderated"] else "shown"
    if rows:
        replace = REPLACE_SQL.format(new_id=NEW_ID[is_postgres()])
        await Poll.raw(replace, text, state, poll_id, user_id)
    else:
        await Poll.raw(INSERT_SQL, poll_id, user_id, text, state)
    return Change(True, 0 if rows or has_ballot else 1)


async def withdraw(poll: dict[str, Any], user_id: int) -> Change:
    rows = await Poll.raw(DELETE_SQL, poll["id"], user_id)
    return Change(True, -1) if rows else Change(False)


async def mine(poll_id: int, user_id: int) -> str | None:
    rows = await Poll.raw(MINE_SQL, poll_id, user_id)
    return str(rows[0]["text"]) if rows else None


async def _owned(poll_id: int, user_id: int) -> None:
    row = await poll_row(poll_id, user_id)
    if row["creator"] != user_id:
        raise Forbidden("Only the poll's creator sees its answers queue.")
    if row["kind"] != Kind.open_text:
        raise wrong_kind(Kind(row["kind"]))


async def queue(poll_id: int, user_id: int, before: int | None = None) -> AnswerQueue:
    """Every answer with its state, newest first (older than `before`): the owner's only."""
    await _owned(poll_id, user_id)
    rows = await Poll.raw(QUEUE_SQL, poll_id, before or MAX_ID)
    answers = [_view(row) for row in rows[:QUEUE_MAX]]
    return AnswerQueue(answers, answers[-1].id if len(rows) > QUEUE_MAX else None)


async def set_state(
    poll_id: int, answer_id: int, user_id: int, state: Literal["shown", "hidden"]
) -> AnswerView:
    """The owner shows (approves, unhides) or hides an answer; the answer as it now is."""

    async def change(poll: dict[str, Any]) -> bool:
        rows = await Poll.raw(ANSWER_SQL, answer_id, poll_id)
        if not rows:
            raise NotFound("No such answer in this poll.")
        if rows[0]["state"] == state:
            return False
        await Poll.raw("UPDATE text_answer SET state = {} WHERE id = {}", state, answer_id)
        return True

    await moderate(poll_id, user_id, Kind.open_text, change)
    rows = await Poll.raw(ANSWER_SQL, answer_id, poll_id)
    if not rows:  # withdrawn or replaced since
        raise NotFound("No such answer in this poll.")
    return _view(rows[0])


async def queue_seen_by(
    poll_id: int, kind: Kind, creator_id: int, viewer_id: int | None
) -> AnswerQueue | None:
    """The moderation queue for the poll page: only an open-text poll's owner has one."""
    if kind != Kind.open_text or viewer_id != creator_id:
        return None
    return await queue(poll_id, creator_id)
