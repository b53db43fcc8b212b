"""Idempotency-Key on the vote endpoints: a retry gets the first answer and counts nothing.

POST /polls/{id}/votes, DELETE /polls/{id}/votes/{option_id} and DELETE /polls/{id}/votes,
on both databases (the multi-process cases are in tests/live/test_idempotency_servers.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from quart import Quart

from tests.api.problems import assert_problem, assert_validation_problem
from tests.conftest import MakeMember, MakePoll, Member
from tests.helpers import get_results, option_ids, stored_voters, until, vote_rows, votes_url
from tests.pages.helpers import api_token, signed_up
from webapp import housekeeping, idempotency
from webapp.db import write_transaction
from webapp.tables import IdempotencyKey, Poll

if TYPE_CHECKING:
    from quart.typing import TestClientProtocol

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"


def keyed(member: Member, key: str) -> dict[str, str]:
    return {**member.auth, HEADER: key}


async def post_vote(
    client: TestClientProtocol, member: Member, poll_id: int, option_id: int, key: str
) -> Any:
    return await client.post(
        votes_url(poll_id), json={"option_id": option_id}, headers=keyed(member, key)
    )


async def my_votes(client: TestClientProtocol, member: Member, poll_id: int) -> list[int]:
    response = await client.get(f"{votes_url(poll_id)}/me", headers=member.auth)
    assert response.status_code == 200
    return list((await response.get_json())["option_ids"])


@contextlib.asynccontextmanager
async def holding(poll_id: int) -> AsyncIterator[None]:
    """Hold the poll's write transaction, as a vote in progress does, so a vote waits for it.

    In a task of its own: the test's requests must not run inside this transaction."""
    held, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with write_transaction(queue=(Poll, poll_id)):
            held.set()
            await release.wait()

    task = asyncio.create_task(hold())
    await asyncio.wait_for(held.wait(), 10)
    try:
        yield
    finally:
        release.set()
        await task


async def seq_of(poll_id: int) -> int:
    row = await Poll.select(Poll.seq).where(Poll.id == poll_id).first()
    assert row is not None
    return int(row["seq"])


# --- replays ----------------------------------------------------------------------------------


