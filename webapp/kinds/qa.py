"""Audience Q&A's results: the shown questions in the order the screens keep.

The order is state (`question_view`, docs/question_types.md): every change to a Q&A is
written with the order it leaves (webapp/responses/qa.py, under the poll's lock, with the
seq the change brings), so a reload, another worker or a restart shows the same list. When
the poll's seq has moved on without a Q&A change (a reset, a setting), the order is worked
out from the stored one the same way and not stored: the next change stores it. An order
left unsettled for `qa.SETTLE_S` seconds is sorted fully by the next change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from webapp import clock
from webapp.kinds.details import QaDetail, QaQuestionView
from webapp.questions.qa import SETTLE_S, Ordering, Question, order
from webapp.tables import Poll

SHOWN = 100  # questions the results carry; GET .../qa pages through the rest
PAGE = 100  # the most questions one page of GET .../qa gives
QUESTIONS_SQL = (
    "SELECT q.id, q.asker, q.text, q.anonymous, q.answered_at, q.highlighted, q.upvotes,"
    " q.created_at, u.name AS asker_name FROM qa_question q"
    " JOIN app_user u ON u.id = q.asker WHERE q.poll = {} AND q.state = 'shown'"
)
VIEW_SQL = "SELECT seq, view FROM question_view WHERE poll = {}"
SAVE_VIEW_SQL = (
    "INSERT INTO question_view (poll, seq, view) VALUES ({}, {}, {})"
    " ON CONFLICT (poll) DO UPDATE SET seq = excluded.seq, view = excluded.view"
    " WHERE question_view.seq < excluded.seq"
)
MINE_SQL = (
    "SELECT u.question FROM qa_upvote u JOIN qa_question q ON q.id = u.question"
    ' WHERE q.poll = {} AND u."user" = {} ORDER BY u.question'
)
ASKED_SQL = "SELECT id, state FROM qa_question WHERE poll = {} AND asker = {} ORDER BY id"
# The owner's queue: the questions nobody else sees (waiting for approval, or hidden).
QUEUE = 50
QUEUE_SQL = (
    "SELECT q.id, q.text, q.state, q.anonymous, u.name AS asker_name FROM qa_question q"
    " JOIN app_user u ON u.id = q.asker JOIN poll p ON p.id = q.poll"
    " WHERE q.poll = {} AND p.creator = {} AND q.state <> 'shown'"
    f" ORDER BY q.id DESC LIMIT {QUEUE}"
)


@dataclass
class QueuedQuestion:
    """A question only the owner sees: `pending` (premoderated) or `hidden`."""

    id: int
    text: str
    state: str
    asker: str | None  # null when asked anonymously


@dataclass
class QaMine:
    """A person's own part in a Q&A: the questions they upvoted and those they asked."""

    poll_id: int
    upvoted: list[int] = field(default_factory=list)
    asked: list[int] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)  # yours still waiting for approval
    # For the poll's owner only (empty for everyone else): the newest 50 questions waiting
    # for approval or hidden, to show or hide from the page.
    moderation: list[QueuedQuestion] = field(default_factory=list)


