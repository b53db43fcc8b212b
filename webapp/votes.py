"""Casting and withdrawing votes.

Every change locks the poll's row first, so changes to one poll are serialised: the running
counts stay exact and a vote never lands after the poll closes. Unique indexes on the vote
table enforce one vote per option and, for single-choice polls, one per poll.

The statements are plain SQL, the same on PostgreSQL and SQLite: every vote runs them, and
built by Piccolo's query builder they cost more CPU than the database spent on them. Once the
poll is locked, a change reads the poll, its counts and the voter's choices in one statement,
then computes the new counts from them instead of reading them again.

Votes for one poll that arrive while its previous ones are being written go in together
(group commit, `_cast_batch`): one lock and one read for the batch, each vote decided and
counted in turn as if alone (its own answer and seq), and the batch's new votes written in
one multi-row write (one round trip on PostgreSQL) before one commit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from webapp import clock, idempotency, metrics, notices, refusals
from webapp.db import (
    flat,
    is_foreign_key_violation,
    is_postgres,
    is_unique_violation,
    shielded,
    values,
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
from webapp.groupcommit import GroupCommit, together_or_alone
from webapp.polls import POLL_NAMES, load_row, poll_row
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
from webapp.tables import Ballot, BallotKind, EventMode, Kind, Poll, PollOption, Vote, Voting

_POLL = ", ".join(f"p.{name}" for name in POLL_NAMES)
# A row per option and voter who chose it (one with chooser null when none of these voters
# did): the poll's columns, the option's count, and the chooser. Voters go in the IN list.
# The window of the event the poll is a question of, if any (#14), comes in the same
# statement: a poll is in at most one event (a unique index), so no row is repeated.
LOCKED_SQL = (
    f'SELECT {_POLL}, {OPTION_COLUMNS}, v."user" AS chooser,'
    " e.opens_at AS event_opens_at, e.closes_at AS event_closes_at,"
    " e.mode AS event_mode, q.is_current AS event_current"
    " FROM poll p JOIN poll_option o ON o.poll = p.id"
    ' LEFT JOIN vote v ON v."option" = o.id AND v."user" IN ({voters})'
    " LEFT JOIN event_question q ON q.poll = p.id LEFT JOIN event e ON e.id = q.event"
    ' WHERE p.id = {{}} ORDER BY o."position"'
)
# SQLite's IMMEDIATE transaction already holds the write lock; PostgreSQL locks the poll's row
# first, in a statement of its own: a statement that waited for a row lock still reads the
# other tables as they were when it started, so a vote committed meanwhile would be missed.
# FOR NO KEY UPDATE: it serialises the poll's writers (and a delete, which takes FOR UPDATE)
# as FOR UPDATE does, but not another transaction's foreign-key check on the poll (a row
# that references it, such as a reader storing a poll's first word-cloud layout outside
# any transaction), which would otherwise wait for the batch, and could deadlock with it.
LOCK_SQL = "SELECT id FROM poll WHERE id = {} FOR NO KEY UPDATE"
DELETE_SQL = 'DELETE FROM vote WHERE "user" = {} AND "option" = {}'
COUNT_SQL = "UPDATE poll_option SET votes = votes + {} WHERE id = {}"
# A voter's ballot: opened with their first vote in a poll, closed when they withdraw the last.
OPEN_BALLOTS_SQL = (
    'INSERT INTO ballot (poll, "user", kind, device, network, created_at) VALUES {rows}'
    ' ON CONFLICT (poll, "user") DO NOTHING'
)
OPEN_BALLOT_SQL = OPEN_BALLOTS_SQL.format(rows="({}, {}, {}, {}, {}, {})")
ADD_VOTES_SQL = 'INSERT INTO vote ("user", "option", poll, single_choice, created_at) VALUES {rows}'
# A batch's new votes move the poll's seq by one each, as if they had gone one by one.
FINISH_BATCH_SQL = (
    "UPDATE poll SET seq = seq + {}, voters = voters + {} WHERE id = {} RETURNING seq"
)
FINISH_SQL = FINISH_BATCH_SQL.format("1", "{}", "{}")  # one change
# On PostgreSQL a batch's new votes go in one round trip: its ballots, its vote rows, the
# options' counts and the poll's seq (SQLite has no data-modifying WITH: one by one there).
COUNT_BATCH_PG_SQL = (
    "UPDATE poll_option SET votes = poll_option.votes + d.n"
    " FROM (VALUES {rows}) AS d(id, n) WHERE poll_option.id = d.id"
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


async def check_guest(poll_id: int, poll: dict[str, Any], voter: Voter, window_s: int) -> None:
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
    """A poll locked until commit: its row, its counts and these voters' choices, kept up to
    date by each vote of the batch as it is written."""

    poll: dict[str, Any]
    counts: Tally
    mine: dict[int, list[int]]  # voter -> their options in this poll
    # The window of the poll's event, if it is a question of one: (opens_at, closes_at).
    event_window: tuple[datetime | None, datetime | None] = (None, None)
    # A question of a presenter-paced event that the presenter has not put up (or has moved
    # on from): only the current question takes votes there.
    waits_for_presenter: bool = False

    def has_option(self, option_id: int) -> bool:
        return any(option_id == option for option, _, _ in self.counts.options)

    def results_for(self, user_id: int) -> Results:
        """The results as the voter, who has just voted, may see them."""
        poll = self.poll
        return present(self.counts, visible_to(poll, user_id, has_voted=True), audience_sees(poll))


async def _lock(poll_id: int, user_ids: list[int]) -> Locked | None:
    """The poll, its counts and these voters' choices, locked until commit; None: no poll."""
    if is_postgres():
        await Poll.raw(LOCK_SQL, poll_id)
    voters = list(dict.fromkeys(user_ids))
    sql = LOCKED_SQL.format(voters=", ".join("{}" for _ in voters))
    rows = await Poll.raw(sql, *voters, poll_id)
    if not rows:
        # No options: no poll, or a poll of another kind (which _check_open refuses).
        row = await load_row(poll_id)
        return None if row is None else Locked(row, tally_of(row, []), {})
    poll = {name: rows[0][name] for name in POLL_NAMES}
    options = list({row["option_id"]: row for row in rows}.values())
    mine: dict[int, list[int]] = {}
    for row in rows:
        if row["chooser"] is not None:
            mine.setdefault(row["chooser"], []).append(row["option_id"])
    first = rows[0]
    window = (instant(first["event_opens_at"]), instant(first["event_closes_at"]))
    waits = first["event_mode"] == EventMode.presenter and not first["event_current"]
    return Locked(poll, tally_of(poll, options), mine, window, waits)


