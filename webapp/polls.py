"""Polls: create, read, list, edit, publish, close, delete; and their results."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from webapp import events
from webapp.db import is_postgres, write_transaction
from webapp.errors import Conflict, Forbidden, NotFound
from webapp.tables import Poll, PollOption, User


@dataclass
class OptionResult:
    id: int
    text: str
    votes: int


@dataclass
class Results:
    poll_id: int
    options: list[OptionResult]
    total_votes: int
    voters: int
    seq: int
    closed: bool


@dataclass
class OptionView:
    id: int
    text: str
    position: int
    votes: int


@dataclass
class CreatorView:
    id: int
    name: str


@dataclass
class PollView:
    id: int
    question: str
    is_published: bool
    allows_multiple: bool
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    creator: CreatorView
    options: list[OptionView]
    total_votes: int
    voters: int


@dataclass
class PollPage:
    items: list[PollView]
    next_cursor: str | None


@dataclass
class PollChanges:
    question: str | None = None
    options: list[str] | None = None
    allows_multiple: bool | None = None
    is_published: bool | None = None
    closed: bool | None = None


POLL_COLUMNS = (
    Poll.id,
    Poll.question,
    Poll.is_published,
    Poll.allows_multiple,
    Poll.closed_at,
    Poll.created_at,
    Poll.updated_at,
    Poll.creator,
    Poll.voters,
    Poll.seq,
)


async def load_row(poll_id: int, *, lock: bool = False) -> dict[str, Any] | None:
    query = Poll.select(*POLL_COLUMNS).where(Poll.id == poll_id)
    if lock and is_postgres():  # SQLite's IMMEDIATE transaction already holds the write lock
        query = query.lock_rows()
    return await query.first()


async def poll_row(poll_id: int, viewer_id: int | None, *, lock: bool = False) -> dict[str, Any]:
    """The poll's row, as this viewer may see it: a draft is visible only to its creator."""
    row = await load_row(poll_id, lock=lock)
    if row is None or (not row["is_published"] and row["creator"] != viewer_id):
        raise NotFound("No such poll.")
    return row


async def _options(poll_ids: list[int]) -> dict[int, list[OptionView]]:
    by_poll: dict[int, list[OptionView]] = {poll_id: [] for poll_id in poll_ids}
    if not poll_ids:
        return by_poll
    rows = (
        await PollOption.select(
            PollOption.id, PollOption.text, PollOption.position, PollOption.votes, PollOption.poll
        )
        .where(PollOption.poll.is_in(poll_ids))
        .order_by(PollOption.poll)
        .order_by(PollOption.position)
    )
    for row in rows:
        by_poll[row["poll"]].append(
            OptionView(row["id"], row["text"], row["position"], row["votes"])
        )
    return by_poll


