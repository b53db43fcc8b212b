"""A client that hangs up mid-vote cancels the request; the write must still finish cleanly
(a transaction cut off at BEGIN or COMMIT would leak its pooled connection)."""

from __future__ import annotations

import asyncio
import contextlib

from piccolo.engine.postgres import PostgresEngine
from quart import Quart

from tests.conftest import MakeMember, MakePoll
from tests.helpers import until
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

    # The shielded writes finish in the background: wait for them, not for a fixed time.
    async def all_counted() -> bool:
        stored = await Vote.count().where(Vote.poll == poll["id"])
        counted = await PollOption.select(PollOption.votes).where(
            PollOption.id == poll["options"][0]["id"]
        )
        return bool(stored == len(members) and counted[0]["votes"] == len(members))

    await until(all_counted, f"all {len(members)} cancelled votes stored and counted")
    db = engine()
    if isinstance(db, PostgresEngine) and db.pool is not None:
        pool = db.pool
        await until(lambda: pool.get_idle_size() == pool.get_size(), "every connection released")
