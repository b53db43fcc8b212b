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
from datetime import UTC, datetime, timedelta
from typing import Any

from webapp import events, idempotency, refusals
from webapp.db import (
    is_foreign_key_violation,
    is_postgres,
    is_unique_violation,
    shielded,
    write_transaction,
)
from webapp.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    TooManyRequests,
    Unauthorized,
)
from webapp.polls import POLL_NAMES, poll_row
from webapp.results import (
    OPTION_COLUMNS,
    Results,
    Tally,
    audience_sees,
    choices_in,
    counted,
    present,
    tally_of,
    visible_to,
)
from webapp.tables import Ballot, BallotKind, Poll, PollOption, Vote, Voting

_POLL = ", ".join(f"p.{name}" for name in POLL_NAMES)
# One row per option: the poll's columns, the option's count, and whether the voter chose it.
LOCKED_SQL = (
    f"SELECT {_POLL}, {OPTION_COLUMNS}, v.id IS NOT NULL AS chosen"
    " FROM poll p JOIN poll_option o ON o.poll = p.id"
    ' LEFT JOIN vote v ON v."option" = o.id AND v."user" = {}'
    ' WHERE p.id = {} ORDER BY o."position"'
)
# SQLite's IMMEDIATE transaction already holds the write lock; PostgreSQL locks the poll's row
# first, in a statement of its own: a statement that waited for a row lock still reads the
# other tables as they were when it started, so a vote committed meanwhile would be missed.
LOCK_SQL = "SELECT id FROM poll WHERE id = {} FOR UPDATE"
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
# A voter's ballot: opened with their first vote in a poll, closed when they withdraw the last.
OPEN_BALLOT_SQL = (
    'INSERT INTO ballot (poll, "user", kind, device, network, created_at)'
    ' VALUES ({}, {}, {}, {}, {}, {}) ON CONFLICT (poll, "user") DO NOTHING'
)
# On PostgreSQL a first vote opens the ballot in the same round trip as its other writes.
ADD_FIRST_VOTE_PG_SQL = f"WITH ballot_opened AS ({OPEN_BALLOT_SQL}), " + (
    ADD_VOTE_PG_SQL.removeprefix("WITH ")
)
CLOSE_BALLOT_SQL = 'DELETE FROM ballot WHERE poll = {} AND "user" = {}'
# Under the poll's lock, so the answer still holds when the ballot goes in.
GUEST_CHECK_SQL = (
    "SELECT (SELECT count(*) FROM ballot WHERE poll = {} AND device = {}) AS same_device,"
    " (SELECT count(*) FROM ballot WHERE poll = {} AND network = {} AND kind = 'guest'"
    " AND created_at > {}) AS from_network,"
    " (SELECT min(created_at) FROM ballot WHERE poll = {} AND network = {} AND kind = 'guest'"
    " AND created_at > {}) AS first_at"
)


@dataclass(frozen=True)
class Voter:
    """Who casts a ballot, as far as the request shows: the user, how they got in, and keyed
    hashes of their network and (guests) their browser's device cookie."""

    user_id: int
    kind: BallotKind = BallotKind.account
    network: str = ""
    device: str | None = None
    invited_to: int | None = None  # code voters: the poll their code admits them to