async def _views(rows: list[dict[str, Any]]) -> list[PollView]:
    options = await _options([row["id"] for row in rows])
    creator_ids = list({row["creator"] for row in rows})
    names: dict[int, str] = {}
    if creator_ids:
        users = await User.select(User.id, User.name).where(User.id.is_in(creator_ids))
        names = {user["id"]: user["name"] for user in users}
    return [
        PollView(
            id=row["id"],
            question=row["question"],
            is_published=row["is_published"],
            allows_multiple=row["allows_multiple"],
            closed_at=row["closed_at"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            creator=CreatorView(row["creator"], names.get(row["creator"], "")),
            options=options[row["id"]],
            total_votes=sum(option.votes for option in options[row["id"]]),
            voters=row["voters"],
        )
        for row in rows
    ]


async def get_poll(poll_id: int, viewer_id: int | None) -> PollView:
    row = await poll_row(poll_id, viewer_id)
    return (await _views([row]))[0]


async def results(poll_id: int, viewer_id: int | None) -> Results:
    await poll_row(poll_id, viewer_id)
    found = await current_results(poll_id)
    if found is None:
        raise NotFound("No such poll.")
    return found


async def current_results(poll_id: int) -> Results | None:
    """The one place a poll's results are computed: from the running counts, never a scan.

    One statement reads the options with their poll's row, so counts, voters and seq agree.
    """
    rows = (
        await PollOption.select(
            PollOption.id,
            PollOption.text,
            PollOption.votes,
            PollOption.poll.voters.as_alias("voters"),
            PollOption.poll.seq.as_alias("seq"),
            PollOption.poll.closed_at.as_alias("closed_at"),
        )
        .where(PollOption.poll == poll_id)
        .order_by(PollOption.position)
    )
    if not rows:
        return None
    first = rows[0]
    return Results(
        poll_id=poll_id,
        options=[OptionResult(row["id"], row["text"], row["votes"]) for row in rows],
        total_votes=sum(row["votes"] for row in rows),
        voters=first["voters"],
        seq=first["seq"],
        closed=first["closed_at"] is not None,
    )


async def list_polls(
    viewer_id: int | None, *, mine: bool, limit: int, before_id: int | None
) -> PollPage:
    """Published polls (or, with mine, the viewer's own including drafts), newest first."""
    query = Poll.select(*POLL_COLUMNS).order_by(Poll.id, ascending=False).limit(limit + 1)
    if mine:
        query = query.where(Poll.creator == viewer_id)
    else:
        query = query.where(Poll.is_published == True)  # noqa: E712 (a Piccolo expression)
    if before_id is not None:
        query = query.where(Poll.id < before_id)
    rows = await query
    next_cursor = str(rows[limit - 1]["id"]) if len(rows) > limit else None
    return PollPage(items=await _views(rows[:limit]), next_cursor=next_cursor)


async def create_poll(
    creator_id: int,
    question: str,
    options: list[str],
    *,
    is_published: bool,
    allows_multiple: bool,
) -> PollView:
    async with write_transaction():
        poll = Poll(
            question=question,
            creator=creator_id,
            is_published=is_published,
            allows_multiple=allows_multiple,
        )
        await poll.save()
        await _insert_options(poll.id, options)
    return await get_poll(poll.id, creator_id)


async def _insert_options(poll_id: int, texts: list[str]) -> None:
    await PollOption.insert(
        *[PollOption(poll=poll_id, text=text, position=i) for i, text in enumerate(texts)]
    )


async def update_poll(poll_id: int, user_id: int, changes: PollChanges) -> PollView:
    """Edit a draft; publish; close or reopen. Only the creator may."""
    async with write_transaction():
        row = await poll_row(poll_id, user_id, lock=True)
        if row["creator"] != user_id:
            raise Forbidden("Only the poll's creator can change it.")
        values = _apply(row, changes)
        if changes.options is not None:
            await PollOption.delete().where(PollOption.poll == poll_id)
            await _insert_options(poll_id, changes.options)
        if not values and changes.options is None:
            return await get_poll(poll_id, user_id)
        values[Poll.updated_at] = datetime.now(UTC)
        values[Poll.seq] = Poll.seq + 1
        rows = await Poll.update(values).where(Poll.id == poll_id).returning(Poll.seq)
    events.poll_changed(poll_id, int(rows[0]["seq"]))
    return await get_poll(poll_id, user_id)


def _apply(row: dict[str, Any], changes: PollChanges) -> dict[Any, Any]:
    values: dict[Any, Any] = {}
    edits_content = (
        changes.question is not None
        or changes.options is not None
        or changes.allows_multiple is not None
    )
    if edits_content:
        if row["is_published"] or row["voters"]:
            raise Conflict("A poll's question and options can change only while it is a draft.")
        if changes.question is not None:
            values[Poll.question] = changes.question
        if changes.allows_multiple is not None:
            values[Poll.allows_multiple] = changes.allows_multiple
    if changes.is_published is not None and changes.is_published != row["is_published"]:
        if not changes.is_published:
            raise Conflict("A published poll cannot go back to draft.")
        values[Poll.is_published] = True
    if changes.closed is not None:
        if changes.closed and not (row["is_published"] or changes.is_published):
            raise Conflict("Publish a poll before closing it.")
        if changes.closed and row["closed_at"] is None:
            values[Poll.closed_at] = datetime.now(UTC)
        elif not changes.closed and row["closed_at"] is not None:
            values[Poll.closed_at] = None
    return values


async def delete_poll(poll_id: int, user_id: int) -> None:
    async with write_transaction():
        row = await poll_row(poll_id, user_id, lock=True)
        if row["creator"] != user_id:
            raise Forbidden("Only the poll's creator can delete it.")
        await Poll.delete().where(Poll.id == poll_id)
    events.poll_changed(poll_id, None)
