"""Events: a presenter's session of many polls under one join code (#14).

An event owns an ordered list of questions (polls of its owner; a poll is in at most one
event) and names which one is current. Every change bumps the event's `seq` and is announced
after commit (webapp.notices `event_changed`), as poll changes are: the live layer pushes the
new state to every phone following the event.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from webapp import clock, event_touch, polls
from webapp.db import is_postgres, is_unique_violation, shielded, write_transaction
from webapp.errors import Conflict, Forbidden, Invalid, NotFound
from webapp.inputs.events import (
    COUNTDOWN_MAX_S,
    COUNTDOWN_MIN_S,
    MAX_QUESTIONS,
    EventCreate,
    EventUpdate,
)
from webapp.inputs.polls import PollCreate
from webapp.notices import event_changed
from webapp.polls import JOIN_ALPHABET, CreatorView, PollChanges, PollView, normalize_code
from webapp.tables import Event, EventMode, EventQuestion, Poll

# One character longer than a poll's code: an event's code can never be a poll's, and the
# two tables are still both checked when one is made.
EVENT_CODE_LENGTH = polls.JOIN_LENGTH + 1
# A reorder first moves every position up by this much, out of the way of the final ones,
# so that the unique (event, position) index holds after each statement.


@dataclass
class QuestionView:
    poll_id: int
    position: int
    question: str
    is_published: bool
    closed_at: datetime | None
    closes_at: datetime | None
    is_current: bool


@dataclass
class EventView:
    id: int
    title: str
    owner: CreatorView
    join_code: str
    mode: EventMode
    opens_at: datetime | None
    closes_at: datetime | None
    current_poll_id: int | None
    questions: list[QuestionView]
    seq: int
    created_at: datetime
    updated_at: datetime

    @property
    def current(self) -> QuestionView | None:
        return next((q for q in self.questions if q.is_current), None)

    def question_at(self, number: int) -> QuestionView | None:
        """The question shown as `number` (1 for the first), whatever the stored positions."""
        return self.questions[number - 1] if 1 <= number <= len(self.questions) else None

    def number_of(self, poll_id: int) -> int | None:
        for i, question in enumerate(self.questions, 1):
            if question.poll_id == poll_id:
                return i
        return None

    def is_open_at(self, now: datetime) -> bool:
        return (self.opens_at is None or self.opens_at <= now) and (
            self.closes_at is None or now < self.closes_at
        )


@dataclass
class EventPage:
    items: list[EventView]
    next_cursor: str | None


# --- reads ---------------------------------------------------------------------------------

EVENT_COLUMNS = (
    Event.id,
    Event.title,
    Event.owner,
    Event.owner.name,
    Event.join_code,
    Event.mode,
    Event.opens_at,
    Event.closes_at,
    Event.seq,
    Event.created_at,
    Event.updated_at,
)


async def _questions(event_id: int, viewer_id: int | None, owner_id: int) -> list[QuestionView]:
    columns: list[Any] = [
        EventQuestion.poll,
        EventQuestion.position,
        EventQuestion.is_current,
        EventQuestion.poll.question,
        EventQuestion.poll.is_published,
        EventQuestion.poll.closed_at,
        EventQuestion.poll.closes_at,
    ]
    rows = (
        await EventQuestion.select(*columns)
        .where(EventQuestion.event == event_id)
        .order_by(EventQuestion.position)
    )
    return [
        QuestionView(
            poll_id=row["poll"],
            position=row["position"],
            question=row["poll.question"],
            is_published=bool(row["poll.is_published"]),
            closed_at=row["poll.closed_at"],
            closes_at=row["poll.closes_at"],
            is_current=bool(row["is_current"]),
        )
        for row in rows
        # The audience sees the published questions; the owner every one.
        if viewer_id == owner_id or row["poll.is_published"]
    ]


async def _view(row: dict[str, Any], viewer_id: int | None) -> EventView:
    questions = await _questions(row["id"], viewer_id, row["owner"])
    current = next((q.poll_id for q in questions if q.is_current), None)
    return EventView(
        id=row["id"],
        title=row["title"],
        owner=CreatorView(row["owner"], row["owner.name"]),
        join_code=row["join_code"],
        mode=EventMode(row["mode"]),
        opens_at=row["opens_at"],
        closes_at=row["closes_at"],
        current_poll_id=current,
        questions=questions,
        seq=row["seq"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def _row(event_id: int) -> dict[str, Any]:
    row = await Event.select(*EVENT_COLUMNS).where(Event.id == event_id).first()
    if row is None:
        raise NotFound("No such event.")
    return row


async def get_event(event_id: int, viewer_id: int | None) -> EventView:
    """An event as this viewer sees it (anyone may: its code is handed out to a room)."""
    return await _view(await _row(event_id), viewer_id)


async def owned_event(event_id: int, user_id: int) -> EventView:
    event = await get_event(event_id, user_id)
    if event.owner.id != user_id:
        raise Forbidden("Only the event's owner can do this.")
    return event


async def event_id_for_code(code: str) -> int:
    row = await Event.select(Event.id).where(Event.join_code == normalize_code(code)).first()
    if row is None:
        raise NotFound("No event has this join code.")
    return int(row["id"])


async def event_of_poll(poll_id: int) -> int | None:
    """The event a poll is a question of, if any."""
    row = (
        await EventQuestion.select(EventQuestion.event).where(EventQuestion.poll == poll_id).first()
    )
    return int(row["event"]) if row else None


async def polls_in_events(poll_ids: list[int]) -> set[int]:
    """Which of these polls are already questions of an event."""
    if not poll_ids:
        return set()
    rows = await EventQuestion.select(EventQuestion.poll).where(EventQuestion.poll.is_in(poll_ids))
    return {int(row["poll"]) for row in rows}


async def list_events(owner_id: int, *, limit: int, before_id: int | None) -> EventPage:
    """The owner's events, newest first."""
    query = (
        Event.select(*EVENT_COLUMNS)
        .where(Event.owner == owner_id)
        .order_by(Event.id, ascending=False)
        .limit(limit + 1)
    )
    if before_id is not None:
        query = query.where(Event.id < before_id)
    rows = await query
    next_cursor = str(rows[limit - 1]["id"]) if len(rows) > limit else None
    return EventPage([await _view(row, owner_id) for row in rows[:limit]], next_cursor)


