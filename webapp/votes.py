"""Casting and withdrawing votes.

Every change locks the poll's row first, so changes to one poll are serialised: the running
counts stay exact and a vote never lands after the poll closes. Unique indexes on the vote
table enforce one vote per option and, for single-choice polls, one per poll.

The statements are plain SQL, the same on PostgreSQL and SQLite: every vote runs them, and
built by Piccolo's query builder they cost more CPU than the database spent on them. Once the
poll is locked, a change reads the poll, its counts and the voter's choices in one statement,
then computes the new counts from them instead of reading them again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from webapp import events
from webapp.db import is_postgres, shielded, write_transaction
from webapp.errors import Conflict, Forbidden, Invalid, NotFound
from webapp.polls import POLL_NAMES, poll_row
from webapp.results import Results, Tally, counted, present, visible_to
from webapp.tables import Poll, PollOption, Vote

_POLL = ", ".join(f"p.{name}" for name in POLL_NAMES)
# One row per option: the poll's columns, the option's count, and whether the voter chose it.
LOCKED_SQL = (
    f"SELECT {_POLL}, o.id AS option_id, o.text AS option_text, o.votes AS option_votes,"
    " v.id IS NOT NULL AS chosen"
    " FROM poll p JOIN poll_option o ON o.poll = p.id"
    ' LEFT JOIN vote v ON v."option" = o.id AND v."user" = {}'
    ' WHERE p.id = {} ORDER BY o."position"'
)
# SQLite's IMMEDIATE transaction already holds the write lock; PostgreSQL locks the poll's row
# first, in a statement of its own: a statement that waited for a row lock still reads the
# other tables as they were when it started, so a vote committed meanwhile would be missed.
LOCK_SQL = "SELECT id FROM poll WHERE id = {} FOR UPDATE"
MY_OPTIONS_SQL = 'SELECT "option" FROM vote WHERE "user" = {} AND poll = {}'
INSERT_SQL = (
    'INSERT INTO vote ("user", "option", poll, single_choice, created_at)'
    " VALUES ({}, {}, {}, {}, {})"
)
DELETE_SQL = 'DELETE FROM vote WHERE "user" = {} AND "option" = {}'
COUNT_SQL = "UPDATE poll_option SET votes = votes + {} WHERE id = {}"
FINISH_SQL = "UPDATE poll SET seq = seq + 1, voters = voters + {} WHERE id = {} RETURNING seq"
# The same three writes of a new vote (INSERT_SQL, COUNT_SQL +1, FINISH_SQL) in one round trip,
# on PostgreSQL (SQLite has no data-modifying WITH): the poll's lock is held for fewer round
# trips, and votes on one poll queue behind it for less time.
ADD_VOTE_PG_SQL = (
    "WITH added AS ("
    ' INSERT INTO vote ("user", "option", poll, single_choice, created_at)'
    " VALUES ({}, {}, {}, {}, {})"
    "), counted AS (UPDATE poll_option SET votes = votes + 1 WHERE id = {})"
    " UPDATE poll SET seq = seq + 1, voters = voters + {} WHERE id = {} RETURNING seq"
)


@dataclass
class Locked:
    poll: dict[str, Any]
    counts: Tally
    mine: list[int]  # the voter's options in this poll

    def has_option(self, option_id: int) -> bool:
        return any(option_id == option for option, _, _ in self.counts.options)


async def _lock_open_poll(poll_id: int, user_id: int) -> Locked:
    """The poll (open for votes), its counts and the voter's choices; locked until commit."""
    if is_postgres():
        await Poll.raw(LOCK_SQL, poll_id)
    rows = await Poll.raw(LOCKED_SQL, user_id, poll_id)
    if not rows or (not rows[0]["is_published"] and rows[0]["creator"] != user_id):
        raise NotFound("No such poll.")
    poll = {name: rows[0][name] for name in POLL_NAMES}
    if not poll["is_published"]:
        raise Conflict("This poll is a draft: publish it before voting.")
    if poll["closed_at"] is not None:
        raise Conflict("This poll is closed.")
    counts = Tally(
        poll_id=poll_id,
        seq=poll["seq"],
        closed=False,
        voters=poll["voters"],
        options=tuple((r["option_id"], r["option_text"], r["option_votes"]) for r in rows),
    )
    return Locked(poll, counts, [r["option_id"] for r in rows if r["chosen"]])


