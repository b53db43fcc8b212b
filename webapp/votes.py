"""Casting and withdrawing votes.

Every change locks the poll's row first, so changes to one poll are serialised: the running
counts stay exact and a vote never lands after the poll closes. Unique indexes on the vote
table enforce one vote per option and, for single-choice polls, one per poll.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from webapp import events
from webapp.db import shielded, write_transaction
from webapp.errors import Conflict, Forbidden, Invalid
from webapp.polls import poll_row
from webapp.results import Results, Tally, counted, present, tally, visible_to
from webapp.tables import Poll, PollOption, User, Vote


async def _open_poll(poll_id: int, user_id: int) -> dict[str, Any]:
    row = await poll_row(poll_id, user_id, lock=True)
    if not row["is_published"]:
        raise Conflict("This poll is a draft: publish it before voting.")
    if row["closed_at"] is not None:
        raise Conflict("This poll is closed.")
    return row


async def _check_option(poll_id: int, option_id: int) -> None:
    owner = await PollOption.select(PollOption.poll).where(PollOption.id == option_id).first()
    if owner is None or owner["poll"] != poll_id:
        raise _not_this_polls()


def _not_this_polls() -> Invalid:
    return Invalid("option_id", "This option does not belong to this poll.")


# The statements every vote runs are plain SQL (the same on PostgreSQL and SQLite): built by
# Piccolo's query builder they cost more CPU than the database spent on them.
MY_OPTIONS_SQL = 'SELECT "option" FROM vote WHERE "user" = {} AND poll = {}'
COUNT_SQL = "UPDATE poll_option SET votes = votes + {} WHERE id = {}"
FINISH_SQL = "UPDATE poll SET seq = seq + 1, voters = voters + {} WHERE id = {} RETURNING seq"


async def _my_options(user_id: int, poll_id: int) -> list[int]:
    rows = await Vote.raw(MY_OPTIONS_SQL, user_id, poll_id)
    return [row["option"] for row in rows]


async def _count(option_ids: Iterable[int], delta: int) -> None:
    for option_id in option_ids:
        await PollOption.raw(COUNT_SQL, delta, option_id)


def _user(user_id: int) -> User:
    return User(id=user_id, _exists_in_db=True, _ignore_missing=True)


def _options(option_ids: Iterable[int]) -> list[PollOption]:
    return [
        PollOption(id=option_id, _exists_in_db=True, _ignore_missing=True)
        for option_id in option_ids
    ]


def _voter_results(row: dict[str, Any], counts: Tally, user_id: int) -> Results:
    """The results as the voter, who has just voted, may see them."""
    return present(counts, visible_to(row, user_id, has_voted=True))


async def _finish(poll_id: int, voters_delta: int) -> int:
    """Bump the poll's seq (and voters); return the new seq."""
    rows = await Poll.raw(FINISH_SQL, voters_delta, poll_id)
    return int(rows[0]["seq"])


@shielded
async def cast_vote(
    user_id: int, poll_id: int, option_id: int, *, is_guest: bool = False
) -> tuple[Results, bool]:
    """Vote for an option; returns the results and whether anything changed.

    In a single-choice poll a vote for another option replaces the earlier one.
    """
    async with write_transaction():
        row = await _open_poll(poll_id, user_id)
        if is_guest and not row["allows_guests"]:
            raise Forbidden("This poll takes votes from signed-in accounts only.")
        # Read under the poll's lock, so nobody else moves these counts until we commit.
        counts = await tally(poll_id)
        assert counts is not None, "a locked poll has options"
        if all(option_id != option for option, _, _ in counts.options):
            raise _not_this_polls()
        mine = await _my_options(user_id, poll_id)
        if option_id in mine:
            return _voter_results(row, counts, user_id), False
        replaced = [] if row["allows_multiple"] else mine
        if replaced:
            await _user(user_id).remove_m2m(*_options(replaced), m2m=User.options)
            await _count(replaced, -1)
        await _user(user_id).add_m2m(
            *_options([option_id]),
            m2m=User.options,
            # Vote's foreign keys are NOT NULL: give add_m2m a complete row to fill in.
            extra_column_values={
                Vote.user: user_id,
                Vote.option: option_id,
                Vote.poll: poll_id,
                Vote.single_choice: not row["allows_multiple"],
            },
        )
        await _count([option_id], +1)
        voters = 0 if mine else 1
        seq = await _finish(poll_id, voters)
        counts = counted(counts, added=option_id, removed=replaced, voters=voters)
        assert counts.seq == seq, "the poll's lock keeps its counts ours until commit"
    events.poll_changed(poll_id, seq)
    return _voter_results(row, counts, user_id), True


@shielded
async def withdraw_votes(user_id: int, poll_id: int, option_id: int | None = None) -> None:
    """Withdraw one choice (option_id) or all of the user's choices in the poll."""
    async with write_transaction():
        await _open_poll(poll_id, user_id)
        if option_id is not None:
            await _check_option(poll_id, option_id)
        mine = await _my_options(user_id, poll_id)
        removed = [o for o in mine if option_id is None or o == option_id]
        if not removed:
            return
        await _user(user_id).remove_m2m(*_options(removed), m2m=User.options)
        await _count(removed, -1)
        seq = await _finish(poll_id, -1 if len(removed) == len(mine) else 0)
    events.poll_changed(poll_id, seq)


async def my_choices(user_id: int, poll_id: int) -> list[int]:
    """The options the user currently has a vote on in this poll."""
    await poll_row(poll_id, user_id)
    return sorted(await _my_options(user_id, poll_id))
