"""Real concurrency through the app: requests gathered at once against the real database.

The test client runs each request as its own task on the event loop, so gathered requests
interleave at every await and compete for the database (PostgreSQL's pool and row locks, or
SQLite's single write lock). Counts must stay exact and nothing may fail with a 500.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from piccolo.query.functions.string import Lower
from quart.wrappers import Response

from tests.conftest import MakeMember, MakePoll, Member
from tests.helpers import get_results, option_ids, stored_voters, vote, vote_rows, withdraw
from webapp.tables import PollOption, User, Vote

if TYPE_CHECKING:
    from quart.typing import TestClientProtocol


async def make_members(make_member: MakeMember, count: int) -> list[Member]:
    """Sign up and sign in `count` users at once (itself a concurrency exercise)."""
    return list(await asyncio.gather(*(make_member() for _ in range(count))))


async def statuses(responses: list[Response]) -> Counter[int]:
    return Counter(response.status_code for response in responses)


async def assert_all_ok(responses: list[Response], allowed: set[int]) -> None:
    for response in responses:
        assert response.status_code in allowed, await response.get_data(as_text=True)


async def stored_counts(poll_id: int) -> dict[int, int]:
    """The running counts kept in poll_option.votes."""
    rows = await PollOption.select(PollOption.id, PollOption.votes).where(
        PollOption.poll == poll_id
    )
    return {row["id"]: row["votes"] for row in rows}


async def actual_counts(poll_id: int) -> dict[int, int]:
    """COUNT(*) over the vote table per option (0 for options without votes)."""
    options = await PollOption.select(PollOption.id).where(PollOption.poll == poll_id)
    found: dict[int, int] = {row["id"]: 0 for row in options}
    for row in await Vote.select(Vote.option).where(Vote.poll == poll_id):
        found[row["option"]] += 1
    by_count = {
        option: await Vote.count().where(Vote.option == option) for option in found
    }  # the same thing again, as a COUNT in the database
    assert by_count == found
    return found


async def test_fifty_users_voting_at_once_are_all_counted(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    members = await make_members(make_member, 50)
    poll = await make_poll(members[0], ["a", "b", "c", "d", "e"])
    ids = option_ids(poll)
    choices = {member.id: ids[i % len(ids)] for i, member in enumerate(members)}

    responses = await asyncio.gather(
        *(vote(client, member, poll["id"], choices[member.id]) for member in members)
    )

    assert await statuses(responses) == Counter({201: 50})
    results = await get_results(client, poll["id"])
    expected = Counter(choices.values())
    assert {o["id"]: o["votes"] for o in results["options"]} == {i: expected[i] for i in ids}
    assert sum(o["votes"] for o in results["options"]) == 50
    assert results["total_votes"] == 50
    assert results["voters"] == 50
    rows = await vote_rows(poll["id"])
    assert len(rows) == 50
    assert {row["user"]: row["option"] for row in rows} == choices
    assert await stored_counts(poll["id"]) == await actual_counts(poll["id"])


async def test_one_user_racing_votes_in_a_single_choice_poll_keeps_one_vote(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann, [f"option {i}" for i in range(20)], allows_multiple=False)
    ids = option_ids(poll)

    responses = await asyncio.gather(*(vote(client, ann, poll["id"], option) for option in ids))

    await assert_all_ok(responses, {200, 201})
    rows = await vote_rows(poll["id"])
    assert len(rows) == 1
    results = await get_results(client, poll["id"])
    assert results["total_votes"] == 1
    assert results["voters"] == 1
    winner = rows[0]["option"]
    assert {o["id"]: o["votes"] for o in results["options"]} == {
        option: int(option == winner) for option in ids
    }
    assert await stored_counts(poll["id"]) == await actual_counts(poll["id"])


async def test_one_user_racing_votes_in_a_multiple_choice_poll_keeps_them_all(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann, [f"option {i}" for i in range(20)], allows_multiple=True)
    ids = option_ids(poll)

    responses = await asyncio.gather(*(vote(client, ann, poll["id"], option) for option in ids))

    assert await statuses(responses) == Counter({201: 20})
    rows = await vote_rows(poll["id"])
    assert sorted(row["option"] for row in rows) == sorted(ids)
    results = await get_results(client, poll["id"])
    assert results["total_votes"] == 20
    assert results["voters"] == 1
    assert all(option["votes"] == 1 for option in results["options"])


async def test_one_user_racing_the_same_vote_counts_it_once(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)
    first = option_ids(poll)[0]

    responses = await asyncio.gather(*(vote(client, ann, poll["id"], first) for _ in range(20)))

    assert await statuses(responses) == Counter({201: 1, 200: 19})
    results = await get_results(client, poll["id"])
    assert results["total_votes"] == 1
    assert results["voters"] == 1
    assert len(await vote_rows(poll["id"])) == 1


def email_casings(local: str, count: int) -> list[str]:
    """`count` distinct spellings of local@example.org that differ only in letter case."""
    found: list[str] = []
    for mask in range(2 ** len(local)):
        spelled = "".join(c.upper() if mask >> i & 1 else c for i, c in enumerate(local))
        found.append(f"{spelled}@example.org")
        if len(found) == count:
            return found
    raise ValueError("local part too short for that many casings")


async def test_simultaneous_signups_with_one_email_create_one_user(
    client: TestClientProtocol,
) -> None:
    emails = email_casings("racer", 20)
    assert len({email.lower() for email in emails}) == 1

    responses = await asyncio.gather(
        *(
            client.post(
                "/api/v1/users",
                json={"name": f"Racer {i}", "email": email, "password": "correct horse"},
            )
            for i, email in enumerate(emails)
        )
    )

    await assert_all_ok(responses, {201, 409})
    assert await statuses(responses) == Counter({201: 1, 409: 19})
    for response in responses:
        if response.status_code == 409:
            assert response.mimetype == "application/problem+json"
    assert await User.count() == 1
    assert await User.count().where(Lower(User.email) == "racer@example.org") == 1


async def test_burst_of_votes_and_withdrawals_keeps_counts_equal_to_vote_rows(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    members = await make_members(make_member, 15)
    multiple = await make_poll(members[0], ["a", "b", "c", "d"], allows_multiple=True)
    single = await make_poll(members[0], ["w", "x", "y", "z"], question="One only?")
    rng = random.Random(20261124)

    requests: list[Coroutine[Any, Any, Response]] = []
    for poll in (multiple, single):
        ids = option_ids(poll)
        for member in members:
            for _ in range(5):
                action = rng.choice(["vote", "vote", "withdraw", "withdraw_all"])
                if action == "vote":
                    requests.append(vote(client, member, poll["id"], rng.choice(ids)))
                elif action == "withdraw":
                    requests.append(withdraw(client, member, poll["id"], rng.choice(ids)))
                else:
                    requests.append(withdraw(client, member, poll["id"]))
    rng.shuffle(requests)

    responses = await asyncio.gather(*requests)

    await assert_all_ok(responses, {200, 201, 204})
    for poll in (multiple, single):
        rows = await vote_rows(poll["id"])
        actual = await actual_counts(poll["id"])
        assert await stored_counts(poll["id"]) == actual
        assert await stored_voters(poll["id"]) == len({row["user"] for row in rows})
        results = await get_results(client, poll["id"])
        assert {o["id"]: o["votes"] for o in results["options"]} == actual
        assert results["total_votes"] == len(rows)
        assert results["voters"] == len({row["user"] for row in rows})
    single_rows = await vote_rows(single["id"])
    assert len(single_rows) == len({row["user"] for row in single_rows})