# --- writes --------------------------------------------------------------------------------


async def _new_code() -> str:
    while True:
        code = "".join(secrets.choice(JOIN_ALPHABET) for _ in range(EVENT_CODE_LENGTH))
        taken = await Event.exists().where(Event.join_code == code) or await Poll.exists().where(
            Poll.join_code == code
        )
        if not taken:
            return code


async def _lock(event_id: int, user_id: int) -> dict[str, Any]:
    """The event's row, locked until commit (SQLite's IMMEDIATE transaction already is)."""
    sql = "SELECT id, owner, seq FROM event WHERE id = {}"
    if is_postgres():
        sql += " FOR UPDATE"
    rows = await Event.raw(sql, event_id)
    if not rows:
        raise NotFound("No such event.")
    if rows[0]["owner"] != user_id:
        raise Forbidden("Only the event's owner can change it.")
    return dict(rows[0])


async def _bump(event_id: int, values: dict[Any, Any] | None = None) -> int:
    """The locked event's new seq (webapp/event_touch.py)."""
    seq = await event_touch.bump(event_id, values)
    assert seq is not None, "the event is locked in this transaction"
    return seq


async def _check_polls(poll_ids: list[int], user_id: int) -> None:
    if not poll_ids:
        return
    rows = await Poll.select(Poll.id, Poll.creator).where(Poll.id.is_in(poll_ids))
    owners = {row["id"]: row["creator"] for row in rows}
    for poll_id in poll_ids:
        # One answer for a poll that is someone else's and one that does not exist: others'
        # drafts are not probed by id.
        if owners.get(poll_id) != user_id:
            raise Forbidden(f"Poll {poll_id} is not one of your polls.")


