"""Votes for one poll that arrive while its votes are being written go in one transaction,
each voter still getting their own answer, with the counts exact (PostgreSQL: the test holds
the poll's row lock from a connection of its own, so that the batch forms for certain)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from quart.typing import TestClientProtocol as Client
from quart.wrappers import Response

from tests.conftest import DB_URL, MakeMember, MakePoll, Member, postgres_only
from tests.helpers import until, vote, votes_url
from webapp import metrics, votes
from webapp.tables import AuthToken, User

pytestmark = postgres_only


@contextlib.asynccontextmanager
async def poll_locked(poll_id: int) -> AsyncIterator[asyncpg.Connection]:
    """The poll's row locked, as another process's vote would hold it, until the block ends;
    the connection holding the lock (its changes commit as the block ends)."""
    holder = await asyncpg.connect(DB_URL)
    try:
        async with holder.transaction():
            await holder.execute("SELECT id FROM poll WHERE id = $1 FOR UPDATE", poll_id)
            yield holder
    finally:
        await holder.close()


def taken(poll_id: int) -> bool:
    """Whether a batch of the poll's votes is running, with nothing waiting for the next."""
    return votes._batches.running(poll_id) and votes._batches.waiting(poll_id) == 0


def batches() -> tuple[float, float]:
    """(batches written, votes in them) so far, from the metric."""
    count = metrics.REGISTRY.get_sample_value("livepolls_vote_batch_size_count") or 0.0
    total = metrics.REGISTRY.get_sample_value("livepolls_vote_batch_size_sum") or 0.0
    return count, total


async def totals(client: Client, poll_id: int) -> dict[str, Any]:
    return dict(await (await client.get(f"/api/v1/polls/{poll_id}/results")).get_json())


async def rows(poll_id: int) -> list[int]:
    """Votes per option counted from the vote rows, in option order."""
    conn = await asyncpg.connect(DB_URL)
    try:
        found = await conn.fetch(
            "SELECT o.id, count(v.id) AS n FROM poll_option o LEFT JOIN vote v"
            ' ON v."option" = o.id WHERE o.poll = $1 GROUP BY o.id, o."position"'
            ' ORDER BY o."position"',
            poll_id,
        )
    finally:
        await conn.close()
    return [row["n"] for row in found]


async def test_votes_waiting_for_a_poll_go_in_one_batch_each_with_its_own_answer(
    client: Client, make_member: MakeMember, make_poll: MakePoll
) -> None:
    owner = await make_member()
    members = [await make_member() for _ in range(8)]
    poll = await make_poll(owner, ["a", "b", "c"])
    a, b, c = (option["id"] for option in poll["options"])
    other = await make_poll(owner, ["x", "y"])
    # One member already voted for a: voting a again changes nothing, and b replaces it.
    assert (await vote(client, members[0], poll["id"], a)).status_code == 201
    before = batches()
    async with poll_locked(poll["id"]):
        first = asyncio.create_task(vote(client, members[1], poll["id"], a))
        await until(lambda: taken(poll["id"]), "the first vote is taken")
        wanted = [
            (members[0], a),  # already theirs: 200
            (members[2], b),
            (members[3], other["options"][0]["id"]),  # another poll's option: 422
            (members[4], c),
            (members[4], c),  # the same request twice in one batch: 201 then 200
            (members[0], b),  # replaces their a: 201
            (members[5], b),
        ]
        rest = []
        for i, (who, option) in enumerate(wanted, 1):  # one by one: their order is known
            rest.append(asyncio.create_task(vote(client, who, poll["id"], option)))
            await until(lambda i=i: votes._batches.waiting(poll["id"]) == i, "the vote waits")
    answers = [await first, *[await task for task in rest]]

    assert [answer.status_code for answer in answers] == [201, 200, 201, 422, 201, 200, 201, 201]
    bodies = [await answer.get_json() for answer in answers]
    # Each answer shows the counts right after its own vote: the seq grows one per change.
    changed = zip(bodies, answers, strict=True)
    seqs = [body["seq"] for body, answer in changed if answer.status_code == 201]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert [o["votes"] for o in bodies[-1]["options"]] == [1, 3, 1]
    final = await totals(client, poll["id"])
    assert [o["votes"] for o in final["options"]] == [1, 3, 1] == await rows(poll["id"])
    assert final["voters"] == 5 and final["seq"] == bodies[-1]["seq"]
    count, total = batches()
    assert (count - before[0], total - before[1]) == (2, 8)  # [first], then the seven


