"""Audience Q&A's writes: asking, deleting your question, upvoting and withdrawing an
upvote (the voters' path, `respond`), and the owner's answered / highlighted / hidden marks
(`moderate`).

Every change is made under the poll's lock and stores the order it leaves the list in
(`question_view`, at the seq the change brings), so every screen keeps one order. An upvote
is a row keyed (question, user): `INSERT ... ON CONFLICT DO NOTHING RETURNING` and
`DELETE ... RETURNING` move `qa_question.upvotes` only when a row really came or went, and a
repeat changes nothing (no new seq). A person's first question or upvote opens their ballot;
when their last one goes, it closes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from webapp.errors import Conflict, Forbidden, Invalid, NotFound
from webapp.kinds import qa as qa_reads
from webapp.polls import poll_row
from webapp.questions.answers import normalise_text
from webapp.responses import Change, Keyed, moderate, respond
from webapp.tables import Kind, Poll
from webapp.votes import Voter, wrong_kind

State = Literal["pending", "shown", "hidden"]

QUESTION_SQL = (
    "SELECT id, poll, asker, text, anonymous, state, answered_at, highlighted, upvotes,"
    " created_at FROM qa_question WHERE id = {} AND poll = {}"
)
ASK_SQL = (
    "INSERT INTO qa_question (poll, asker, text, anonymous, state) VALUES ({}, {}, {}, {}, {})"
    " RETURNING id"
)
DELETE_SQL = "DELETE FROM qa_question WHERE id = {} AND poll = {} AND asker = {} RETURNING state"
UPVOTE_SQL = (
    'INSERT INTO qa_upvote (question, "user") VALUES ({}, {})'
    ' ON CONFLICT (question, "user") DO NOTHING RETURNING question'
)
WITHDRAW_SQL = 'DELETE FROM qa_upvote WHERE question = {} AND "user" = {} RETURNING question'
COUNT_SQL = "UPDATE qa_question SET upvotes = upvotes + {} WHERE id = {}"
LEFT_SQL = (
    "SELECT (SELECT count(*) FROM qa_question WHERE poll = {} AND asker = {})"
    " + (SELECT count(*) FROM qa_upvote u JOIN qa_question q ON q.id = u.question"
    ' WHERE q.poll = {} AND u."user" = {}) AS n'
)
UNHIGHLIGHT_SQL = (
    "UPDATE qa_question SET highlighted = {} WHERE poll = {} AND highlighted AND id <> {}"
)


@dataclass
class QaQuestion:
    """One audience question as the API answers it (`asker` null when anonymous, to the
    owner too; `state` pending while a premoderated question waits for the owner)."""

    id: int
    poll_id: int
    text: str
    anonymous: bool
    asker: str | None
    state: State
    answered: bool
    highlighted: bool
    upvotes: int
    created_at: datetime


async def _row(poll_id: int, question_id: int) -> dict[str, Any] | None:
    rows = await Poll.raw(QUESTION_SQL, question_id, poll_id)
    return rows[0] if rows else None


async def question(poll_id: int, question_id: int) -> QaQuestion:
    rows = await Poll.raw(
        "SELECT q.*, u.name AS asker_name FROM qa_question q JOIN app_user u ON u.id = q.asker"
        " WHERE q.id = {} AND q.poll = {}",
        question_id,
        poll_id,
    )
    if not rows:
        raise NotFound("No such question.")
    row = rows[0]
    view = qa_reads.view_of(row)
    return QaQuestion(
        id=view.id,
        poll_id=poll_id,
        text=view.text,
        anonymous=bool(row["anonymous"]),
        asker=view.asker,
        state=row["state"],
        answered=view.answered,
        highlighted=view.highlighted,
        upvotes=view.upvotes,
        created_at=view.created_at,
    )


async def _reorder(poll: dict[str, Any]) -> None:
    """Store the order this change (at the next seq) leaves the list in."""
    await qa_reads.reorder(poll["id"], poll["seq"] + 1)


async def _closes_ballot(poll_id: int, user_id: int, has_ballot: bool) -> int:
    """-1 when the person has no question and no upvote left in the poll."""
    rows = await Poll.raw(LEFT_SQL, poll_id, user_id, poll_id, user_id)
    return -1 if has_ballot and not rows[0]["n"] else 0


async def ask(
    voter: Voter,
    poll_id: int,
    text: str,
    anonymous: bool,
    window_s: int,
    keyed: Keyed | None = None,
) -> Change:
    """Ask a question (pending if the poll is premoderated); the change, `made` its id. 422
    naming `text` or `anonymous` (when the poll does not allow it)."""

    async def write(poll: dict[str, Any], has_ballot: bool) -> Change:
        # Judged once the poll is known open to this person (a missing poll is a 404 first).
        cleaned = normalise_text(text, "text")
        if anonymous and not poll["allows_anonymous"]:
            raise Invalid("anonymous", "This poll does not take anonymous questions.")
        state = "pending" if poll["premoderated"] else "shown"
        rows = await Poll.raw(ASK_SQL, poll["id"], voter.user_id, cleaned, anonymous, state)
        if state == "shown":
            await _reorder(poll)
        return Change(True, 0 if has_ballot else 1, made=int(rows[0]["id"]))

    return await respond(voter, poll_id, Kind.qa, write, window_s=window_s, keyed=keyed)


async def delete(
    voter: Voter, poll_id: int, question_id: int, keyed: Keyed | None = None
) -> Change:
    """Delete your own question (its upvotes go with it): 403 for another's, 404 for none."""

    async def write(poll: dict[str, Any], has_ballot: bool) -> Change:
        rows = await Poll.raw(DELETE_SQL, question_id, poll_id, voter.user_id)
        if not rows:
            if await _row(poll_id, question_id) is None:
                raise NotFound("No such question.")
            raise Forbidden("Only the person who asked a question can delete it.")
        if rows[0]["state"] == "shown":
            await _reorder(poll)
        return Change(True, await _closes_ballot(poll_id, voter.user_id, has_ballot))

    return await respond(voter, poll_id, Kind.qa, write, keyed=keyed)