def _check_window(opens_at: datetime | None, closes_at: datetime | None) -> None:
    if opens_at is not None and closes_at is not None and not opens_at < closes_at:
        raise Conflict("The event would close before it opens: opens_at must come first.")


def _in_another_event(exc: BaseException) -> Conflict | None:
    if is_unique_violation(exc):
        return Conflict("That poll is already a question of an event.")
    return None


@shielded
async def create_event(user_id: int, data: EventCreate) -> EventView:
    """A new event, with the owner's polls given as its first questions."""
    _check_window(data.opens_at, data.closes_at)
    _window_ahead(data.closes_at)
    await _check_polls(data.poll_ids, user_id)
    try:
        async with write_transaction():
            event = Event(
                title=data.title,
                owner=user_id,
                join_code=await _new_code(),
                mode=EventMode(data.mode),
                opens_at=data.opens_at,
                closes_at=data.closes_at,
            )
            await event.save()
            if data.poll_ids:
                await EventQuestion.insert(
                    *[
                        EventQuestion(event=event.id, poll=poll_id, position=i)
                        for i, poll_id in enumerate(data.poll_ids)
                    ]
                )
    except Exception as exc:
        conflict = _in_another_event(exc)
        if conflict is None:
            raise
        raise conflict from exc
    if data.poll_ids and (data.opens_at or data.closes_at):
        await _apply_window(event.id, user_id)
    return await get_event(event.id, user_id)


@shielded
async def update_event(event_id: int, user_id: int, data: EventUpdate) -> EventView:
    """Change the title, the mode or the window (an end sent as null is cleared)."""
    sent = data.model_fields_set
    async with write_transaction(("event", event_id)):
        await _lock(event_id, user_id)
        row = await _row(event_id)
        values: dict[Any, Any] = {}
        if "title" in sent and data.title is not None:
            values[Event.title] = data.title
        if "mode" in sent and data.mode is not None:
            values[Event.mode] = EventMode(data.mode)
        opens_at = data.opens_at if "opens_at" in sent else row["opens_at"]
        closes_at = data.closes_at if "closes_at" in sent else row["closes_at"]
        _check_window(opens_at, closes_at)
        if "closes_at" in sent:
            _window_ahead(closes_at)
        if "opens_at" in sent:
            values[Event.opens_at] = opens_at
        if "closes_at" in sent:
            values[Event.closes_at] = closes_at
        seq = await _bump(event_id, values)
    event_changed(event_id, seq)
    if "opens_at" in sent or "closes_at" in sent:
        await _apply_window(event_id, user_id, was=(row["opens_at"], row["closes_at"]))
    return await get_event(event_id, user_id)


@shielded
async def delete_event(event_id: int, user_id: int) -> None:
    """Delete the event; its polls stay, as the owner's polls."""
    async with write_transaction(("event", event_id)):
        await _lock(event_id, user_id)
        await Event.delete().where(Event.id == event_id)
    event_changed(event_id, None)


async def _append(event_id: int, poll_id: int) -> int:
    rows = await EventQuestion.raw(
        "SELECT count(*) AS n, max(position) AS last FROM event_question WHERE event = {}",
        event_id,
    )
    if int(rows[0]["n"]) >= MAX_QUESTIONS:
        raise Conflict(f"An event holds at most {MAX_QUESTIONS} questions.")
    last = rows[0]["last"]
    await EventQuestion.insert(
        EventQuestion(event=event_id, poll=poll_id, position=0 if last is None else last + 1)
    )
    return await _bump(event_id)


@shielded
async def add_question(event_id: int, user_id: int, poll_id: int) -> EventView:
    """Add one of the owner's polls as the event's last question."""
    await _check_polls([poll_id], user_id)
    try:
        async with write_transaction(("event", event_id)):
            await _lock(event_id, user_id)
            seq = await _append(event_id, poll_id)
    except Exception as exc:
        conflict = _in_another_event(exc)
        if conflict is None:
            raise
        raise conflict from exc
    event_changed(event_id, seq)
    await _apply_window(event_id, user_id, only=poll_id)
    return await get_event(event_id, user_id)