@pytest.mark.parametrize("keyed", [False, True], ids=["unkeyed", "keyed"])
async def test_a_write_the_database_refuses_undoes_the_batch_and_each_vote_goes_alone(
    client: Client, make_member: MakeMember, make_poll: MakePoll, keyed: bool
) -> None:
    """With an Idempotency-Key too: the key's outcome is stored after the vote's rows, so
    the vote's own refusal (the person is gone) is what its sender is told."""
    owner = await make_member()
    members = [await make_member() for _ in range(4)]
    poll = await make_poll(owner)
    option = poll["options"][0]["id"]
    gone = members[2]
    # Known to this process's token cache, so its request reaches the batch...
    assert (await client.get("/api/v1/users/me", headers=gone.auth)).status_code == 200

    async def send(who: Member) -> Response:
        if not keyed:
            return await vote(client, who, poll["id"], option)
        headers = {**who.auth, "Idempotency-Key": f"key-{who.id}"}
        body = {"option_id": option}
        return await client.post(votes_url(poll["id"]), json=body, headers=headers)

    async with poll_locked(poll["id"]):
        first = asyncio.create_task(send(members[0]))
        await until(lambda: taken(poll["id"]), "the first vote is taken")
        rest = [asyncio.create_task(send(who)) for who in members[1:]]
        await until(lambda: votes._batches.waiting(poll["id"]) == 3, "all waiting")
        # ...though the user is gone by the time its vote is written: its insert fails.
        await AuthToken.delete().where(AuthToken.user == gone.id)
        await User.delete().where(User.id == gone.id)
    answers = [await first, *[await task for task in rest]]

    assert [answer.status_code for answer in answers] == [201, 201, 401, 201]
    final = await totals(client, poll["id"])
    assert final["total_votes"] == 3 == sum(await rows(poll["id"])) and final["voters"] == 3


async def test_a_poll_closed_while_its_votes_wait_refuses_the_whole_batch(
    client: Client, make_member: MakeMember, make_poll: MakePoll
) -> None:
    """Closed under the lock the waiting batch then takes: every vote of it is a 409, a new
    vote, a change, a repeat and another poll's option alike, and nothing is written."""
    owner = await make_member()
    members = [await make_member() for _ in range(4)]
    poll = await make_poll(owner, ["a", "b"])
    a, b = (option["id"] for option in poll["options"])
    other = await make_poll(owner, ["x", "y"])
    assert (await vote(client, members[0], poll["id"], a)).status_code == 201
    before = await totals(client, poll["id"])
    async with poll_locked(poll["id"]) as holder:
        first = asyncio.create_task(vote(client, members[1], poll["id"], a))
        await until(lambda: taken(poll["id"]), "the first vote is taken")
        wanted = [
            (members[0], b),  # a change
            (members[0], a),  # already theirs
            (members[2], b),  # a new voter
            (members[2], b),  # the same again
            (members[3], other["options"][0]["id"]),  # another poll's option
        ]
        rest = []
        for i, (who, option) in enumerate(wanted, 1):
            rest.append(asyncio.create_task(vote(client, who, poll["id"], option)))
            await until(lambda i=i: votes._batches.waiting(poll["id"]) == i, "the vote waits")
        await holder.execute("UPDATE poll SET closed_at = now() WHERE id = $1", poll["id"])
    answers = [await first, *[await task for task in rest]]

    assert [answer.status_code for answer in answers] == [409] * 6
    details = [(await answer.get_json())["detail"] for answer in answers]
    assert all("closed" in detail for detail in details), details
    final = await totals(client, poll["id"])
    assert [o["votes"] for o in final["options"]] == [1, 0] == await rows(poll["id"])
    assert (final["voters"], final["seq"]) == (before["voters"], before["seq"])
