"""Idempotency-Key on the voter-side writes of the kinds other than choice (#15): a rating,
a word-cloud answer, a Q&A question and the other writes through `respond`, on both
databases. A retry gets the first answer again and counts nothing; the same key for another
request is a 422; a malformed key a 400; the same key sent at once is counted once.

The vote endpoints' own cases (expiry, quota, refusals stored) are in tests/api/test_idempotency.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import pytest

from tests.api.problems import assert_problem, assert_validation_problem
from tests.conftest import DB_URL, MakeMember, Member, postgres_only
from tests.kinds.helpers import make_kind_poll, results
from tests.live.servers import running_server, wait_listening
from tests.live.test_idempotency_servers import BURST, account, fresh_connections
from webapp import idempotency
from webapp.tables import IdempotencyKey, Poll

if TYPE_CHECKING:
    from quart.typing import TestClientProtocol
    from quart.wrappers import Response

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
SCALE = {"scale": {"points": 5, "low_label": "Poor", "high_label": "Great"}}


def keyed(member: Member, key: str) -> dict[str, str]:
    return {**member.auth, HEADER: key}


async def rate(
    client: TestClientProtocol, member: Member, poll_id: int, rating: int, key: str
) -> Response:
    url = f"/api/v1/polls/{poll_id}/response"
    return await client.put(url, json={"rating": rating}, headers=keyed(member, key))


async def word(
    client: TestClientProtocol, member: Member, poll_id: int, answer: str, key: str
) -> Response:
    url = f"/api/v1/polls/{poll_id}/words"
    return await client.post(url, json={"answer": answer}, headers=keyed(member, key))


async def ask(
    client: TestClientProtocol, member: Member, poll_id: int, text: str, key: str
) -> Response:
    url = f"/api/v1/polls/{poll_id}/qa"
    return await client.post(url, json={"text": text}, headers=keyed(member, key))


async def count(sql: str, poll_id: int) -> int:
    rows = await Poll.raw(sql, poll_id)
    return int(rows[0]["n"])


async def ratings(poll_id: int) -> int:
    return await count("SELECT count(*) AS n FROM scale_rating WHERE poll = {}", poll_id)


async def words(poll_id: int) -> int:
    return await count("SELECT count(*) AS n FROM word_answer WHERE poll = {}", poll_id)


async def questions(poll_id: int) -> int:
    return await count("SELECT count(*) AS n FROM qa_question WHERE poll = {}", poll_id)


async def ballots(poll_id: int) -> int:
    return await count("SELECT count(*) AS n FROM ballot WHERE poll = {}", poll_id)


async def keys_stored() -> int:
    return len(await IdempotencyKey.select(IdempotencyKey.key))


async def assert_replay(first: Response, again: Response) -> Any:
    assert first.status_code == 201, await first.get_data(as_text=True)
    assert REPLAYED not in first.headers
    assert again.status_code == first.status_code
    assert again.headers[REPLAYED] == "true"
    body = await first.get_json()
    assert await again.get_json() == body
    return body


async def test_a_retried_rating_gets_its_first_answer_and_counts_once(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member()
    poll = await make_kind_poll(client, ann, "scale", **SCALE)
    first = await rate(client, ann, poll["id"], 4, "rate-1")
    again = await rate(client, ann, poll["id"], 4, "rate-1")
    body = await assert_replay(first, again)
    assert body["detail"]["responses"] == 1  # the first answer saw its own rating
    assert await ratings(poll["id"]) == 1 and await ballots(poll["id"]) == 1
    assert (await results(client, poll["id"], ann))["detail"]["responses"] == 1


async def test_a_retried_word_gets_its_first_answer_and_counts_once(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member()
    poll = await make_kind_poll(client, ann, "word_cloud", answers_per_person=3)
    first = await word(client, ann, poll["id"], "tea", "word-1")
    again = await word(client, ann, poll["id"], "tea", "word-1")
    body = await assert_replay(first, again)
    assert [w["count"] for w in body["detail"]["words"]] == [1]
    assert await words(poll["id"]) == 1


async def test_a_retried_question_gets_its_first_answer_and_asks_once(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member()
    poll = await make_kind_poll(client, ann, "qa")
    first = await ask(client, ann, poll["id"], "Why?", "ask-1")
    again = await ask(client, ann, poll["id"], "Why?", "ask-1")
    body = await assert_replay(first, again)
    assert body["text"] == "Why?"
    assert await questions(poll["id"]) == 1


async def test_the_other_writes_replay_their_204_and_do_nothing_again(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "qa")
    asked = await ask(client, ann, poll["id"], "Why?", "ask")
    qid = (await asked.get_json())["id"]
    url = f"/api/v1/polls/{poll['id']}/qa/{qid}/upvote"
    for method in ("put", "delete"):
        send = getattr(client, method)
        extra: dict[str, Any] = {"json": {}} if method == "put" else {}
        first = await send(url, headers=keyed(bob, method), **extra)
        again = await send(url, headers=keyed(bob, method), **extra)
        assert first.status_code == again.status_code == 204
        assert REPLAYED not in first.headers and again.headers[REPLAYED] == "true"
    # The upvote's replay does not upvote again after it was taken back.
    first_up = await client.put(url, json={}, headers=keyed(bob, "put"))
    assert first_up.headers[REPLAYED] == "true"
    body = await results(client, poll["id"], ann)
    assert [q["upvotes"] for q in body["detail"]["questions"]] == [0]
    deleted = await client.delete(f"/api/v1/polls/{poll['id']}/qa/{qid}", headers=keyed(ann, "d"))
    assert deleted.status_code == 204
    again = await client.delete(f"/api/v1/polls/{poll['id']}/qa/{qid}", headers=keyed(ann, "d"))
    assert again.status_code == 204 and again.headers[REPLAYED] == "true"  # not a 404


async def test_a_withdrawn_rating_and_word_replay_their_204(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member()
    scale = await make_kind_poll(client, ann, "scale", **SCALE)
    cloud = await make_kind_poll(client, ann, "word_cloud", answers_per_person=3)
    await rate(client, ann, scale["id"], 2, "r")
    await word(client, ann, cloud["id"], "tea", "w")
    slot = f"/api/v1/polls/{cloud['id']}/words/mine"
    for url, key in ((f"/api/v1/polls/{scale['id']}/response", "r-gone"), (f"{slot}/1", "w-gone")):
        first = await client.delete(url, headers=keyed(ann, key))
        again = await client.delete(url, headers=keyed(ann, key))
        assert first.status_code == again.status_code == 204
        assert again.headers[REPLAYED] == "true"
    assert await ratings(scale["id"]) == 0 and await words(cloud["id"]) == 0
    # the same key on another slot is another request
    other = await client.delete(f"{slot}/2", headers=keyed(ann, "w-gone"))
    await assert_validation_problem(other, HEADER)


Send = Callable[..., Awaitable["Response"]]
Stored = Callable[[int], Awaitable[int]]
# Per kind: how to send, a first value, another one, and how many rows the kind holds.
ANOTHER_BODY: dict[str, tuple[Send, object, object, Stored]] = {
    "scale": (rate, 4, 5, ratings),
    "word_cloud": (word, "tea", "coffee", words),
    "qa": (ask, "Why?", "How?", questions),
}


@pytest.mark.parametrize("kind", ["scale", "word_cloud", "qa"])
async def test_the_same_key_for_another_body_is_a_422_and_writes_nothing(
    client: TestClientProtocol, make_member: MakeMember, kind: str
) -> None:
    ann = await make_member()
    settings: dict[str, Any] = {"scale": SCALE, "word_cloud": {"answers_per_person": 3}}
    poll = await make_kind_poll(client, ann, kind, **settings.get(kind, {}))
    send, first_value, other_value, stored = ANOTHER_BODY[kind]
    assert (await send(client, ann, poll["id"], first_value, "k")).status_code == 201
    other = await send(client, ann, poll["id"], other_value, "k")
    await assert_validation_problem(other, HEADER)
    assert REPLAYED not in other.headers
    assert await stored(poll["id"]) == 1
    if kind == "scale":  # the rating was not replaced either
        assert (await results(client, poll["id"], ann))["detail"]["histogram"][3]["count"] == 1


@pytest.mark.parametrize("key", ["", "has space", "é", "x" * 256, '"unclosed'])
async def test_a_malformed_key_is_a_400_naming_the_header_and_writes_nothing(
    client: TestClientProtocol, make_member: MakeMember, key: str
) -> None:
    ann = await make_member()
    scale = await make_kind_poll(client, ann, "scale", **SCALE)
    cloud = await make_kind_poll(client, ann, "word_cloud", answers_per_person=3)
    qa = await make_kind_poll(client, ann, "qa")
    for response in (
        await rate(client, ann, scale["id"], 3, key),
        await word(client, ann, cloud["id"], "tea", key),
        await ask(client, ann, qa["id"], "Why?", key),
    ):
        body = await assert_problem(response, 400)
        assert body["type"].endswith("/idempotency-key-invalid")
        assert body["errors"][0]["field"] == HEADER
    assert (await ratings(scale["id"]), await words(cloud["id"]), await questions(qa["id"])) == (
        0,
        0,
        0,
    )
    assert await keys_stored() == 0


async def test_a_final_refusal_is_stored_and_replayed_even_once_a_slot_is_free(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member()
    poll = await make_kind_poll(client, ann, "word_cloud", answers_per_person=1)
    assert (await word(client, ann, poll["id"], "tea", "first")).status_code == 201
    refused = await word(client, ann, poll["id"], "coffee", "second")
    await assert_problem(refused, 409)
    await client.delete(f"/api/v1/polls/{poll['id']}/words/mine/1", headers=ann.auth)
    again = await word(client, ann, poll["id"], "coffee", "second")
    assert again.status_code == 409 and again.headers[REPLAYED] == "true"
    assert await again.get_json() == await refused.get_json()
    assert await words(poll["id"]) == 0


async def test_the_keyed_operations_document_the_header(client: TestClientProtocol) -> None:
    spec = await (await client.get("/openapi.json")).get_json()
    operations = [
        ("/api/v1/polls/{poll_id}/response", "put"),
        ("/api/v1/polls/{poll_id}/response", "delete"),
        ("/api/v1/polls/{poll_id}/words", "post"),
        ("/api/v1/polls/{poll_id}/words/mine/{slot}", "delete"),
        ("/api/v1/polls/{poll_id}/qa", "post"),
        ("/api/v1/polls/{poll_id}/qa/{question_id}", "delete"),
        ("/api/v1/polls/{poll_id}/qa/{question_id}/upvote", "put"),
        ("/api/v1/polls/{poll_id}/qa/{question_id}/upvote", "delete"),
    ]
    for path, method in operations:
        operation = spec["paths"][path][method]
        names = [parameter["name"] for parameter in operation.get("parameters", [])]
        assert HEADER in names, (path, method)
        assert {"400", "409", "422"} <= set(operation["responses"]), (path, method)
    owner = spec["paths"]["/api/v1/polls/{poll_id}/words"]["patch"]
    assert HEADER not in [parameter["name"] for parameter in owner.get("parameters", [])]


class _NoneInFlight(set[tuple[int, str]]):
    """What a second process sees: none of this process's keys in flight."""

    def __contains__(self, item: object) -> bool:
        return False