def _not_this_polls() -> Invalid:
    return Invalid("option_id", "This option does not belong to this poll.")


async def _remove(user_id: int, option_ids: Iterable[int]) -> None:
    for option_id in option_ids:
        await Vote.raw(DELETE_SQL, user_id, option_id)
        await PollOption.raw(COUNT_SQL, -1, option_id)


async def _add(user_id: int, option_id: int, poll_id: int, single: bool, voters: int) -> int:
    """Store the vote, count it, bump the poll's seq (and voters); return the new seq."""
    now = datetime.now(UTC)
    if is_postgres():
        values = (user_id, option_id, poll_id, single, now, option_id, voters, poll_id)
        rows = await Poll.raw(ADD_VOTE_PG_SQL, *values)
        return int(rows[0]["seq"])
    await Vote.raw(INSERT_SQL, user_id, option_id, poll_id, single, now)
    await PollOption.raw(COUNT_SQL, 1, option_id)
    return await _finish(poll_id, voters)


async def _finish(poll_id: int, voters_delta: int) -> int:
    """Bump the poll's seq (and voters); return the new seq."""
    rows = await Poll.raw(FINISH_SQL, voters_delta, poll_id)
    return int(rows[0]["seq"])


def _voter_results(poll: dict[str, Any], counts: Tally, user_id: int) -> Results:
    """The results as the voter, who has just voted, may see them."""
    return present(counts, visible_to(poll, user_id, has_voted=True))


@shielded
async def cast_vote(
    user_id: int, poll_id: int, option_id: int, *, is_guest: bool = False
) -> tuple[Results, bool]:
    """Vote for an option; returns the results and whether anything changed.

    In a single-choice poll a vote for another option replaces the earlier one.
    """
    async with write_transaction(queue=(Poll, poll_id)):
        locked = await _lock_open_poll(poll_id, user_id)
        poll, mine = locked.poll, locked.mine
        if is_guest and not poll["allows_guests"]:
            raise Forbidden("This poll takes votes from signed-in accounts only.")
        if not locked.has_option(option_id):
            raise _not_this_polls()
        if option_id in mine:
            return _voter_results(poll, locked.counts, user_id), False
        replaced = [] if poll["allows_multiple"] else mine
        await _remove(user_id, replaced)
        voters = 0 if mine else 1
        seq = await _add(user_id, option_id, poll_id, not poll["allows_multiple"], voters)
        counts = counted(locked.counts, added=option_id, removed=replaced, voters=voters)
        assert counts.seq == seq, "the poll's lock keeps its counts ours until commit"
    events.poll_changed(poll_id, seq)
    return _voter_results(poll, counts, user_id), True


@shielded
async def withdraw_votes(user_id: int, poll_id: int, option_id: int | None = None) -> None:
    """Withdraw one choice (option_id) or all of the user's choices in the poll."""
    async with write_transaction(queue=(Poll, poll_id)):
        locked = await _lock_open_poll(poll_id, user_id)
        if option_id is not None and not locked.has_option(option_id):
            raise _not_this_polls()
        mine = locked.mine
        removed = [o for o in mine if option_id is None or o == option_id]
        if not removed:
            return
        await _remove(user_id, removed)
        seq = await _finish(poll_id, -1 if len(removed) == len(mine) else 0)
    events.poll_changed(poll_id, seq)


async def my_choices(user_id: int, poll_id: int) -> list[int]:
    """The options the user currently has a vote on in this poll."""
    await poll_row(poll_id, user_id)
    rows = await Vote.raw(MY_OPTIONS_SQL, user_id, poll_id)
    return sorted(row["option"] for row in rows)
