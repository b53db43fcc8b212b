"""Open text's results: the newest shown answers (`text_answer`), newest first.

Pending (premoderated) and hidden answers are never read here: only the owner sees them, in
the moderation queue (webapp/responses/open_text.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from webapp.kinds.details import OpenTextDetail, TextAnswerView
from webapp.tables import Poll

SHOWN_MAX = 50
# One statement: the newest shown answers and how many are shown in all (the window is
# counted before the LIMIT), on the (poll, id) index.
SHOWN_SQL = (
    "SELECT id, text, created_at, count(*) OVER () AS shown FROM text_answer"
    f" WHERE poll = {{}} AND state = 'shown' ORDER BY id DESC LIMIT {SHOWN_MAX}"
)
MINE_SQL = 'SELECT id, text, state, created_at FROM text_answer WHERE poll = {} AND "user" = {}'


@dataclass(frozen=True)
class MyAnswer:
    """A person's own answer and its state (pending: waiting for the owner's approval)."""

    id: int
    text: str
    state: str
    created_at: datetime


def stamp(value: Any) -> datetime:
    """A stored created_at (SQLite gives its text form, in UTC)."""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(when, datetime)
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


async def detail(poll: dict[str, Any]) -> OpenTextDetail:
    rows = await Poll.raw(SHOWN_SQL, poll["id"])
    answers = [TextAnswerView(row["id"], row["text"], stamp(row["created_at"])) for row in rows]
    shown = int(rows[0]["shown"]) if rows else 0
    return OpenTextDetail(answers=answers, more=shown - len(answers))


async def answer_of(poll_id: int, user_id: int) -> MyAnswer | None:
    """The person's own answer in this poll, whatever its state."""
    rows = await Poll.raw(MINE_SQL, poll_id, user_id)
    if not rows:
        return None
    row = rows[0]
    return MyAnswer(row["id"], row["text"], row["state"], stamp(row["created_at"]))