async def create_question(
    event_id: int, user_id: int, data: PollCreate, default_cap: int
) -> tuple[EventView, PollView]:
    """A new poll, made the event's last question (published unless sent as a draft: the
    room sees only the current question's, whatever is published)."""
    await owned_event(event_id, user_id)
    poll = await polls.create_from(data, user_id, default_cap)
    try:
        event = await add_question(event_id, user_id, poll.id)
    except Exception:
        await polls.delete_poll(poll.id, user_id)  # no poll left behind outside the event
        raise
    return event, poll


@shielded
async def remove_question(event_id: int, user_id: int, poll_id: int) -> EventView:
    """Take a question out of the event (the poll stays, as the owner's poll)."""
    async with write_transaction(("event", event_id)):
        await _lock(event_id, user_id)
        removed = (
            await EventQuestion.delete()
            .where(EventQuestion.event == event_id, EventQuestion.poll == poll_id)
            .returning(EventQuestion.id)
        )
        if not removed:
            raise NotFound("That poll is not a question of this event.")
        seq = await _bump(event_id)
    event_changed(event_id, seq)
    return await get_event(event_id, user_id)


@shielded
async def reorder(event_id: int, user_id: int, poll_ids: list[int]) -> EventView:
    """Put the questions in this order; every question must be named once."""
    async with write_transaction(("event", event_id)):
        await _lock(event_id, user_id)
        rows = await EventQuestion.select(EventQuestion.poll, EventQuestion.position).where(
            EventQuestion.event == event_id
        )
        if sorted(row["poll"] for row in rows) != sorted(poll_ids):
            raise Conflict("Name every question of the event once, in the new order.")
        # Out of the way first, above every position (old and new: n questions hold n
        # distinct positions, so the highest is at least n - 1), or the unique index on
        # (event, position) refuses a step.
        shift = max((row["position"] for row in rows), default=0) + 1
        await EventQuestion.update({EventQuestion.position: EventQuestion.position + shift}).where(
            EventQuestion.event == event_id
        )
        for position, poll_id in enumerate(poll_ids):
            await EventQuestion.update({EventQuestion.position: position}).where(
                EventQuestion.event == event_id, EventQuestion.poll == poll_id
            )
        seq = await _bump(event_id)
    event_changed(event_id, seq)
    return await get_event(event_id, user_id)


async def _set_current(event_id: int, poll_id: int | None) -> int:
    await EventQuestion.update({EventQuestion.is_current: False}).where(
        EventQuestion.event == event_id,
        EventQuestion.is_current == True,  # noqa: E712
    )
    if poll_id is not None:
        changed = (
            await EventQuestion.update({EventQuestion.is_current: True})
            .where(EventQuestion.event == event_id, EventQuestion.poll == poll_id)
            .returning(EventQuestion.id)
        )
        if not changed:
            raise NotFound("That poll is not a question of this event.")
    return await _bump(event_id)


@shielded
async def go_to(event_id: int, user_id: int, poll_id: int | None) -> EventView:
    """Make this question the current one (None: none), publishing it if it was a draft."""
    event = await owned_event(event_id, user_id)
    if poll_id is not None:
        question = next((q for q in event.questions if q.poll_id == poll_id), None)
        if question is None:
            raise NotFound("That poll is not a question of this event.")
        if not question.is_published:
            await polls.update_poll(poll_id, user_id, PollChanges(is_published=True))
    async with write_transaction(("event", event_id)):
        await _lock(event_id, user_id)
        seq = await _set_current(event_id, poll_id)
    event_changed(event_id, seq)
    return await get_event(event_id, user_id)


async def step(event_id: int, user_id: int, by: int) -> EventView:
    """The next (by=1) or previous (by=-1) question; from none, the first."""
    event = await owned_event(event_id, user_id)
    if not event.questions:
        raise Conflict("The event has no questions yet.")
    current = event.number_of(event.current_poll_id) if event.current_poll_id else None
    number = 1 if current is None else current + by
    target = event.question_at(number)
    if target is None:
        raise Conflict("That was the last question." if by > 0 else "This is the first question.")
    return await go_to(event_id, user_id, target.poll_id)


