"""A client that hangs up mid-vote cancels the request; the write must still finish cleanly
(a transaction cut off at BEGIN or COMMIT would leak its pooled connection)."""

from __future__ import annotations

import asyncio
import contextlib

from piccolo.engine.postgres import PostgresEngine
from quart import Quart

from tests.conftest import MakeMember, MakePoll
from webapp import votes
from webapp.db import engine
from webapp.tables import PollOption, Vote


async def test_votes_cancelled_at_any_point_complete_and_release_their_connections(
    app: Quart, make_member: MakeMember, make_poll: MakePoll
) -> None:
    owner = await make_member()
    poll = await make_poll(owner, ["a", "b", "c"])
    members = [await make_member() for _ in range(12)]
    for steps, member in enumerate(members, start=1):
        task = asyncio.create_task(votes.cast_vote(member.id, poll["id"], poll["options"][0]["id"]))
        for _ in range(steps):  # cancel at a different point of the write each time
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await asyncio.sleep(0.3)  # the shielded writes finish in the background

    assert await Vote.count().where(Vote.poll == poll["id"]) == len(members)
    counted = await PollOption.select(PollOption.votes).where(
        PollOption.id == poll["options"][0]["id"]
    )
    assert counted[0]["votes"] == len(members)
    db = engine()
    if isinstance(db, PostgresEngine) and db.pool is not None:
        assert db.pool.get_idle_size() == db.pool.get_size()
