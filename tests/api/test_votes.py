"""Votes: POST/DELETE /api/v1/polls/{id}/votes, GET .../votes/me, GET .../results.

Also the Vote table itself: a real M2M joining table whose unique indexes enforce the
invariants at the database level, independently of the app code.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import asyncpg
import pytest

from tests.api.problems import assert_problem, assert_validation_problem
from tests.conftest import MakeMember, MakePoll, Member
from tests.helpers import (
    get_results,
    option_ids,
    results_url,
    vote,
    vote_rows,
    votes_url,
    withdraw,
)
from webapp.tables import PollOption, User, Vote

if TYPE_CHECKING:
    from quart.typing import TestClientProtocol

INTEGRITY_ERRORS = (asyncpg.IntegrityConstraintViolationError, sqlite3.IntegrityError)


# --- helpers ------------------------------------------------------------------------------------


async def my_votes(client: TestClientProtocol, member: Member, poll_id: int) -> list[int]:
    response = await client.get(f"{votes_url(poll_id)}/me", headers=member.auth)
    assert response.status_code == 200, await response.get_data(as_text=True)
    body = await response.get_json()
    assert body["poll_id"] == poll_id
    return list(body["option_ids"])


def counts(results: dict[str, Any]) -> dict[int, int]:
    return {option["id"]: option["votes"] for option in results["options"]}


# --- POST /polls/{id}/votes ---------------------------------------------------------------------


async def test_first_vote_is_201_with_the_results(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann, ["vim", "emacs", "nano"])
    vim, emacs, nano = option_ids(poll)

    response = await vote(client, ann, poll["id"], emacs)

    assert response.status_code == 201
    body = await response.get_json()
    assert {"poll_id", "options", "total_votes", "voters"} <= set(body)
    assert body["poll_id"] == poll["id"]
    assert body["options"] == [
        {"id": vim, "text": "vim", "votes": 0, "percent": 0},
        {"id": emacs, "text": "emacs", "votes": 1, "percent": 100},
        {"id": nano, "text": "nano", "votes": 0, "percent": 0},
    ]
    assert body["total_votes"] == 1
    assert body["voters"] == 1
    assert await my_votes(client, ann, poll["id"]) == [emacs]


async def test_voting_for_the_same_option_again_is_200_and_changes_nothing(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)
    vim = option_ids(poll)[0]
    first = await vote(client, ann, poll["id"], vim)
    assert first.status_code == 201
    before = await get_results(client, poll["id"])

    again = await vote(client, ann, poll["id"], vim)

    assert again.status_code == 200
    body = await again.get_json()
    assert counts(body) == counts(before)
    assert body["total_votes"] == 1
    assert body["voters"] == 1
    assert await get_results(client, poll["id"]) == before
    assert len(await vote_rows(poll["id"])) == 1


async def test_single_choice_vote_for_another_option_replaces_the_earlier_one(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann, allows_multiple=False)
    vim, emacs, nano = option_ids(poll)
    assert (await vote(client, ann, poll["id"], vim)).status_code == 201

    response = await vote(client, ann, poll["id"], emacs)

    assert response.status_code == 201
    body = await response.get_json()
    assert counts(body) == {vim: 0, emacs: 1, nano: 0}
    assert body["total_votes"] == 1
    assert body["voters"] == 1
    assert await my_votes(client, ann, poll["id"]) == [emacs]
    assert await vote_rows(poll["id"]) == [{"user": ann.id, "option": emacs, "single_choice": True}]


async def test_single_choice_replacement_keeps_other_voters_counts(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_poll(ann)
    vim, emacs, nano = option_ids(poll)
    await vote(client, ann, poll["id"], vim)
    await vote(client, bob, poll["id"], vim)

    body = await (await vote(client, ann, poll["id"], nano)).get_json()

    assert counts(body) == {vim: 1, emacs: 0, nano: 1}
    assert body["total_votes"] == 2
    assert body["voters"] == 2


async def test_multiple_choice_vote_for_another_option_adds_to_the_first(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann, allows_multiple=True)
    vim, emacs, nano = option_ids(poll)
    assert (await vote(client, ann, poll["id"], vim)).status_code == 201

    response = await vote(client, ann, poll["id"], nano)

    assert response.status_code == 201
    body = await response.get_json()
    assert counts(body) == {vim: 1, emacs: 0, nano: 1}
    assert body["total_votes"] == 2
    assert body["voters"] == 1
    assert await my_votes(client, ann, poll["id"]) == sorted([vim, nano])


async def test_multiple_choice_percentages_are_shares_of_the_voters(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    """One voter choosing two options counts fully for each (not 50 % each); the shares may
    then add up to more than 100."""
    ann, bob = await make_member(), await make_member()
    poll = await make_poll(ann, allows_multiple=True)
    vim, emacs, nano = option_ids(poll)
    await vote(client, ann, poll["id"], vim)
    response = await vote(client, ann, poll["id"], nano)
    shares = {o["id"]: o["percent"] for o in (await response.get_json())["options"]}
    assert shares == {vim: 100, emacs: 0, nano: 100}

    response = await vote(client, bob, poll["id"], vim)
    shares = {o["id"]: o["percent"] for o in (await response.get_json())["options"]}
    assert shares == {vim: 100, emacs: 0, nano: 50}
    page = await client.get(f"/polls/{poll['id']}")
    assert "1 vote · 50%" in (await page.get_data(as_text=True))


async def test_multiple_choice_repeated_vote_is_200_and_changes_nothing(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann, allows_multiple=True)
    vim, emacs, _ = option_ids(poll)
    await vote(client, ann, poll["id"], vim)
    await vote(client, ann, poll["id"], emacs)
    before = await get_results(client, poll["id"])

    again = await vote(client, ann, poll["id"], emacs)

    assert again.status_code == 200
    body = await again.get_json()
    assert body["total_votes"] == 2
    assert body["voters"] == 1
    assert await get_results(client, poll["id"]) == before
    assert len(await vote_rows(poll["id"])) == 2


async def test_anonymous_vote_is_401_and_changes_nothing(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)
    before = await get_results(client, poll["id"])

    response = await vote(client, None, poll["id"], option_ids(poll)[0])

    await assert_problem(response, 401)
    assert response.headers.get("WWW-Authenticate", "").startswith("Bearer")
    assert await get_results(client, poll["id"]) == before


async def test_vote_with_an_invalid_token_is_401(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)

    response = await client.post(
        votes_url(poll["id"]),
        json={"option_id": option_ids(poll)[0]},
        headers={"Authorization": "Bearer not-a-real-token"},
    )

    await assert_problem(response, 401)
    assert await vote_rows(poll["id"]) == []


async def test_creator_voting_on_own_draft_is_409(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    draft = await make_poll(ann, is_published=False)

    response = await vote(client, ann, draft["id"], option_ids(draft)[0])

    await assert_problem(response, 409)
    results = await get_results(client, draft["id"], ann)
    assert results["total_votes"] == 0
    assert results["voters"] == 0
    assert await vote_rows(draft["id"]) == []


async def test_voting_on_someone_elses_draft_is_404(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann, bob = await make_member(), await make_member()
    draft = await make_poll(ann, is_published=False)

    response = await vote(client, bob, draft["id"], option_ids(draft)[0])

    await assert_problem(response, 404)
    assert (await get_results(client, draft["id"], ann))["total_votes"] == 0
    assert await vote_rows(draft["id"]) == []


async def test_voting_on_a_missing_poll_is_404(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member()

    response = await vote(client, ann, 999_999, 1)

    await assert_problem(response, 404)


async def test_voting_on_a_closed_poll_is_409_and_changes_nothing(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_poll(ann)
    vim, emacs, _ = option_ids(poll)
    await vote(client, bob, poll["id"], vim)
    closed = await client.patch(
        f"/api/v1/polls/{poll['id']}", json={"closed": True}, headers=ann.auth
    )
    assert closed.status_code == 200, await closed.get_data(as_text=True)
    before = await get_results(client, poll["id"])
    assert before["closed"] is True

    for member, option in [(bob, emacs), (ann, vim), (bob, vim)]:
        response = await vote(client, member, poll["id"], option)
        await assert_problem(response, 409)

    assert await get_results(client, poll["id"]) == before
    assert await my_votes(client, bob, poll["id"]) == [vim]


async def test_voting_after_reopening_a_closed_poll_works_again(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)
    url = f"/api/v1/polls/{poll['id']}"
    await client.patch(url, json={"closed": True}, headers=ann.auth)
    await client.patch(url, json={"closed": False}, headers=ann.auth)

    response = await vote(client, ann, poll["id"], option_ids(poll)[0])

    assert response.status_code == 201
    assert (await response.get_json())["total_votes"] == 1


async def test_voting_for_an_option_of_another_poll_is_422_naming_option_id(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann, ["red", "green"])
    other = await make_poll(ann, ["cats", "dogs"], question="Cats or dogs?")
    await vote(client, ann, poll["id"], option_ids(poll)[0])
    before = await get_results(client, poll["id"])
    other_before = await get_results(client, other["id"])

    response = await vote(client, ann, poll["id"], option_ids(other)[0])

    await assert_validation_problem(response, "option_id")
    assert await get_results(client, poll["id"]) == before
    assert await get_results(client, other["id"]) == other_before
    assert await my_votes(client, ann, other["id"]) == []


async def test_voting_for_an_unknown_option_is_422_naming_option_id(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)
    before = await get_results(client, poll["id"])

    response = await vote(client, ann, poll["id"], 999_999)

    await assert_validation_problem(response, "option_id")
    assert await get_results(client, poll["id"]) == before


BadBody = Callable[[int], dict[str, Any]]


@pytest.mark.parametrize(
    ("make_body", "field"),
    [
        pytest.param(lambda option: {"option_id": str(option)}, "option_id", id="string-id"),
        pytest.param(lambda option: {"option_id": 0}, "option_id", id="zero"),
        pytest.param(lambda option: {"option_id": -option}, "option_id", id="negative"),
        pytest.param(lambda option: {"option_id": 2**40}, "option_id", id="too-big"),
        pytest.param(lambda option: {"option_id": 2**31}, "option_id", id="just-past-int32"),
        pytest.param(lambda option: {"option_id": option + 0.5}, "option_id", id="fraction"),
        pytest.param(lambda option: {"option_id": float("1e300")}, "option_id", id="huge-float"),
        pytest.param(lambda option: {"option_id": True}, "option_id", id="boolean"),
        pytest.param(lambda option: {"option_id": None}, "option_id", id="null"),
        pytest.param(lambda option: {"option_id": [option]}, "option_id", id="list"),
        pytest.param(lambda option: {}, "option_id", id="missing"),
        pytest.param(lambda option: {"option_id": option, "weight": 2}, "weight", id="extra"),
    ],
)
async def test_invalid_vote_body_is_422_and_changes_nothing(
    client: TestClientProtocol,
    make_member: MakeMember,
    make_poll: MakePoll,
    make_body: BadBody,
    field: str,
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)
    vim, emacs, _ = option_ids(poll)
    await vote(client, ann, poll["id"], vim)
    before = await get_results(client, poll["id"])

    response = await client.post(votes_url(poll["id"]), json=make_body(emacs), headers=ann.auth)

    await assert_validation_problem(response, field)
    assert await get_results(client, poll["id"]) == before
    assert await my_votes(client, ann, poll["id"]) == [vim]


async def test_an_integral_float_is_the_integer_as_json_schema_reads_it(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    """JSON Schema counts 3.0 as the integer 3 (the spec says integer), so the vote counts."""
    ann = await make_member()
    poll = await make_poll(ann)
    _, emacs, _ = option_ids(poll)

    response = await client.post(
        votes_url(poll["id"]), json={"option_id": float(emacs)}, headers=ann.auth
    )

    assert response.status_code == 201, await response.get_data(as_text=True)
    assert await my_votes(client, ann, poll["id"]) == [emacs]


async def test_vote_body_that_is_not_an_object_is_422(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)
    before = await get_results(client, poll["id"])

    response = await client.post(votes_url(poll["id"]), json=[1], headers=ann.auth)

    await assert_problem(response, 422)
    assert await get_results(client, poll["id"]) == before


# --- DELETE /polls/{id}/votes/{option_id} -------------------------------------------------------


async def test_withdrawing_a_vote_is_204_and_the_count_drops(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_poll(ann)
    vim, emacs, nano = option_ids(poll)
    await vote(client, ann, poll["id"], vim)
    await vote(client, bob, poll["id"], vim)

    response = await withdraw(client, ann, poll["id"], vim)

    assert response.status_code == 204
    assert await response.get_data(as_text=True) == ""
    results = await get_results(client, poll["id"])
    assert counts(results) == {vim: 1, emacs: 0, nano: 0}
    assert results["total_votes"] == 1
    assert results["voters"] == 1
    assert await my_votes(client, ann, poll["id"]) == []
    assert await my_votes(client, bob, poll["id"]) == [vim]


async def test_withdrawing_one_of_several_choices_keeps_the_voter_counted(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann, allows_multiple=True)
    vim, emacs, nano = option_ids(poll)
    await vote(client, ann, poll["id"], vim)
    await vote(client, ann, poll["id"], emacs)

    first = await withdraw(client, ann, poll["id"], vim)

    assert first.status_code == 204
    results = await get_results(client, poll["id"])
    assert counts(results) == {vim: 0, emacs: 1, nano: 0}
    assert results["voters"] == 1

    last = await withdraw(client, ann, poll["id"], emacs)

    assert last.status_code == 204
    results = await get_results(client, poll["id"])
    assert counts(results) == {vim: 0, emacs: 0, nano: 0}
    assert results["total_votes"] == 0
    assert results["voters"] == 0


async def test_withdrawing_an_option_not_voted_for_is_204_and_changes_nothing(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann, allows_multiple=True)
    vim, emacs, _ = option_ids(poll)
    await vote(client, ann, poll["id"], vim)
    before = await get_results(client, poll["id"])

    response = await withdraw(client, ann, poll["id"], emacs)

    assert response.status_code == 204
    assert await get_results(client, poll["id"]) == before
    assert await my_votes(client, ann, poll["id"]) == [vim]


async def test_withdrawing_without_any_vote_is_204_and_changes_nothing(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)
    before = await get_results(client, poll["id"])

    response = await withdraw(client, ann, poll["id"], option_ids(poll)[0])

    assert response.status_code == 204
    assert await get_results(client, poll["id"]) == before


async def test_anonymous_withdraw_is_401_and_changes_nothing(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)
    vim = option_ids(poll)[0]
    await vote(client, ann, poll["id"], vim)
    before = await get_results(client, poll["id"])

    one = await withdraw(client, None, poll["id"], vim)
    every = await withdraw(client, None, poll["id"])

    await assert_problem(one, 401)
    await assert_problem(every, 401)
    assert await get_results(client, poll["id"]) == before


async def test_withdrawing_on_a_closed_poll_is_409_and_changes_nothing(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)
    vim = option_ids(poll)[0]
    await vote(client, ann, poll["id"], vim)
    await client.patch(f"/api/v1/polls/{poll['id']}", json={"closed": True}, headers=ann.auth)
    before = await get_results(client, poll["id"])

    one = await withdraw(client, ann, poll["id"], vim)
    every = await withdraw(client, ann, poll["id"])

    await assert_problem(one, 409)
    await assert_problem(every, 409)
    assert await get_results(client, poll["id"]) == before
    assert await my_votes(client, ann, poll["id"]) == [vim]


async def test_withdrawing_on_someone_elses_draft_is_404(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann, bob = await make_member(), await make_member()
    draft = await make_poll(ann, is_published=False)

    response = await withdraw(client, bob, draft["id"], option_ids(draft)[0])

    await assert_problem(response, 404)


# --- DELETE /polls/{id}/votes -------------------------------------------------------------------


async def test_withdrawing_all_votes_is_204_and_counts_go_back_to_zero(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann, allows_multiple=True)
    vim, emacs, nano = option_ids(poll)
    for option in (vim, emacs, nano):
        await vote(client, ann, poll["id"], option)

    response = await withdraw(client, ann, poll["id"])

    assert response.status_code == 204
    results = await get_results(client, poll["id"])
    assert counts(results) == {vim: 0, emacs: 0, nano: 0}
    assert results["total_votes"] == 0
    assert results["voters"] == 0
    assert await my_votes(client, ann, poll["id"]) == []
    assert await vote_rows(poll["id"]) == []


async def test_withdrawing_all_votes_leaves_other_voters_alone(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_poll(ann, allows_multiple=True)
    vim, emacs, nano = option_ids(poll)
    await vote(client, ann, poll["id"], vim)
    await vote(client, ann, poll["id"], emacs)
    await vote(client, bob, poll["id"], emacs)

    response = await withdraw(client, ann, poll["id"])

    assert response.status_code == 204
    results = await get_results(client, poll["id"])
    assert counts(results) == {vim: 0, emacs: 1, nano: 0}
    assert results["voters"] == 1
    assert await my_votes(client, bob, poll["id"]) == [emacs]


async def test_withdrawing_all_without_votes_is_204(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)
    before = await get_results(client, poll["id"])

    response = await withdraw(client, ann, poll["id"])

    assert response.status_code == 204
    assert await get_results(client, poll["id"]) == before


# --- GET /polls/{id}/votes/me -------------------------------------------------------------------


async def test_my_votes_lists_the_callers_choices_only(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_poll(ann, allows_multiple=True)
    vim, emacs, nano = option_ids(poll)
    await vote(client, ann, poll["id"], nano)
    await vote(client, ann, poll["id"], vim)
    await vote(client, bob, poll["id"], emacs)

    response = await client.get(f"{votes_url(poll['id'])}/me", headers=ann.auth)

    assert response.status_code == 200
    assert await response.get_json() == {"poll_id": poll["id"], "option_ids": sorted([vim, nano])}
    assert await my_votes(client, bob, poll["id"]) == [emacs]


async def test_my_votes_is_empty_before_voting(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)

    assert await my_votes(client, ann, poll["id"]) == []


async def test_my_votes_anonymous_is_401(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)

    response = await client.get(f"{votes_url(poll['id'])}/me")

    await assert_problem(response, 401)


async def test_my_votes_on_someone_elses_draft_is_404(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann, bob = await make_member(), await make_member()
    draft = await make_poll(ann, is_published=False)

    response = await client.get(f"{votes_url(draft['id'])}/me", headers=bob.auth)

    await assert_problem(response, 404)


async def test_my_votes_on_own_draft_is_empty(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    draft = await make_poll(ann, is_published=False)

    assert await my_votes(client, ann, draft["id"]) == []


# --- GET /polls/{id}/results --------------------------------------------------------------------


async def test_results_are_public_for_a_published_poll(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_poll(ann, allows_multiple=True)
    vim, emacs, nano = option_ids(poll)
    await vote(client, ann, poll["id"], vim)
    await vote(client, ann, poll["id"], emacs)
    await vote(client, bob, poll["id"], vim)

    response = await client.get(results_url(poll["id"]))

    assert response.status_code == 200
    body = await response.get_json()
    assert body["poll_id"] == poll["id"]
    assert [(o["id"], o["text"], o["votes"]) for o in body["options"]] == [
        (vim, "vim", 2),
        (emacs, "emacs", 1),
        (nano, "nano", 0),
    ]
    assert body["total_votes"] == 3
    assert body["voters"] == 2
    assert body["closed"] is False


async def test_results_of_someone_elses_draft_are_404(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann, bob = await make_member(), await make_member()
    draft = await make_poll(ann, is_published=False)

    anonymous = await client.get(results_url(draft["id"]))
    other = await client.get(results_url(draft["id"]), headers=bob.auth)
    creator = await client.get(results_url(draft["id"]), headers=ann.auth)

    await assert_problem(anonymous, 404)
    await assert_problem(other, 404)
    assert creator.status_code == 200


async def test_results_of_a_missing_poll_are_404(client: TestClientProtocol) -> None:
    await assert_problem(await client.get(results_url(999_999)), 404)


async def test_results_match_the_per_option_votes_of_the_poll(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    members = [await make_member() for _ in range(4)]
    poll = await make_poll(members[0], ["a", "b", "c", "d"], allows_multiple=True)
    ids = option_ids(poll)
    for i, member in enumerate(members):
        for option in ids[: i + 1]:
            await vote(client, member, poll["id"], option)
    await withdraw(client, members[3], poll["id"], ids[0])

    results = await get_results(client, poll["id"])
    response = await client.get(f"/api/v1/polls/{poll['id']}")

    assert response.status_code == 200
    view = await response.get_json()
    assert counts(results) == {option["id"]: option["votes"] for option in view["options"]}
    assert counts(results) == {ids[0]: 3, ids[1]: 3, ids[2]: 2, ids[3]: 1}
    assert results["total_votes"] == view["total_votes"] == 9
    assert results["voters"] == view["voters"] == 4


# --- the M2M and the database's own invariants -------------------------------------------------


async def test_a_vote_is_a_row_of_the_user_option_m2m(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann, allows_multiple=True)
    vim, _, nano = option_ids(poll)
    await vote(client, ann, poll["id"], vim)
    await vote(client, ann, poll["id"], nano)

    rows = await User.select(User.options(PollOption.id, as_list=True)).where(User.id == ann.id)

    assert len(rows) == 1
    assert sorted(rows[0]["options"]) == sorted([vim, nano])
    voters = await PollOption.select(PollOption.voters(User.id, as_list=True)).where(
        PollOption.id == vim
    )
    assert voters[0]["voters"] == [ann.id]


async def test_withdrawn_vote_leaves_the_m2m(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)
    vim = option_ids(poll)[0]
    await vote(client, ann, poll["id"], vim)
    await withdraw(client, ann, poll["id"], vim)

    rows = await User.select(User.options(PollOption.id, as_list=True)).where(User.id == ann.id)

    assert rows[0]["options"] == []


def vote_row(user: int, option: int, poll: int, *, single_choice: bool) -> Vote:
    return Vote(user=user, option=option, poll=poll, single_choice=single_choice)


async def test_database_rejects_a_duplicate_vote_for_the_same_option(
    make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann, allows_multiple=True)
    vim = option_ids(poll)[0]
    await Vote.insert(vote_row(ann.id, vim, poll["id"], single_choice=False))

    with pytest.raises(INTEGRITY_ERRORS):
        await Vote.insert(vote_row(ann.id, vim, poll["id"], single_choice=False))

    assert len(await vote_rows(poll["id"])) == 1


async def test_database_rejects_a_duplicate_vote_even_across_choice_modes(
    make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)
    vim = option_ids(poll)[0]
    await Vote.insert(vote_row(ann.id, vim, poll["id"], single_choice=True))

    with pytest.raises(INTEGRITY_ERRORS):
        await Vote.insert(vote_row(ann.id, vim, poll["id"], single_choice=False))


async def test_database_rejects_a_second_option_in_a_single_choice_poll(
    make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann, allows_multiple=False)
    vim, emacs, _ = option_ids(poll)
    await Vote.insert(vote_row(ann.id, vim, poll["id"], single_choice=True))

    with pytest.raises(INTEGRITY_ERRORS):
        await Vote.insert(vote_row(ann.id, emacs, poll["id"], single_choice=True))

    assert await vote_rows(poll["id"]) == [{"user": ann.id, "option": vim, "single_choice": True}]


async def test_database_accepts_several_options_in_a_multiple_choice_poll(
    make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann, allows_multiple=True)
    vim, emacs, _ = option_ids(poll)
    await Vote.insert(vote_row(ann.id, vim, poll["id"], single_choice=False))

    await Vote.insert(vote_row(ann.id, emacs, poll["id"], single_choice=False))

    assert sorted(row["option"] for row in await vote_rows(poll["id"])) == sorted([vim, emacs])


async def test_database_single_choice_index_is_per_user(
    make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_poll(ann)
    vim, emacs, _ = option_ids(poll)
    await Vote.insert(vote_row(ann.id, vim, poll["id"], single_choice=True))

    await Vote.insert(vote_row(bob.id, emacs, poll["id"], single_choice=True))

    assert len(await vote_rows(poll["id"])) == 2