class Refused(Forbidden):
    """A vote refused by one of the poll's integrity rules (counted in its report)."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.rule = rule


class DeviceUsed(Conflict):
    rule = "device"


class NetworkCapReached(TooManyRequests):
    rule = "network"


def check_eligible(poll_id: int, poll: dict[str, Any], voter: Voter) -> None:
    """Whether this kind of voter may vote in this poll at all (its `voting` mode)."""
    voting = poll["voting"]
    if voter.kind == BallotKind.code:
        if voting != Voting.invite_codes or voter.invited_to != poll_id:
            raise Refused("code", "This invite code is for another poll.")
    elif voting == Voting.invite_codes:
        raise Refused(
            "eligibility", "This poll takes votes with an invite code only: enter yours first."
        )
    elif voter.kind == BallotKind.guest and voting != Voting.guests:
        raise Refused("eligibility", "This poll takes votes from signed-in accounts only.")


async def _check_guest(poll_id: int, poll: dict[str, Any], voter: Voter, window_s: int) -> None:
    """A guest's first vote here must come from a browser that holds no ballot in this poll
    yet (of any kind: an account's, another guest's, a code's), and from a network under the
    poll's cap of new guest ballots."""
    now = datetime.now(UTC)
    if voter.kind == BallotKind.guest:
        since = now - timedelta(seconds=window_s)
        net = (poll_id, voter.network, since)
        rows = await Ballot.raw(GUEST_CHECK_SQL, poll_id, voter.device, *net, *net)
        check = rows[0]
        if check["same_device"]:
            raise DeviceUsed("This browser has already voted in this poll as another guest.")
        cap = poll["guest_network_cap"]
        if cap and check["from_network"] >= cap:  # 0 (or none): no cap
            first = check["first_at"]
            if isinstance(first, str):
                first = datetime.fromisoformat(first)
            ends = (first or now) + timedelta(seconds=window_s)
            raise NetworkCapReached(
                "This poll has taken as many guest votes from your network as it allows.",
                max(1, int((ends - now).total_seconds()) + 1),
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
    return Locked(poll, tally_of(poll, rows), [r["option_id"] for r in rows if r["chosen"]])


def _not_this_polls() -> Invalid:
    return Invalid("option_id", "This option does not belong to this poll.")


async def _remove(user_id: int, option_ids: Iterable[int]) -> None:
    for option_id in option_ids:
        await Vote.raw(DELETE_SQL, user_id, option_id)
        await PollOption.raw(COUNT_SQL, -1, option_id)


async def _add(voter: Voter, option_id: int, poll_id: int, single: bool, first: bool) -> int:
    """Store the vote, count it, bump the poll's seq (and voters: a first vote also opens the
    voter's ballot); return the new seq."""
    try:
        return await _add_rows(voter, option_id, poll_id, single, first)
    except Exception as exc:
        if is_unique_violation(exc):  # (poll, device): another guest ballot raced ours
            raise DeviceUsed("This browser has already voted in this poll.") from exc
        if is_foreign_key_violation(exc):  # the guest was pruned as this vote came in
            raise Unauthorized("Your guest session has ended: join again to vote.") from exc
        raise


async def _add_rows(voter: Voter, option_id: int, poll_id: int, single: bool, first: bool) -> int:
    now = datetime.now(UTC)
    user_id, voters = voter.user_id, int(first)
    ballot = (poll_id, user_id, voter.kind.value, voter.device, voter.network, now)
    if is_postgres():
        values = (user_id, option_id, poll_id, single, now, option_id, voters, poll_id)
        if first:
            rows = await Poll.raw(ADD_FIRST_VOTE_PG_SQL, *ballot, *values)
        else:
            rows = await Poll.raw(ADD_VOTE_PG_SQL, *values)
        return int(rows[0]["seq"])
    if first:
        await Ballot.raw(OPEN_BALLOT_SQL, *ballot)
    await Vote.raw(INSERT_SQL, user_id, option_id, poll_id, single, now)
    await PollOption.raw(COUNT_SQL, 1, option_id)
    return await _finish(poll_id, voters)


async def _finish(poll_id: int, voters_delta: int) -> int:
    """Bump the poll's seq (and voters); return the new seq."""
    rows = await Poll.raw(FINISH_SQL, voters_delta, poll_id)
    return int(rows[0]["seq"])


def _voter_results(poll: dict[str, Any], counts: Tally, user_id: int) -> Results:
    """The results as the voter, who has just voted, may see them."""
    return present(counts, visible_to(poll, user_id, has_voted=True), audience_sees(poll))


async def cast_vote(
    voter: Voter | int,
    poll_id: int,
    option_id: int,
    *,
    network_window_s: int = 3600,
    claim: idempotency.Claim | None = None,
) -> tuple[Results, bool]:
    """Vote for an option; returns the results and whether anything changed.

    In a single-choice poll a vote for another option replaces the earlier one. A refusal by
    one of the poll's rules is counted for its integrity report. A request's idempotency
    `claim` is taken and settled in the vote's own transaction.
    """
    if isinstance(voter, int):
        voter = Voter(voter)
    try:
        return await _cast_vote(voter, poll_id, option_id, network_window_s, claim)
    except DomainError as error:
        if error.rule is not None:
            refusals.note(poll_id, error.rule)
        raise


@shielded
async def _cast_vote(
    voter: Voter, poll_id: int, option_id: int, window_s: int, claim: idempotency.Claim | None
) -> tuple[Results, bool]:
    user_id = voter.user_id
    async with write_transaction(queue=(Poll, poll_id)):
        await idempotency.take(claim)
        locked = await _lock_open_poll(poll_id, user_id)
        poll, mine = locked.poll, locked.mine
        check_eligible(poll_id, poll, voter)
        if not locked.has_option(option_id):
            raise _not_this_polls()
        if option_id in mine:
            results = _voter_results(poll, locked.counts, user_id)
            await idempotency.settle(claim, results, False)
            return results, False
        first = not mine
        if first:
            await _check_guest(poll_id, poll, voter, window_s)
        replaced = [] if poll["allows_multiple"] else mine
        await _remove(user_id, replaced)
        voters = int(first)
        seq = await _add(voter, option_id, poll_id, not poll["allows_multiple"], first)
        counts = counted(locked.counts, added=option_id, removed=replaced, voters=voters)
        assert counts.seq == seq, "the poll's lock keeps its counts ours until commit"
        results = _voter_results(poll, counts, user_id)
        await idempotency.settle(claim, results, True)
    events.poll_changed(poll_id, seq)
    return results, True


@shielded
async def withdraw_votes(
    user_id: int,
    poll_id: int,
    option_id: int | None = None,
    claim: idempotency.Claim | None = None,
) -> None:
    """Withdraw one choice (option_id) or all of the user's choices in the poll."""
    async with write_transaction(queue=(Poll, poll_id)):
        await idempotency.take(claim)
        locked = await _lock_open_poll(poll_id, user_id)
        if option_id is not None and not locked.has_option(option_id):
            raise _not_this_polls()
        mine = locked.mine
        removed = [o for o in mine if option_id is None or o == option_id]
        if not removed:
            await idempotency.settle(claim, None, False)
            return
        await _remove(user_id, removed)
        last = len(removed) == len(mine)
        if last:
            await Ballot.raw(CLOSE_BALLOT_SQL, poll_id, user_id)
        seq = await _finish(poll_id, -1 if last else 0)
        await idempotency.settle(claim, None, True)
    events.poll_changed(poll_id, seq)


async def my_choices(user_id: int, poll_id: int) -> list[int]:
    """The options the user currently has a vote on in this poll."""
    await poll_row(poll_id, user_id)
    return await choices_in(user_id, poll_id)