def _instant(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite gives text
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _question(row: dict[str, Any]) -> Question:
    return Question(
        id=row["id"],
        asker=row["asker"],
        asked_at=_instant(row["created_at"]),
        upvotes=row["upvotes"],
        answered=row["answered_at"] is not None,
        highlighted=bool(row["highlighted"]),
    )


async def shown_questions(poll_id: int) -> list[dict[str, Any]]:
    return list(await Poll.raw(QUESTIONS_SQL, poll_id))


@dataclass(frozen=True)
class StoredOrder:
    ids: list[int]
    unsettled_since: float | None  # when the stored order last stopped being canonical


async def stored_order(poll_id: int) -> StoredOrder | None:
    rows = await Poll.raw(VIEW_SQL, poll_id)
    if not rows:
        return None
    view = json.loads(rows[0]["view"])
    ids = view.get("ids") if isinstance(view, dict) else None
    if not isinstance(ids, list):
        return None
    since = view.get("unsettled_since")
    return StoredOrder([int(qid) for qid in ids], since if isinstance(since, float) else None)


async def ordering(poll_id: int, rows: list[dict[str, Any]]) -> Ordering:
    """The order to show these questions in, as stable as `qa.order` allows against the
    stored one."""
    stored = await stored_order(poll_id)
    return order(stored.ids if stored else None, [_question(row) for row in rows])


async def reorder(poll_id: int, seq: int) -> None:
    """Store the order a change at `seq` leaves the list in (an older seq never overwrites
    a newer). An order that has stayed unsettled for `SETTLE_S` is sorted fully at the next
    change, so the list converges while upvotes keep coming."""
    rows = await shown_questions(poll_id)
    stored = await stored_order(poll_id)
    questions = [_question(row) for row in rows]
    found = order(stored.ids if stored else None, questions)
    now = clock.now().timestamp()
    since = stored.unsettled_since if stored else None
    if not found.settled and since is not None and now - since >= SETTLE_S:
        found = order(None, questions, refresh=True)
    unsettled = None if found.settled else (since if since is not None else now)
    view = json.dumps({"ids": list(found.ids), "unsettled_since": unsettled})
    await Poll.raw(SAVE_VIEW_SQL, poll_id, seq, view)


def view_of(row: dict[str, Any]) -> QaQuestionView:
    """A question as everyone sees it: an anonymous asker is never named (the owner neither)."""
    return QaQuestionView(
        id=row["id"],
        text=row["text"],
        asker=None if row["anonymous"] else row["asker_name"],
        upvotes=row["upvotes"],
        answered=row["answered_at"] is not None,
        highlighted=bool(row["highlighted"]),
        created_at=_instant(row["created_at"]),
    )


async def detail(poll: dict[str, Any]) -> QaDetail:
    rows = await shown_questions(poll["id"])
    found = await ordering(poll["id"], rows)
    by_id = {row["id"]: row for row in rows}
    highlighted = next((row["id"] for row in rows if row["highlighted"]), None)
    return QaDetail(
        questions=[view_of(by_id[qid]) for qid in found.ids[:SHOWN]],
        highlighted_id=highlighted,
        settled=found.settled,
        more=max(0, len(found.ids) - SHOWN),
    )


@dataclass
class QaPage:
    """One page of a Q&A's shown questions in the screens' order (or, `sorted`, fully by
    upvotes): from position `after` (0 is the top), `next_after` the next page's, null at
    the end. With `visible` false (the owner hides the results) nothing is listed."""

    poll_id: int
    visible: bool
    total: int | None
    after: int
    questions: list[QaQuestionView] | None
    next_after: int | None


async def ordered(poll_id: int, *, fully_sorted: bool = False) -> tuple[Ordering, dict[int, Any]]:
    """Every shown question in the screens' order (`fully_sorted`: the canonical one, what
    "Sort now" shows), and the rows by id.

    All of them are read: the stable order starts from the stored one and a question far
    down may climb, so a LIMIT in SQL would need the order in SQL (it is JSON state)."""
    rows = await shown_questions(poll_id)
    if fully_sorted:
        found = order(None, [_question(row) for row in rows])
    else:
        found = await ordering(poll_id, rows)
    return found, {row["id"]: row for row in rows}


async def page(
    poll_id: int, visible: bool, after: int, limit: int, *, fully_sorted: bool = False
) -> QaPage:
    """The questions at positions `after` to `after + limit` (at most `PAGE`)."""
    if not visible:
        return QaPage(poll_id, False, None, after, None, None)
    found, by_id = await ordered(poll_id, fully_sorted=fully_sorted)
    limit = max(1, min(limit, PAGE))
    ids = found.ids[after : after + limit]
    end = after + len(ids)
    return QaPage(
        poll_id,
        True,
        len(found.ids),
        after,
        [view_of(by_id[qid]) for qid in ids],
        end if end < len(found.ids) else None,
    )


async def sorted_detail(poll_id: int) -> QaDetail:
    """The results' body as "Sort now" shows it: the first `SHOWN`, fully sorted."""
    found, by_id = await ordered(poll_id, fully_sorted=True)
    highlighted = next((qid for qid, row in by_id.items() if row["highlighted"]), None)
    return QaDetail(
        questions=[view_of(by_id[qid]) for qid in found.ids[:SHOWN]],
        highlighted_id=highlighted,
        settled=True,
        more=max(0, len(found.ids) - SHOWN),
    )


async def mine(poll_id: int, user_id: int) -> QaMine:
    upvoted = await Poll.raw(MINE_SQL, poll_id, user_id)
    asked = await Poll.raw(ASKED_SQL, poll_id, user_id)
    queue = [
        QueuedQuestion(r["id"], r["text"], r["state"], None if r["anonymous"] else r["asker_name"])
        for r in await Poll.raw(QUEUE_SQL, poll_id, user_id)
    ]
    return QaMine(
        poll_id,
        upvoted=[r["question"] for r in upvoted],
        asked=[r["id"] for r in asked],
        waiting=[r["id"] for r in asked if r["state"] == "pending"],
        moderation=queue,
    )
