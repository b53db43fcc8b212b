"""A batch's new votes are written together (webapp/votes.py `_add`): one multi-row write
for the batch, on both databases; sooner only where a later vote of the batch must see them
in the database: a second vote of the same person, and a guest's checks, which count the
poll's ballots. Each vote is still answered as if it had gone alone, with the counts exact.
(The poll's writes are held meanwhile, so that the batch forms for certain.)"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from functools import partial
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.conftest import MakeMember, MakePoll
from tests.helpers import stored_voters, until, vote, vote_rows
from tests.kinds.test_word_batches import writes_held
from tests.pages.helpers import Browser, option_ids, signed_up
from tests.test_vote_batches import batches, taken, totals
from webapp import votes


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of each write of new votes, in order."""
    sizes: list[int] = []
    add_rows = votes._add_rows

    async def counted(poll_id: int, new: list[Any]) -> int:
        sizes.append(len(new))
        return await add_rows(poll_id, new)

    monkeypatch.setattr(votes, "_add_rows", counted)
    return sizes


async def in_one_batch(
    poll_id: int, sends: Sequence[Callable[[], Coroutine[Any, Any, Any]]]
) -> list[Any]:
    """The sends' answers, the first going alone while the poll's writes are held, the rest
    waiting meanwhile, in order, so that they form the next batch."""
    async with writes_held(poll_id):
        first: asyncio.Task[Any] = asyncio.create_task(sends[0]())
        await until(lambda: taken(poll_id), "the first vote is taken")
        rest: list[asyncio.Task[Any]] = []
        for i, send in enumerate(sends[1:], 1):
            rest.append(asyncio.create_task(send()))
            await until(lambda i=i: votes._batches.waiting(poll_id) == i, "the vote waits")
    return [await first, *[await task for task in rest]]


async def test_a_batch_s_new_votes_go_in_one_write(
    client: Client, make_member: MakeMember, make_poll: MakePoll, writes: list[int]
) -> None:
    owner = await make_member()
    members = [await make_member() for _ in range(6)]
    poll = await make_poll(owner, ["a", "b", "c"])
    pid = poll["id"]
    a, b, c = (option["id"] for option in poll["options"])
    chosen = [a, b, c, b, b, a]
    before = batches()
    sends = [
        partial(vote, client, who, pid, option) for who, option in zip(members, chosen, strict=True)
    ]
    answers = await in_one_batch(pid, sends)

    assert [answer.status_code for answer in answers] == [201] * 6
    assert writes == [1, 5]  # the first alone, then the batch of five in one write
    count, total = batches()
    assert (count - before[0], total - before[1]) == (2, 6)
    bodies = [await answer.get_json() for answer in answers]
    # Each answer still shows the counts right after its own vote, one seq per vote.
    assert [body["seq"] for body in bodies] == list(range(bodies[0]["seq"], bodies[0]["seq"] + 6))
    assert [[o["votes"] for o in body["options"]] for body in bodies[1:]] == [
        [1, 1, 0],
        [1, 1, 1],
        [1, 2, 1],
        [1, 3, 1],
        [2, 3, 1],
    ]
    final = await totals(client, pid)
    assert [o["votes"] for o in final["options"]] == [2, 3, 1]
    assert final["seq"] == bodies[-1]["seq"] and final["voters"] == 6
    assert len(await vote_rows(pid)) == 6 and await stored_voters(pid) == 6


async def test_a_second_vote_of_the_same_person_in_a_batch_sees_their_first(
    client: Client, make_member: MakeMember, make_poll: MakePoll, writes: list[int]
) -> None:
    """Ann votes a, then b (a change: her a is removed), Bob votes a, all in one batch: her
    first vote is written before her second is, and the batch still commits as one."""
    owner, ann, bob, cat = [await make_member() for _ in range(4)]
    poll = await make_poll(owner, ["a", "b"])
    pid = poll["id"]
    a, b = (option["id"] for option in poll["options"])
    wanted = [(cat, b), (ann, a), (bob, a), (ann, b)]
    before = batches()
    sends = [partial(vote, client, who, pid, option) for who, option in wanted]
    answers = await in_one_batch(pid, sends)

    assert [answer.status_code for answer in answers] == [201] * 4
    assert writes == [1, 2, 1]  # cat alone; ann's a and bob's a; then ann's b
    count, total = batches()
    assert (count - before[0], total - before[1]) == (2, 4)  # not undone and sent alone
    final = await totals(client, pid)
    assert [o["votes"] for o in final["options"]] == [1, 2] and final["voters"] == 3
    mine = {(row["user"], row["option"]) for row in await vote_rows(pid)}
    assert mine == {(cat.id, b), (ann.id, b), (bob.id, a)}


async def test_guests_in_one_batch_meet_the_network_cap_as_if_alone(
    app: Quart, writes: list[int]
) -> None:
    """Three new guests from one network, cap 2, behind an account's vote, in one batch: the
    third guest is refused (429), because the ballots the batch opened before it count."""
    owner = await signed_up(app, "Owner")
    pid = await owner.create_poll(guests=True, network_cap="2")
    options = await option_ids(pid)
    member = await signed_up(app, "Member")
    guests = [Browser(app, address="203.0.113.60") for _ in range(3)]
    for n, guest in enumerate(guests):
        await guest.join_as_guest(f"Guest {n}", pid)

    async def cast(browser: Browser) -> int:
        return (await browser.vote(pid, options[0])).status

    sends = [partial(cast, browser) for browser in [owner, member, *guests]]
    statuses = await in_one_batch(pid, sends)

    assert statuses == [303, 303, 303, 303, 429]
    # The owner alone; then the member's vote before the first guest's checks, and each
    # guest's before the next one's (the third is refused, so nothing is left to write).
    assert writes == [1, 1, 1, 1]
    assert len(await vote_rows(pid)) == 4 == await stored_voters(pid)