@postgres_only
@pytest.mark.parametrize("across_processes", [False, True])
async def test_the_same_key_sent_at_once_is_counted_once(
    client: TestClientProtocol,
    make_member: MakeMember,
    monkeypatch: pytest.MonkeyPatch,
    across_processes: bool,
) -> None:
    if across_processes:  # then only the database (its advisory lock and key) holds it
        monkeypatch.setattr(idempotency, "in_flight", _NoneInFlight())
    ann = await make_member()
    scale = await make_kind_poll(client, ann, "scale", **SCALE)
    cloud = await make_kind_poll(client, ann, "word_cloud", answers_per_person=3)
    qa = await make_kind_poll(client, ann, "qa")
    sent = await asyncio.gather(
        *(rate(client, ann, scale["id"], 4, "same-r") for _ in range(2)),
        *(word(client, ann, cloud["id"], "tea", "same-w") for _ in range(2)),
        *(ask(client, ann, qa["id"], "Why?", "same-q") for _ in range(2)),
    )
    for pair in (sent[0:2], sent[2:4], sent[4:6]):
        statuses = sorted(response.status_code for response in pair)
        assert statuses in ([201, 201], [201, 409]), statuses
        replayed = [response.headers.get(REPLAYED) for response in pair]
        assert statuses == [201, 409] or "true" in replayed
    assert await ratings(scale["id"]) == 1
    assert await words(cloud["id"]) == 1
    assert await questions(qa["id"]) == 1
    assert await ballots(scale["id"]) == 1