def instant(value: Any) -> datetime | None:
    """A timestamp of the joined event (SQLite may give its text form)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # stored in UTC (webapp/events.py)
    return value


# Where each kind takes its responses, for a request sent to another kind's endpoint.
ANSWERED_BY = {
    Kind.choice: "vote with POST .../votes.",
    Kind.word_cloud: "answer with POST .../words.",
    Kind.scale: "rate with PUT .../response.",
    Kind.ranking: "rank with PUT .../response.",
    Kind.open_text: "answer with PUT .../response.",
    Kind.qa: "ask with POST .../qa.",
}


def wrong_kind(found: Kind) -> Conflict:
    """A request for a poll of another kind: 409, saying where this poll takes responses."""
    return Conflict(f"This poll is a {found.value} poll: {ANSWERED_BY[found]}")


def check_open(locked: Locked | None, user_id: int, kind: Kind | None = Kind.choice) -> Locked:
    """The locked poll, if it is open for votes (and visible to this voter): published, not
    closed, and inside its schedule's window by the server's clock (webapp/clock.py), read
    now, for this vote, under the poll's lock. The scheduler need not have run: past its
    closes_at a poll refuses votes, and before its opens_at too."""
    if locked is None or (not locked.poll["is_published"] and locked.poll["creator"] != user_id):
        raise NotFound("No such poll.")
    poll = locked.poll
    if not poll["is_published"]:
        raise Conflict("This poll is a draft: publish it before voting.")
    if kind is not None and poll["kind"] != kind:
        raise wrong_kind(Kind(poll["kind"]))
    now = clock.now()
    closes = poll["closes_at"]
    if poll["closed_at"] is not None or (closes is not None and closes <= now):
        raise Conflict("This poll is closed.")
    opens = poll["opens_at"]
    if opens is not None and opens > now:
        raise Conflict(f"This poll opens for votes at {opens.isoformat(timespec='seconds')}.")
    # The event's window holds whatever the question's own schedule says (its owner may have
    # reopened it or moved its times since): webapp/events.py also schedules the questions
    # to it, so that pages show it and the scheduler closes them live.
    event_opens, event_closes = locked.event_window
    if event_closes is not None and event_closes <= now:
        raise Conflict("This poll's event has closed: it takes no more votes.")
    if event_opens is not None and event_opens > now:
        when = event_opens.isoformat(timespec="seconds")
        raise Conflict(f"This poll's event opens for votes at {when}.")
    if locked.waits_for_presenter:
        raise Conflict("This question is not on screen: the presenter's current one takes votes.")
    return locked


def _not_this_polls() -> Invalid:
    return Invalid("option_id", "This option does not belong to this poll.")


async def _remove(user_id: int, option_ids: Iterable[int]) -> None:
    for option_id in option_ids:
        await Vote.raw(DELETE_SQL, user_id, option_id)
        await PollOption.raw(COUNT_SQL, -1, option_id)


@dataclass
class _New:
    """A new vote of the batch, decided and counted, not yet written."""

    voter: Voter
    option_id: int
    single: bool
    first: bool  # the voter's first in the poll: it opens their ballot


async def _add(poll_id: int, new: list[_New]) -> int:
    """Store the new votes, count them, move the poll's seq by one for each (and its voters
    by their first votes, which also open their ballots); return the new seq."""
    try:
        return await _add_rows(poll_id, new)
    except Exception as exc:
        if is_unique_violation(exc):  # (poll, device): another guest ballot raced ours
            raise DeviceUsed("This browser has already voted in this poll.") from exc
        if is_foreign_key_violation(exc):  # the guest was pruned as this vote came in
            raise Unauthorized("Your guest session has ended: join again to vote.") from exc
        raise


async def _add_rows(poll_id: int, new: list[_New]) -> int:
    now = datetime.now(UTC)
    ballots = [
        (poll_id, n.voter.user_id, n.voter.kind.value, n.voter.device, n.voter.network, now)
        for n in new
        if n.first
    ]
    added = [(n.voter.user_id, n.option_id, poll_id, n.single, now) for n in new]
    counts = list(Counter(n.option_id for n in new).items())
    finish = (len(new), len(ballots), poll_id)
    if is_postgres():
        writes = [ADD_VOTES_SQL.format(rows=values(added)), _count_batch_sql(counts)]
        args = [*flat(added), *flat(counts)]
        if ballots:
            writes.insert(0, OPEN_BALLOTS_SQL.format(rows=values(ballots)))
            args[:0] = flat(ballots)
        sql = "WITH " + ", ".join(f"w{i} AS ({w})" for i, w in enumerate(writes))
        rows = await Poll.raw(f"{sql} {FINISH_BATCH_SQL}", *args, *finish)
        return int(rows[0]["seq"])
    if ballots:
        await Ballot.raw(OPEN_BALLOTS_SQL.format(rows=values(ballots)), *flat(ballots))
    await Vote.raw(ADD_VOTES_SQL.format(rows=values(added)), *flat(added))
    for option_id, n in counts:
        await PollOption.raw(COUNT_SQL, n, option_id)
    rows = await Poll.raw(FINISH_BATCH_SQL, *finish)
    return int(rows[0]["seq"])


def _count_batch_sql(counts: list[tuple[int, int]]) -> str:
    # Typed: PostgreSQL cannot tell a VALUES list's parameter types from their use.
    rows = ", ".join("(CAST({} AS INTEGER), CAST({} AS INTEGER))" for _ in counts)
    return COUNT_BATCH_PG_SQL.format(rows=rows)


async def _finish(poll_id: int, voters_delta: int) -> int:
    """Bump the poll's seq (and voters); return the new seq."""
    rows = await Poll.raw(FINISH_SQL, voters_delta, poll_id)
    return int(rows[0]["seq"])