async def test_a_retry_gets_the_first_answer_again_and_counts_once(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_poll(ann)
    vim, emacs, _ = option_ids(poll)
    first = await post_vote(client, ann, poll["id"], vim, "tap-1")
    assert first.status_code == 201 and REPLAYED not in first.headers
    first_body = await first.get_json()
    # The poll moves on: a replay still answers what the first request got.
    bobs = await client.post(votes_url(poll["id"]), json={"option_id": emacs}, headers=bob.auth)
    assert bobs.status_code == 201
    seq = await seq_of(poll["id"])

    # The same key, bare or as a structured-field string, on retry after retry.
    for sent in ("tap-1", '"tap-1"', ' "tap-1" '):
        again = await post_vote(client, ann, poll["id"], vim, sent)
        assert again.status_code == 201, sent
        assert again.headers[REPLAYED] == "true"
        assert await again.get_json() == first_body

    assert await seq_of(poll["id"]) == seq, "a replay changes nothing"
    assert await stored_voters(poll["id"]) == 2
    assert len(await vote_rows(poll["id"])) == 2
    results = await get_results(client, poll["id"])
    assert [o["votes"] for o in results["options"]] == [1, 1, 0]


async def test_an_unchanged_vote_replays_its_200(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)
    vim = option_ids(poll)[0]
    assert (await post_vote(client, ann, poll["id"], vim, "a")).status_code == 201
    assert (await post_vote(client, ann, poll["id"], vim, "b")).status_code == 200
    replay = await post_vote(client, ann, poll["id"], vim, "b")
    assert replay.status_code == 200 and replay.headers[REPLAYED] == "true"


async def test_a_replayed_vote_is_not_applied_again_after_a_withdrawal(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann, allows_multiple=True)
    vim, emacs, _ = option_ids(poll)
    assert (await post_vote(client, ann, poll["id"], vim, "v1")).status_code == 201
    assert (await post_vote(client, ann, poll["id"], emacs, "v2")).status_code == 201
    withdrawn = await client.delete(f"{votes_url(poll['id'])}/{vim}", headers=keyed(ann, "w1"))
    assert withdrawn.status_code == 204

    replay = await post_vote(client, ann, poll["id"], vim, "v1")

    assert replay.status_code == 201 and replay.headers[REPLAYED] == "true"
    assert await my_votes(client, ann, poll["id"]) == [emacs], "the vote was not cast again"


async def test_replayed_withdrawals_do_not_withdraw_again(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann, allows_multiple=True)
    vim, emacs, _ = option_ids(poll)
    one, every = f"{votes_url(poll['id'])}/{vim}", votes_url(poll["id"])
    await post_vote(client, ann, poll["id"], vim, "v1")
    assert (await client.delete(one, headers=keyed(ann, "w-one"))).status_code == 204
    assert (await client.delete(every, headers=keyed(ann, "w-all"))).status_code == 204
    await post_vote(client, ann, poll["id"], vim, "v2")
    await post_vote(client, ann, poll["id"], emacs, "v3")
    seq = await seq_of(poll["id"])

    for url, key in ((one, "w-one"), (every, "w-all")):
        replay = await client.delete(url, headers=keyed(ann, key))
        assert replay.status_code == 204 and replay.headers[REPLAYED] == "true"

    assert await my_votes(client, ann, poll["id"]) == sorted([vim, emacs])
    assert await seq_of(poll["id"]) == seq


async def test_a_request_without_a_key_behaves_as_before(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann, allows_multiple=True)
    vim = option_ids(poll)[0]
    url = votes_url(poll["id"])
    first = await client.post(url, json={"option_id": vim}, headers=ann.auth)
    second = await client.post(url, json={"option_id": vim}, headers=ann.auth)
    assert (first.status_code, second.status_code) == (201, 200)
    assert REPLAYED not in second.headers
    assert await IdempotencyKey.count() == 0


# --- misuse -----------------------------------------------------------------------------------


async def test_the_same_key_for_another_request_is_a_422_naming_the_header(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll, other = await make_poll(ann), await make_poll(ann)
    vim, emacs, _ = option_ids(poll)
    assert (await post_vote(client, ann, poll["id"], vim, "k")).status_code == 201
    seq = await seq_of(poll["id"])

    refusals = [
        await post_vote(client, ann, poll["id"], emacs, "k"),  # another body
        await post_vote(client, ann, other["id"], option_ids(other)[0], "k"),  # another poll
        await client.delete(f"{votes_url(poll['id'])}/{vim}", headers=keyed(ann, "k")),
        await client.delete(votes_url(poll["id"]), headers=keyed(ann, "k")),  # another route
    ]

    for response in refusals:
        body = await assert_validation_problem(response, HEADER)
        assert body["type"].endswith("/idempotency-key-reused")
    assert await my_votes(client, ann, poll["id"]) == [vim]
    assert await my_votes(client, ann, other["id"]) == []
    assert await seq_of(poll["id"]) == seq


async def test_keys_belong_to_their_user(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_poll(ann)
    vim, emacs, _ = option_ids(poll)
    assert (await post_vote(client, ann, poll["id"], vim, "same")).status_code == 201

    bobs = await post_vote(client, bob, poll["id"], emacs, "same")  # not a 422: not ann's key

    assert bobs.status_code == 201 and REPLAYED not in bobs.headers
    assert await my_votes(client, bob, poll["id"]) == [emacs]
    assert (await post_vote(client, ann, poll["id"], vim, "same")).headers[REPLAYED] == "true"
    assert await stored_voters(poll["id"]) == 2


@pytest.mark.parametrize(
    "key",
    [
        "",
        "   ",
        "a b",
        "x" * 256,
        '"' + "x" * 256 + '"',
        '"unclosed',
        '""',
        '"a b"',
        '"bad \\escape"',
        '"\\x"',
        "tab\there",
    ],
)
async def test_a_malformed_key_is_a_400_naming_the_header_and_counts_nothing(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll, key: str
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)
    vim = option_ids(poll)[0]
    for response in (
        await post_vote(client, ann, poll["id"], vim, key),
        await client.delete(votes_url(poll["id"]), headers=keyed(ann, key)),
    ):
        body = await assert_problem(response, 400)
        assert HEADER in body["detail"] and body["errors"][0]["field"] == HEADER
    assert await my_votes(client, ann, poll["id"]) == []


@pytest.mark.parametrize(
    ("sent", "same_as"),
    [
        ("x" * 255, '"' + "x" * 255 + '"'),
        ('"a\\"b\\\\c"', 'a"b\\c'),
        ("~!#$%&'*+-.^_`|", '"~!#$%&\'*+-.^_`|"'),
    ],
)
async def test_the_longest_keys_and_escapes_are_accepted_and_equal_after_unquoting(
    client: TestClientProtocol,
    make_member: MakeMember,
    make_poll: MakePoll,
    sent: str,
    same_as: str,
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)
    vim = option_ids(poll)[0]
    assert (await post_vote(client, ann, poll["id"], vim, sent)).status_code == 201
    replay = await post_vote(client, ann, poll["id"], vim, same_as)
    assert replay.status_code == 201 and replay.headers[REPLAYED] == "true"


async def test_a_key_whose_request_is_still_in_flight_is_a_409_then_replays(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)
    vim = option_ids(poll)[0]
    async with holding(poll["id"]):
        first = asyncio.create_task(post_vote(client, ann, poll["id"], vim, "slow"))
        await until(lambda: (ann.id, "slow") in idempotency.in_flight, "the first is in flight")
        during = await post_vote(client, ann, poll["id"], vim, "slow")
        body = await assert_problem(during, 409)
        assert body["type"].endswith("/idempotency-key-in-flight")
        assert during.headers["Retry-After"] == "1"
        assert not first.done()
    assert (await first).status_code == 201

    after = await post_vote(client, ann, poll["id"], vim, "slow")

    assert after.status_code == 201 and after.headers[REPLAYED] == "true"
    assert await stored_voters(poll["id"]) == 1


# --- refusals --------------------------------------------------------------------------------


async def test_a_final_refusal_is_stored_and_replayed_even_once_the_poll_reopens(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)
    vim = option_ids(poll)[0]
    patch = f"/api/v1/polls/{poll['id']}"
    assert (await client.patch(patch, json={"closed": True}, headers=ann.auth)).status_code == 200
    refused = await post_vote(client, ann, poll["id"], vim, "late")
    first_body = await assert_problem(refused, 409)
    assert (await client.patch(patch, json={"closed": False}, headers=ann.auth)).status_code == 200

    replay = await post_vote(client, ann, poll["id"], vim, "late")

    assert await assert_problem(replay, 409) == first_body
    assert replay.headers[REPLAYED] == "true"
    assert await my_votes(client, ann, poll["id"]) == []
    assert (await post_vote(client, ann, poll["id"], vim, "fresh")).status_code == 201


@pytest.mark.limits(limit_vote_account="2/minute")
async def test_replays_spend_no_vote_quota_and_a_429_is_not_stored(limited: Quart) -> None:
    owner = await signed_up(limited, "Owner")
    poll_id = await owner.create_poll(multiple=True)
    client = limited.test_client()
    token = await api_token(limited, "owner@example.org")
    ann = Member(0, "Owner", "owner@example.org", "", token)
    vim, emacs, nano = [o["id"] for o in (await get_results(client, poll_id))["options"]]
    assert (await post_vote(client, ann, poll_id, vim, "k1")).status_code == 201
    for _ in range(3):
        assert (await post_vote(client, ann, poll_id, vim, "k1")).headers[REPLAYED] == "true"
    assert (await post_vote(client, ann, poll_id, emacs, "k2")).status_code == 201

    limited_out = await post_vote(client, ann, poll_id, nano, "k3")

    await assert_problem(limited_out, 429)
    assert await IdempotencyKey.count().where(IdempotencyKey.key == "k3") == 0
    assert (await post_vote(client, ann, poll_id, vim, "k1")).headers[REPLAYED] == "true"


# --- expiry -----------------------------------------------------------------------------------


async def expire(key: str) -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    await IdempotencyKey.update({IdempotencyKey.expires_at: past}).where(IdempotencyKey.key == key)


async def test_keys_last_a_day_then_prune_makes_them_new(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)
    vim, emacs, _ = option_ids(poll)
    await post_vote(client, ann, poll["id"], vim, "old")
    await post_vote(client, ann, poll["id"], vim, "kept")
    row = (
        await IdempotencyKey.select(IdempotencyKey.created_at, IdempotencyKey.expires_at)
        .where(IdempotencyKey.key == "old")
        .first()
    )
    assert row is not None and row["expires_at"] - row["created_at"] == timedelta(hours=24)
    await expire("old")

    pruned = await housekeeping.prune(guest_age_s=86400)

    assert pruned.keys == 1
    assert {r["key"] for r in await IdempotencyKey.select(IdempotencyKey.key)} == {"kept"}
    renewed = await post_vote(client, ann, poll["id"], emacs, "old")  # another body: no 422
    assert renewed.status_code == 201 and REPLAYED not in renewed.headers
    assert await my_votes(client, ann, poll["id"]) == [emacs]


async def test_an_expired_key_not_yet_pruned_is_new_already(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann = await make_member()
    poll = await make_poll(ann)
    vim, emacs, _ = option_ids(poll)
    await post_vote(client, ann, poll["id"], vim, "k")
    await expire("k")

    renewed = await post_vote(client, ann, poll["id"], emacs, "k")

    assert renewed.status_code == 201 and REPLAYED not in renewed.headers
    assert (await post_vote(client, ann, poll["id"], emacs, "k")).headers[REPLAYED] == "true"


# --- the contract -----------------------------------------------------------------------------

KEYED_OPERATIONS = [
    ("post", "/api/v1/polls/{poll_id}/votes", "201"),
    ("delete", "/api/v1/polls/{poll_id}/votes/{option_id}", "204"),
    ("delete", "/api/v1/polls/{poll_id}/votes", "204"),
]


async def test_the_three_vote_operations_document_the_header_and_its_problems(
    client: TestClientProtocol,
) -> None:
    spec = await (await client.get("/openapi.json")).get_json()
    for method, path, success in KEYED_OPERATIONS:
        operation = spec["paths"][path][method]
        (header,) = [p for p in operation["parameters"] if p["in"] == "header"]
        assert header["name"] == HEADER and header["required"] is False
        assert header["schema"]["pattern"] == idempotency.PATTERN
        assert {"400", "409", "422"} <= set(operation["responses"]), path
        assert "Retry-After" in operation["responses"]["409"]["headers"]
        assert REPLAYED in operation["responses"][success]["headers"]
    untouched = spec["paths"]["/api/v1/polls/{poll_id}/votes/me"]["get"]
    assert all(p["in"] != "header" for p in untouched.get("parameters", []))


@pytest.mark.parametrize(
    "value",
    ["k", "x" * 255, "x" * 256, '"k"', '""', '"a b"', '"a\\"b"', '"a\\b"', 'a"b', '"open', "a b"],
)
def test_the_documented_pattern_accepts_exactly_the_keys_the_server_takes(value: str) -> None:
    documented = re.fullmatch(idempotency.PATTERN, value) is not None
    try:
        idempotency.parse_key(value)
        taken = True
    except idempotency.KeyInvalid:
        taken = False
    assert documented == taken