async def burst(http: httpx.AsyncClient, method: str, url: str, body: Any, headers: Any) -> None:
    """Send one keyed request many times at once, then once more: one ran, the rest are its
    answer again or a 409, and the last one is its replay."""

    async def send() -> httpx.Response:
        return await http.request(method, url, json=body, headers=headers)

    answers = list(await asyncio.gather(*(send() for _ in range(BURST))))
    answers.append(await send())
    assert {a.status_code for a in answers} <= {201, 409}, [a.status_code for a in answers]
    firsts = [a for a in answers if a.status_code == 201 and REPLAYED not in a.headers]
    assert len(firsts) == 1, "exactly one request ran"
    assert all(a.json() == firsts[0].json() for a in answers if a.status_code == 201)
    assert answers[-1].headers[REPLAYED] == "true"


@postgres_only
async def test_one_key_sent_at_once_to_both_workers_of_a_real_server_counts_once() -> None:
    """Real `serve` workers, fresh connections: only the database holds the key between them."""
    async with running_server(workers=2) as server, fresh_connections(server) as http:
        await wait_listening(server, 2)
        _, _, token = await account(http)
        auth = {"Authorization": f"Bearer {token}"}
        made: dict[str, int] = {}
        for kind, settings in (("scale", SCALE), ("word_cloud", {"answers_per_person": 3})):
            body = {"question": "Q", "kind": kind, "is_published": True, **settings}
            created = await http.post("/api/v1/polls", json=body, headers=auth)
            assert created.status_code == 201, created.text
            made[kind] = created.json()["id"]
        rating, words_url = (f"/api/v1/polls/{made[k]}" for k in ("scale", "word_cloud"))
        await burst(http, "PUT", f"{rating}/response", {"rating": 4}, {**auth, HEADER: "b-r"})
        await burst(http, "POST", f"{words_url}/words", {"answer": "tea"}, {**auth, HEADER: "b-w"})
    conn = await asyncpg.connect(DB_URL)
    try:
        sql = "SELECT count(*) FROM {} WHERE poll = $1"
        rated = await conn.fetchval(sql.format("scale_rating"), made["scale"])
        said = await conn.fetchval(sql.format("word_answer"), made["word_cloud"])
    finally:
        await conn.close()
    assert (rated, said) == (1, 1)