@dataclass(frozen=True)
class Cast:
    """One vote request, waiting for its poll's next batch."""

    voter: Voter
    option_id: int
    window_s: int
    claim: idempotency.Claim | None


Outcome = tuple[Results, bool]


async def cast_vote(
    voter: Voter | int,
    poll_id: int,
    option_id: int,
    *,
    network_window_s: int = 3600,
    claim: idempotency.Claim | None = None,
) -> Outcome:
    """Vote for an option; returns the results and whether anything changed.

    In a single-choice poll a vote for another option replaces the earlier one. A refusal by
    one of the poll's rules is counted for its integrity report. A request's idempotency
    `claim` is taken and settled in the vote's own transaction. Votes for a poll that arrive
    while its previous votes are being written go in together (`_cast_batch`).
    """
    if isinstance(voter, int):
        voter = Voter(voter)
    with refusals.counted(poll_id):
        return await _batches.submit(poll_id, Cast(voter, option_id, network_window_s, claim))


async def _cast_batch(poll_id: int, casts: list[Cast]) -> list[Outcome | BaseException]:
    """Several votes for one poll in one transaction: one lock, one read of the counts and
    of the voters' choices, each vote's writes, one commit; each vote answered as if it had
    gone alone, in order. A write the database refuses (a guest ballot raced by another
    process, a guest pruned meanwhile) undoes the batch, and every vote then goes alone."""
    return await together_or_alone(
        poll_id,
        casts,
        _cast_together,
        undo=_undo,
        written=metrics.VOTE_BATCH.observe,
        changed=notices.poll_changed,
    )


def _undo(cast: Cast) -> None:
    if cast.claim is not None:
        cast.claim.reset()  # from a batch that was undone


_batches: GroupCommit[int, Cast, Outcome] = GroupCommit(_cast_batch)