async def upvote(
    voter: Voter, poll_id: int, question_id: int, window_s: int, keyed: Keyed | None = None
) -> Change:
    """Upvote a question (a repeat changes nothing): 404 for a hidden or waiting one, 409
    for your own or an answered one."""

    async def write(poll: dict[str, Any], has_ballot: bool) -> Change:
        row = await _row(poll_id, question_id)
        if row is None or row["state"] != "shown":
            raise NotFound("No such question.")
        if row["asker"] == voter.user_id:
            raise Conflict("You cannot upvote your own question.")
        if row["answered_at"] is not None:
            raise Conflict("This question has been answered.")
        if not await Poll.raw(UPVOTE_SQL, question_id, voter.user_id):
            return Change(False)
        await Poll.raw(COUNT_SQL, 1, question_id)
        await _reorder(poll)
        return Change(True, 0 if has_ballot else 1)

    return await respond(voter, poll_id, Kind.qa, write, window_s=window_s, keyed=keyed)


async def withdraw_upvote(
    voter: Voter, poll_id: int, question_id: int, keyed: Keyed | None = None
) -> Change:
    """Take your upvote back (always allowed; none to take back changes nothing)."""

    async def write(poll: dict[str, Any], has_ballot: bool) -> Change:
        row = await _row(poll_id, question_id)
        if row is None:
            raise NotFound("No such question.")
        if not await Poll.raw(WITHDRAW_SQL, question_id, voter.user_id):
            return Change(False)
        await Poll.raw(COUNT_SQL, -1, question_id)
        if row["state"] == "shown":
            await _reorder(poll)
        return Change(True, await _closes_ballot(poll_id, voter.user_id, has_ballot))

    return await respond(voter, poll_id, Kind.qa, write, keyed=keyed)


async def mark(
    owner_id: int,
    poll_id: int,
    question_id: int,
    *,
    state: State | None = None,
    answered: bool | None = None,
    highlighted: bool | None = None,
) -> bool:
    """The owner's marks on a question: shown / hidden (a waiting one approved or not),
    answered, highlighted (the one being answered: at most one, so highlighting one takes it
    off the other). A question hidden or sent back is no longer highlighted. Whether it
    changed anything."""

    async def change(poll: dict[str, Any]) -> bool:
        row = await _row(poll_id, question_id)
        if row is None:
            raise NotFound("No such question.")
        values: dict[str, Any] = {}
        if state is not None and state != row["state"]:
            values["state"] = state
        if answered is not None and answered != (row["answered_at"] is not None):
            values["answered_at"] = datetime.now(UTC) if answered else None
        light = highlighted
        if (state or row["state"]) != "shown" and (light or row["highlighted"]):
            light = False
        if light is not None and light != bool(row["highlighted"]):
            values["highlighted"] = light
        if not values:
            return False
        if values.get("highlighted"):
            await Poll.raw(UNHIGHLIGHT_SQL, False, poll_id, question_id)
        sets = ", ".join(f"{name} = {{}}" for name in values)
        await Poll.raw(
            f"UPDATE qa_question SET {sets} WHERE id = {{}}", *values.values(), question_id
        )
        await _reorder(poll)
        return True

    return await moderate(poll_id, owner_id, Kind.qa, change)


async def my_part(poll_id: int, user_id: int) -> qa_reads.QaMine:
    """The questions this person upvoted and asked (404 for a draft not theirs, 409 for a
    poll of another kind)."""
    row = await poll_row(poll_id, user_id)
    if row["kind"] != Kind.qa:
        raise wrong_kind(Kind(row["kind"]))
    return await qa_reads.mine(poll_id, user_id)


async def marked(owner_id: int, poll_id: int, question_id: int, **marks: Any) -> QaQuestion:
    """`mark` the question, then the question as it now is."""
    await mark(owner_id, poll_id, question_id, **marks)
    return await question(poll_id, question_id)