async def _apply_window(
    event_id: int,
    user_id: int,
    was: tuple[datetime | None, datetime | None] = (None, None),
    only: int | None = None,
) -> None:
    """Hold the event's questions to its window, through each poll's own schedule (which
    every vote is judged by, and the scheduler opens and closes polls at): a question opens
    no earlier than the event and closes no later. An end the event no longer has is taken
    off the questions that had it from the event (`was`); a question whose schedule cannot
    fit is closed. The vote path also judges the event's window itself (webapp/votes.py):
    this is for what pages show and for the scheduler to open and close them live."""
    event = await get_event(event_id, user_id)
    for question in event.questions:
        if only is not None and question.poll_id != only:
            continue
        row = await polls.load_row(question.poll_id)
        if row is None or row["closed_at"] is not None:
            continue
        opens, closes = row["opens_at"], row["closes_at"]
        new_opens = opens
        if event.opens_at is not None and (opens is None or opens < event.opens_at):
            new_opens = event.opens_at
        elif event.opens_at is None and was[0] is not None and opens == was[0]:
            new_opens = None
        new_closes = closes
        if event.closes_at is not None and (closes is None or closes > event.closes_at):
            new_closes = event.closes_at
        elif event.closes_at is None and was[1] is not None and closes == was[1]:
            new_closes = None
        changes: dict[str, Any] = {}
        if new_opens != opens:
            changes["opens_at"] = new_opens
        if new_closes != closes:
            changes["closes_at"] = new_closes
        if changes:
            try:
                await polls.schedule_poll(question.poll_id, user_id, **changes)
            except (Invalid, Conflict):
                # Its own schedule cannot fit the event's window (the window has already
                # closed, or closes before the question opens): it can take no vote in the
                # event, so it closes, and the change already made to the event stands.
                await polls.update_poll(question.poll_id, user_id, PollChanges(closed=True))


def _window_ahead(closes_at: datetime | None) -> None:
    if closes_at is not None and closes_at <= clock.now():
        raise Conflict("closes_at has passed: pick a later time (or close the questions).")


def countdown_end(seconds: int, now: datetime | None = None) -> datetime:
    return (now or clock.now()) + timedelta(seconds=seconds)


async def start_countdown(event_id: int, user_id: int, seconds: int) -> EventView:
    """Close voting on the current question `seconds` from now, by the server's clock: the
    poll's closes_at (webapp.polls.schedule_poll), which every vote is judged by and the
    scheduler closes the poll at (webapp/schedule.py). The event's message then carries it
    to every device, with the server's time to count down by."""
    if not COUNTDOWN_MIN_S <= seconds <= COUNTDOWN_MAX_S:
        raise Invalid("seconds", f"A countdown lasts {COUNTDOWN_MIN_S} to {COUNTDOWN_MAX_S} s.")
    event = await owned_event(event_id, user_id)
    current = event.current
    if current is None:
        raise Conflict("No question is current: move to one first.")
    if current.closed_at is not None:
        raise Conflict("Voting on this question is already closed.")
    end = countdown_end(seconds)
    if event.closes_at is not None:
        end = min(end, event.closes_at)  # never past the event's own close
    await polls.schedule_poll(current.poll_id, user_id, closes_at=end)
    await event_touch.touch(event_id)
    return await get_event(event_id, user_id)


async def reset_current(event_id: int, user_id: int) -> EventView:
    """The current question's results back to zero (webapp.polls.reset_results), then a new
    event message: every phone fetches its voting block afresh (their choices are gone)."""
    event = await owned_event(event_id, user_id)
    if event.current_poll_id is None:
        raise Conflict("No question is current: move to one first.")
    await polls.reset_results(event.current_poll_id, user_id)
    await event_touch.touch(event_id)
    return event
