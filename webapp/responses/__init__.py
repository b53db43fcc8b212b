"""Responses of the kinds other than choice: one transaction shape for all of them.

`respond` is the voters' path, as a vote's is (webapp/votes.py): the poll's row locked
first, so one poll's responses are serialised and the running counts stay exact; the poll
open (published, not closed, inside its own and its event's window, the current question
of a presenter-paced event) and the person eligible under its `voting` ladder; then the
kind's own write, which the database's keys hold to one response per person (or the kind's
own limit). A person's first response opens their ballot (the guest device and network
checks, the integrity report and `after_vote` visibility work as for votes), the last one
withdrawn closes it, and every change bumps the poll's seq in the same transaction. A request
with an Idempotency-Key (`Keyed`) has its key taken first in that transaction and its answer
stored last (webapp/idempotency.py), so the response counts exactly when its key commits.

`moderate` is the owner's path (hiding an answer, highlighting a question): the same lock,
the creator only, any state of the poll but a missing one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from webapp import idempotency, notices, refusals
from webapp.db import is_postgres, is_unique_violation, shielded, write_transaction
from webapp.errors import Forbidden, NotFound
from webapp.idempotency import Claim, Outcome
from webapp.polls import POLL_NAMES
from webapp.results import Results, tally_of
from webapp.tables import Kind, Poll
from webapp.votes import (
    CLOSE_BALLOT_SQL,
    FINISH_SQL,
    LOCK_SQL,
    OPEN_BALLOT_SQL,
    DeviceUsed,
    Locked,
    Voter,
    check_eligible,
    check_guest,
    check_open,
    instant,
    wrong_kind,
)

_POLL = ", ".join(f"p.{name}" for name in POLL_NAMES)
RESPOND_SQL = (
    f"SELECT {_POLL}, e.opens_at AS event_opens_at, e.closes_at AS event_closes_at,"
    " e.mode AS event_mode, q.is_current AS event_current,"
    ' (SELECT count(*) FROM ballot b WHERE b.poll = p.id AND b."user" = {}) AS has_ballot'
    " FROM poll p LEFT JOIN event_question q ON q.poll = p.id"
    " LEFT JOIN event e ON e.id = q.event WHERE p.id = {}"
)
SEQ_SQL = "UPDATE poll SET seq = seq + 1 WHERE id = {} RETURNING seq"


@dataclass(frozen=True)
class Change:
    """What a kind's write did: whether it changed anything (a new seq), and the ballot's
    move: +1 for the person's first response in the poll, -1 when their last one went."""

    changed: bool
    ballot: int = 0
    made: int | None = None  # the id of what the write added (a Q&A question)
    # The results as the person now sees them, when the write made them (a word-cloud
    # batch lays its cloud out once for all its answers): the reply need not read them.
    results: Results | None = None


# What a request answers, from the change its write made.
Reply = Callable[[Change], Awaitable[Outcome]]


@dataclass(frozen=True)
class Keyed:
    """A request's claim on its Idempotency-Key, and its answer: read last in the
    transaction, stored with the key, so the first answer and every replay are the same."""

    claim: Claim
    reply: Reply


# A kind's write, given the locked poll's row and whether the person holds a ballot there.
Write = Callable[[dict[str, Any], bool], Awaitable[Change]]
# An owner's change, given the locked poll's row: whether it changed anything.
Moderation = Callable[[dict[str, Any]], Awaitable[bool]]


def locked_of(rows: list[dict[str, Any]]) -> Locked | None:
    if not rows:
        return None
    row = rows[0]
    poll = {name: row[name] for name in POLL_NAMES}
    window = (instant(row["event_opens_at"]), instant(row["event_closes_at"]))
    waits = row["event_mode"] == "presenter" and not row["event_current"]
    return Locked(poll, tally_of(poll, []), {}, window, waits)


@shielded
async def respond(
    voter: Voter,
    poll_id: int,
    kind: Kind | None,
    write: Write,
    *,
    window_s: int = 3600,
    keyed: Keyed | None = None,
) -> Change:
    """Run a kind's write for this voter under the poll's lock (`kind` None: the write
    checks the kind itself); the change it made. A refusal by one of the poll's integrity
    rules is counted for its report, as a vote's is. With `keyed`, an outcome the key
    already has is raised as `idempotency.Replay` instead."""
    with refusals.counted(poll_id):
        change, seq = await _respond(voter, poll_id, kind, write, window_s, keyed)
    if seq is not None:
        notices.poll_changed(poll_id, seq)
    return change


async def _respond(
    voter: Voter, poll_id: int, kind: Kind | None, write: Write, window_s: int, keyed: Keyed | None
) -> tuple[Change, int | None]:
    async with write_transaction(queue=(Poll, poll_id)):
        await idempotency.take(keyed.claim if keyed else None)
        if is_postgres():
            await Poll.raw(LOCK_SQL, poll_id)
        rows = await Poll.raw(RESPOND_SQL, voter.user_id, poll_id)
        poll = check_open(locked_of(rows), voter.user_id, kind).poll
        check_eligible(poll_id, poll, voter)
        has_ballot = bool(rows[0]["has_ballot"])
        change = await write(poll, has_ballot)
        seq = await _finish(poll_id, poll, voter, window_s, change)
        if keyed is not None:
            await keyed.claim.settle_as(await keyed.reply(change))
        return change, seq


async def _finish(
    poll_id: int, poll: dict[str, Any], voter: Voter, window_s: int, change: Change
) -> int | None:
    """The ballot's move and the new seq, for a write that changed something."""
    if not change.changed:
        return None
    if change.ballot > 0:
        await check_guest(poll_id, poll, voter, window_s)
        await _open_ballot(poll_id, voter)
    elif change.ballot < 0:
        await Poll.raw(CLOSE_BALLOT_SQL, poll_id, voter.user_id)
    rows = await Poll.raw(FINISH_SQL, change.ballot, poll_id)
    return int(rows[0]["seq"])


async def _open_ballot(poll_id: int, voter: Voter) -> None:
    now = datetime.now(UTC)
    ballot = (poll_id, voter.user_id, voter.kind.value, voter.device, voter.network, now)
    try:
        await Poll.raw(OPEN_BALLOT_SQL, *ballot)
    except Exception as exc:
        if is_unique_violation(exc):  # (poll, device): another guest ballot raced ours
            raise DeviceUsed("This browser has already answered in this poll.") from exc
        raise


@shielded
async def moderate(poll_id: int, user_id: int, kind: Kind, change: Moderation) -> bool:
    """An owner's change to a poll of `kind` (hiding an entry, highlighting a question),
    under the poll's lock; whether it changed anything (then the seq moves on)."""
    async with write_transaction(queue=(Poll, poll_id)):
        if is_postgres():
            await Poll.raw(LOCK_SQL, poll_id)
        rows = await Poll.raw(RESPOND_SQL, user_id, poll_id)
        locked = locked_of(rows)
        if locked is None or (
            not locked.poll["is_published"] and locked.poll["creator"] != user_id
        ):
            raise NotFound("No such poll.")
        poll = locked.poll
        if poll["creator"] != user_id:
            raise Forbidden("Only the poll's creator can moderate it.")
        if poll["kind"] != kind:
            raise wrong_kind(Kind(poll["kind"]))
        if not await change(poll):
            return False
        rows = await Poll.raw(SEQ_SQL, poll_id)
        seq = int(rows[0]["seq"])
    notices.poll_changed(poll_id, seq)
    return True
