"""Group commit for word-cloud answers: the answers to one poll that arrive while its last
batch is being written go in together (webapp/groupcommit.py), as votes do.

A batch is one transaction: the keys taken, the poll's row locked, one read of the poll,
of these people's ballots and of their answers; then each answer decided in order, as if it
had gone alone (the same rules as `respond`: open, eligible, the guest checks, a free slot,
your own repeat changing nothing), one multi-row write of the answers, one upsert of the
running counts per word (identical answers in one batch are one row counted once each), the
ballots opened, one seq, and the cloud laid out once for that seq (webapp/kinds/word_cloud),
which every answer's reply and the live stream then show. A write the database refuses (a
guest ballot raced by another process) undoes the batch, and each answer then goes alone.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from webapp import idempotency, metrics, notices
from webapp.db import (
    flat,
    is_foreign_key_violation,
    is_postgres,
    is_unique_violation,
    shielded,
    values,
    write_transaction,
)
from webapp.errors import Conflict, DomainError, Unauthorized
from webapp.groupcommit import GroupCommit, together_or_alone
from webapp.kinds.word_cloud import current_layout, detail_of
from webapp.questions.answers import Answer
from webapp.responses import RESPOND_SQL, Change, Keyed, locked_of
from webapp.results import audience_sees, present, tally_of, visible_to
from webapp.tables import BallotKind, Kind, Poll
from webapp.votes import (
    FINISH_SQL,
    LOCK_SQL,
    OPEN_BALLOTS_SQL,
    DeviceUsed,
    Locked,
    Voter,
    check_eligible,
    check_guest,
    check_open,
)

_IN = ", ".join  # placeholders for an IN list: _IN("{}" for _ in ids)
BALLOTS_SQL = 'SELECT "user" FROM ballot WHERE poll = {{}} AND "user" IN ({users})'
ANSWERS_SQL = (
    'SELECT "user", slot, answer_key FROM word_answer WHERE poll = {{}} AND "user" IN ({users})'
)
INSERT_SQL = 'INSERT INTO word_answer (poll, "user", slot, answer_key, text) VALUES {rows}'
COUNT_SQL = (
    "INSERT INTO word_count (poll, answer_key, text, count) VALUES {rows}"
    " ON CONFLICT (poll, answer_key) DO UPDATE SET count = word_count.count + excluded.count"
)


@dataclass(frozen=True)
class Given:
    """One answer, waiting for its poll's next batch."""

    voter: Voter
    answer: Answer
    window_s: int
    keyed: Keyed | None


async def give(
    voter: Voter, poll_id: int, answer: Answer, window_s: int, keyed: Keyed | None
) -> Change:
    """The answer's change once its batch is written (its refusal raised)."""
    return await _batches.submit(poll_id, Given(voter, answer, window_s, keyed))


def _undo(given: Given) -> None:
    if given.keyed is not None:
        given.keyed.claim.reset()  # from a batch that was undone


async def _give_batch(poll_id: int, batch: list[Given]) -> list[Change | BaseException]:
    return await together_or_alone(
        poll_id,
        batch,
        _together,
        undo=_undo,
        written=metrics.ANSWER_BATCH.observe,
        changed=notices.poll_changed,
    )


_batches: GroupCommit[int, Given, Change] = GroupCommit(_give_batch)


@dataclass
class _Batch:
    """The batch's reads, kept up to date as each answer is decided, and its writes."""

    locked: Locked | None
    ballots: set[int]  # the people holding a ballot in the poll
    mine: dict[int, dict[int, str]]  # person -> slot -> answer key
    answers: list[tuple[int, int, Answer]]  # (person, slot, answer) to write
    opened: list[Voter]  # the people whose first answer this is
    stored: int = 0  # how many of `opened` have their ballot written already


@shielded
async def _together(
    poll_id: int, batch: list[Given]
) -> tuple[list[Change | BaseException], int | None]:
    """The answers' outcomes, in order, and the poll's seq after them (None: no change)."""
    async with write_transaction(queue=(Poll, poll_id)):
        taken = [await _take(given) for given in batch]
        if all(answered is not None for answered in taken):
            return [answered for answered in taken if answered is not None], None
        state = await _read(poll_id, [given.voter.user_id for given in batch])
        decided: list[Change | BaseException] = []
        for given, answered in zip(batch, taken, strict=True):
            if answered is not None:
                decided.append(answered)
                continue
            try:
                decided.append(await _decide(poll_id, state, given))
            except DomainError as refused:
                decided.append(refused)
        if state.locked is None or not any(isinstance(o, Change) for o in decided):
            return decided, None  # every answer refused (or replayed): nothing to write
        seq = await _write(poll_id, state) if state.answers else None
        poll = dict(state.locked.poll)
        if seq is not None:
            poll.update(seq=seq, voters=poll["voters"] + len(state.opened))
        made = await current_layout(poll_id, poll["seq"])  # laid out once, for this seq
        counts = tally_of(poll, [], detail_of(made))
        outcomes: list[Change | BaseException] = []
        for given, outcome in zip(batch, decided, strict=True):
            if isinstance(outcome, Change):
                seen = visible_to(poll, given.voter.user_id, has_voted=True)
                outcome = replace(outcome, results=present(counts, seen, audience_sees(poll)))
                if given.keyed is not None:
                    await given.keyed.claim.settle_as(await given.keyed.reply(outcome))
            outcomes.append(outcome)
        return outcomes, seq