class _Decided(Exception):
    """A vote answered before any write: a refusal, or a replay of its key's outcome."""

    def __init__(self, outcome: BaseException) -> None:
        super().__init__()
        self.outcome = outcome


@shielded
async def _cast_together(
    poll_id: int, casts: list[Cast]
) -> tuple[list[Outcome | BaseException], int | None]:
    """The votes' outcomes, in order, and the poll's seq after the last change (None: none).
    A refusal is its vote's outcome; an error from a write undoes them all (raised).

    Each vote is decided and counted in turn, as if alone; the new votes are then written
    together (`_add`). They are written sooner where a later vote must see them in the
    database: before a guest's checks (which count the poll's ballots) and before a second
    vote of the same person in the batch (a change removes the rows it replaces)."""
    outcomes: list[Outcome | BaseException] = []
    seq: int | None = None
    new: list[_New] = []
    settled: list[tuple[idempotency.Claim | None, Results, bool]] = []
    async with write_transaction(queue=(Poll, poll_id)):
        # Keys first, before the poll's lock: a request with the same key on another
        # process, while this one waits for the lock, is then told it is in flight.
        taken = [await _take(cast) for cast in casts]
        if all(answered is not None for answered in taken):
            return [answered for answered in taken if answered is not None], None
        locked = await _lock(poll_id, [cast.voter.user_id for cast in casts])
        for cast, refused in zip(casts, taken, strict=True):
            user_id = cast.voter.user_id
            if refused is not None:
                outcomes.append(refused)
                continue
            if new and (cast.voter.kind == BallotKind.guest or _touched(new, user_id)):
                await _write(poll_id, new, seq)
            try:
                first = await _decide(poll_id, locked, cast)
            except _Decided as decided:
                outcomes.append(decided.outcome)
                continue
            assert locked is not None, "_decide refuses votes for a missing poll"
            if first is not None:
                seq = await _count(locked, cast, first, new)
            results = locked.results_for(user_id)
            outcomes.append((results, first is not None))
            settled.append((cast.claim, results, first is not None))
        if new:
            await _write(poll_id, new, seq)
        # The keys' outcomes last, after the votes' rows: a vote the database refuses (its
        # person gone meanwhile) is refused as such, not by the key's own row.
        for claim, results, changed in settled:
            await idempotency.settle(claim, results, changed)
    return outcomes, seq


def _touched(new: list[_New], user_id: int) -> bool:
    return any(n.voter.user_id == user_id for n in new)


async def _decide(poll_id: int, locked: Locked | None, cast: Cast) -> bool | None:
    """Whether the vote is the voter's first in the poll, None when it changes nothing (the
    option is already theirs); raises _Decided when it is refused or replayed."""
    try:
        voter = cast.voter
        poll = check_open(locked, voter.user_id)
        check_eligible(poll_id, poll.poll, voter)
        if not poll.has_option(cast.option_id):
            raise _not_this_polls()
        mine = poll.mine.get(voter.user_id, [])
        if cast.option_id in mine:
            return None
        if not mine:
            await check_guest(poll_id, poll.poll, voter, cast.window_s)
        return not mine
    except DomainError as refused:
        raise _Decided(refused) from None


async def _take(cast: Cast) -> BaseException | None:
    return await idempotency.take_or_answer(cast.claim)


async def _count(locked: Locked, cast: Cast, first: bool, new: list[_New]) -> int:
    """One vote of the batch: the vote it replaces removed now, the new one held in `new`
    for `_write`, and the locked counts moved with both; the poll's seq after it."""
    user_id, option_id = cast.voter.user_id, cast.option_id
    mine = locked.mine.get(user_id, [])
    multiple = bool(locked.poll["allows_multiple"])
    replaced = [] if multiple else mine
    await _remove(user_id, replaced)
    new.append(_New(cast.voter, option_id, not multiple, first))
    locked.counts = counted(locked.counts, added=option_id, removed=replaced, voters=int(first))
    locked.mine[user_id] = [*(mine if multiple else []), option_id]
    return locked.counts.seq


async def _write(poll_id: int, new: list[_New], counted_seq: int | None) -> None:
    """Write the batch's new votes held so far; the poll's seq they make must be the one
    the locked counts reached with them."""
    seq = await _add(poll_id, new)
    new.clear()
    assert seq == counted_seq, "the poll's lock keeps its counts ours until commit"


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
        locked = check_open(await _lock(poll_id, [user_id]), user_id)
        if option_id is not None and not locked.has_option(option_id):
            raise _not_this_polls()
        mine = locked.mine.get(user_id, [])
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
    notices.poll_changed(poll_id, seq)


async def my_choices(user_id: int, poll_id: int) -> list[int]:
    """The options the user currently has a vote on in this poll."""
    await poll_row(poll_id, user_id)
    return await choices_in(user_id, poll_id)
