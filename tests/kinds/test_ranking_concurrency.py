"""Rankings sent at once through the app against the real database (PostgreSQL's row locks
or SQLite's write lock): one row per person whatever they send together, and counts per
(option, position) that are exactly what the stored rankings say."""

from __future__ import annotations

import asyncio
import itertools
import random
from typing import TYPE_CHECKING

from tests.conftest import MakeMember
from tests.kinds.helpers import make_kind_poll, put_response, results
from tests.kinds.test_ranking import counted, counts, ids, stored

if TYPE_CHECKING:
    from quart.typing import TestClientProtocol

FOUR = {"options": ["North", "East", "South", "West"]}


async def test_one_persons_rankings_sent_at_once_leave_one_row_and_consistent_counts(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "ranking", **FOUR)
    orders = [list(order) for order in itertools.permutations(ids(poll))][:12]
    sent = await asyncio.gather(*(put_response(client, bob, poll["id"], order=o) for o in orders))
    codes = [response.status_code for response in sent]
    assert sorted(codes) == [200] * 11 + [201], codes  # the first to land opened the ballot
    rows = await stored(poll["id"])
    assert list(rows) == [bob.id]
    assert await counts(poll["id"]) == counted(list(rows.values()))
    body = await results(client, poll["id"])
    assert body["detail"]["rankings"] == 1 == body["voters"]
    assert sum(o["points"] for o in body["detail"]["options"]) == 6  # 3 + 2 + 1 + 0


async def test_many_people_ranking_at_once_are_counted_exactly(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member()
    poll = await make_kind_poll(client, ann, "ranking", **FOUR)
    people = list(await asyncio.gather(*(make_member() for _ in range(16))))
    chooser = random.Random(15)
    orders = [chooser.sample(ids(poll), 4) for _ in people]
    sent = await asyncio.gather(
        *(
            put_response(client, p, poll["id"], order=o)
            for p, o in zip(people, orders, strict=True)
        ),
        # and some of them change their minds while the others are still arriving
        *(put_response(client, p, poll["id"], order=ids(poll)) for p in people[:4]),
    )
    for response in sent:
        assert response.status_code in {200, 201}, await response.get_data(as_text=True)
    rows = await stored(poll["id"])
    assert len(rows) == 16
    assert await counts(poll["id"]) == counted(list(rows.values()))
    body = await results(client, poll["id"])
    assert body["detail"]["rankings"] == 16 == body["voters"]
    for option in body["detail"]["options"]:
        assert sum(option["positions"]) == 16
    assert sum(o["points"] for o in body["detail"]["options"]) == 16 * 6