async def _take(given: Given) -> BaseException | None:
    return await idempotency.take_or_answer(given.keyed.claim if given.keyed else None)


async def _read(poll_id: int, user_ids: list[int]) -> _Batch:
    """The poll locked until commit, with these people's ballots and answers."""
    if is_postgres():
        await Poll.raw(LOCK_SQL, poll_id)
    locked = locked_of(await Poll.raw(RESPOND_SQL, 0, poll_id))
    people = list(dict.fromkeys(user_ids))
    users = _IN("{}" for _ in people)
    rows = await Poll.raw(BALLOTS_SQL.format(users=users), poll_id, *people)
    ballots = {int(row["user"]) for row in rows}
    mine: dict[int, dict[int, str]] = {}
    for row in await Poll.raw(ANSWERS_SQL.format(users=users), poll_id, *people):
        mine.setdefault(int(row["user"]), {})[int(row["slot"])] = row["answer_key"]
    return _Batch(locked, ballots, mine, [], [])


async def _decide(poll_id: int, state: _Batch, given: Given) -> Change:
    """One answer, as if alone: a change into the lowest free slot; your own repeat of a word
    changes nothing; 409 with every slot taken (and the refusals of `respond`)."""
    voter, answer = given.voter, given.answer
    poll = check_open(state.locked, voter.user_id, Kind.word_cloud).poll
    check_eligible(poll_id, poll, voter)
    slots = state.mine.setdefault(voter.user_id, {})
    if answer.key in slots.values():
        return Change(False)
    limit = int(poll["answers_per_person"])
    free = [slot for slot in range(1, limit + 1) if slot not in slots]
    if not free:
        raise Conflict(
            f"You have given your {limit} {'answer' if limit == 1 else 'answers'}:"
            " remove one to give another."
        )
    first = voter.user_id not in state.ballots
    if first:
        if voter.kind == BallotKind.guest:
            # The guest checks count the poll's ballots by device and network: the ones this
            # batch opened so far must be there for them to count, as when going alone.
            await _store_ballots(poll_id, state)
        await check_guest(poll_id, poll, voter, given.window_s)
        state.ballots.add(voter.user_id)
        state.opened.append(voter)
    slots[free[0]] = answer.key
    state.answers.append((voter.user_id, free[0], answer))
    return Change(True, 1 if first else 0)


async def _write(poll_id: int, state: _Batch) -> int:
    """The batch's writes: its answers, their counts per word, the ballots it opens, and
    one new seq (returned)."""
    try:
        return await _write_rows(poll_id, state)
    except Exception as exc:
        if is_unique_violation(exc):  # (poll, device): another guest ballot raced ours
            raise DeviceUsed("This browser has already answered in this poll.") from exc
        if is_foreign_key_violation(exc):  # the person (a pruned guest) is gone meanwhile
            raise Unauthorized("Your session has ended: sign in or join again.") from exc
        raise


async def _write_rows(poll_id: int, state: _Batch) -> int:
    rows = [(poll_id, user_id, slot, a.key, a.text) for user_id, slot, a in state.answers]
    await Poll.raw(INSERT_SQL.format(rows=values(rows)), *flat(rows))
    per_word = Counter(a.key for _, _, a in state.answers)
    texts = {a.key: a.text for _, _, a in reversed(state.answers)}  # each word's first text
    counts = [(poll_id, key, texts[key], n) for key, n in per_word.items()]
    await Poll.raw(COUNT_SQL.format(rows=values(counts)), *flat(counts))
    await _store_ballots(poll_id, state)
    finished = await Poll.raw(FINISH_SQL, len(state.opened), poll_id)
    return int(finished[0]["seq"])


async def _store_ballots(poll_id: int, state: _Batch) -> None:
    """Write the ballots the batch has opened and not written yet."""
    new = state.opened[state.stored :]
    if not new:
        return
    now = datetime.now(UTC)
    ballots = [(poll_id, v.user_id, v.kind.value, v.device, v.network, now) for v in new]
    await Poll.raw(OPEN_BALLOTS_SQL.format(rows=values(ballots)), *flat(ballots))
    state.stored = len(state.opened)
