"""Word-cloud answers for one poll that arrive while its answers are being written go in one
transaction (webapp/responses/word_batches.py), each person still getting their own answer,
the counts exact and identical words one row (PostgreSQL: the test holds the poll's row
lock from a connection of its own, on SQLite the process's one writer, so that the batch
forms for certain); and, against a real two-worker PostgreSQL server, a burst of answers
counted exactly."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
from quart import Quart

from tests.conftest import DB_KIND, DB_URL, MakeMember, Member, postgres_only
from tests.helpers import until
from tests.kinds.helpers import make_kind_poll, results
from tests.kinds.test_idempotency_kinds import HEADER, REPLAYED, word
from tests.kinds.test_word_cloud import answer_rows, count_rows, counts, hide, send
from tests.live.servers import running_server, wait_listening
from tests.live.test_idempotency_servers import account, fresh_connections
from tests.pages.helpers import Browser, api_poll, api_token, signed_up
from tests.test_integrity_report import report_until
from tests.test_vote_batches import poll_locked
from webapp import db, metrics
from webapp.responses import word_batches
from webapp.tables import AuthToken, Ballot, User
from webapp.votes import LOCK_SQL

if TYPE_CHECKING:
    from quart.typing import TestClientProtocol
    from quart.wrappers import Response


@contextlib.asynccontextmanager
async def writes_held(poll_id: int) -> AsyncIterator[asyncpg.Connection | None]:
    """The poll's writes held until the block ends, as another batch's would hold them: on
    PostgreSQL its row locked from a connection of the test's own (yielded; what it changes
    commits as the block ends), on SQLite the process's one writer taken (None)."""
    if DB_KIND == "postgres":
        async with poll_locked(poll_id) as holder:
            yield holder
    else:
        async with db._sqlite_writer:
            yield None


Sent = tuple[Member, str]


def taken(poll_id: int) -> bool:
    """Whether a batch of the poll's answers is running, with nothing waiting for the next."""
    batches = word_batches._batches
    return batches.running(poll_id) and batches.waiting(poll_id) == 0


def batches() -> tuple[float, float]:
    """(batches written, answers in them) so far, from the metric."""
    count = metrics.REGISTRY.get_sample_value("livepolls_word_answer_batch_size_count") or 0.0
    total = metrics.REGISTRY.get_sample_value("livepolls_word_answer_batch_size_sum") or 0.0
    return count, total


async def in_one_batch(
    client: TestClientProtocol, poll_id: int, first: Sent, rest: list[Sent], holder: Any = None
) -> list[Response]:
    """`first` taken alone while the poll is locked elsewhere, then `rest` queued behind it
    one by one (so their order is known): they go in together once the lock is let go."""
    async with writes_held(poll_id) as conn:
        leader = asyncio.create_task(send(client, first[0], poll_id, first[1]))
        await until(lambda: taken(poll_id), "the first answer is taken")
        tasks = []
        for i, (who, text) in enumerate(rest, 1):
            tasks.append(asyncio.create_task(send(client, who, poll_id, text)))
            await until(lambda i=i: word_batches._batches.waiting(poll_id) == i, "it waits")
        if holder is not None:
            await holder(conn)
    return [await leader, *[await task for task in tasks]]


async def test_answers_waiting_for_a_poll_go_in_one_batch_each_with_its_own_answer(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member()
    bob, carl, dan, eve = [await make_member() for _ in range(4)]
    poll = await make_kind_poll(client, ann, "word_cloud", answers_per_person=2)
    assert (await send(client, bob, poll["id"], "tea")).status_code == 201
    before = batches()
    answers = await in_one_batch(
        client,
        poll["id"],
        (carl, "tea"),
        [
            (bob, "Tea!"),  # his own repeat, once normalised: 200
            (dan, "TEA"),  # the same word from someone else: one more in its row
            (eve, "coffee"),
            (eve, "coffee"),  # the same request twice in one batch: 201 then 200
            (bob, "milk"),  # his second and last slot
            (bob, "juice"),  # past his limit: 409
        ],
    )

    assert [a.status_code for a in answers] == [201, 200, 201, 201, 200, 201, 409]
    bodies = [await a.get_json() for a in answers]
    final = await results(client, poll["id"])
    # The batch is one change: its answers share one seq, and each reply shows the cloud
    # laid out for it, the one every screen shows after.
    batch = [body for body, a in zip(bodies[1:], answers[1:], strict=True) if a.status_code < 300]
    assert {body["seq"] for body in batch} == {final["seq"]} and final["seq"] > bodies[0]["seq"]
    assert all(body["detail"] == final["detail"] for body in batch)
    assert counts(final) == {"tea": 3, "coffee": 1, "milk": 1}
    assert final["voters"] == final["responses"] == 4
    assert [(r["answer_key"], r["count"]) for r in await count_rows(poll["id"])] == [
        ("coffee", 1),
        ("milk", 1),
        ("tea", 3),
    ]
    slots = Counter(row["user"] for row in await answer_rows(poll["id"]))
    assert slots == {bob.id: 2, carl.id: 1, dan.id: 1, eve.id: 1}
    assert "your 2 answers" in bodies[-1]["detail"]
    count, total = batches()
    assert (count - before[0], total - before[1]) == (2, 7)  # [carl], then the six


async def test_each_answer_of_a_batch_shows_what_its_sender_may_see_and_hidden_stays_hidden(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob, carl = [await make_member() for _ in range(3)]
    poll = await make_kind_poll(client, ann, "word_cloud")
    pid = poll["id"]
    assert (await send(client, bob, pid, "tea")).status_code == 201
    assert (await hide(client, ann, pid, "tea")).status_code == 200
    hidden = await client.patch(
        f"/api/v1/polls/{pid}", json={"results_hidden": True}, headers=ann.auth
    )
    assert hidden.status_code == 200
    answers = await in_one_batch(client, pid, (carl, "Tea"), [(bob, "coffee"), (ann, "milk")])

    assert [a.status_code for a in answers] == [201, 201, 201]
    carl_sees, bob_sees, ann_sees = [await a.get_json() for a in answers]
    for other in (carl_sees, bob_sees):  # the results are hidden from all but the owner
        assert other["visible"] is False and other["detail"] is None
    # The owner sees the batch's cloud, without the word she hid, which it still counts.
    assert ann_sees["visible"] is True and counts(ann_sees) == {"coffee": 1, "milk": 1}
    assert ann_sees["seq"] == bob_sees["seq"] > carl_sees["seq"]  # [carl], then the two
    rows = {r["answer_key"]: (r["count"], r["hidden"]) for r in await count_rows(pid)}
    assert rows == {"tea": (2, True), "coffee": (1, False), "milk": (1, False)}


@postgres_only
async def test_a_write_the_database_refuses_undoes_the_batch_and_each_answer_goes_alone(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member()
    people = [await make_member() for _ in range(4)]
    poll = await make_kind_poll(client, ann, "word_cloud")
    gone = people[2]
    # Known to this process's token cache, so its request reaches the batch...
    assert (await client.get("/api/v1/users/me", headers=gone.auth)).status_code == 200

    async def delete_gone(_: Any) -> None:
        # ...though the person is gone by the time the batch is written: its insert fails.
        await AuthToken.delete().where(AuthToken.user == gone.id)
        await User.delete().where(User.id == gone.id)

    answers = await in_one_batch(
        client, poll["id"], (people[0], "a1"), [(p, "b2") for p in people[1:]], delete_gone
    )

    assert [a.status_code for a in answers] == [201, 201, 401, 201]
    final = await results(client, poll["id"])
    assert counts(final) == {"a1": 1, "b2": 2} and final["voters"] == 3
    assert sum(row["count"] for row in await count_rows(poll["id"])) == 3
    assert len(await answer_rows(poll["id"])) == 3


@postgres_only
async def test_a_poll_closed_while_its_answers_wait_refuses_the_whole_batch(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob, carl = [await make_member() for _ in range(3)]
    poll = await make_kind_poll(client, ann, "word_cloud")
    assert (await send(client, bob, poll["id"], "early")).status_code == 201

    async def close(conn: asyncpg.Connection) -> None:  # committed as the lock is let go
        await conn.execute(
            "UPDATE poll SET closed_at = now(), seq = seq + 1 WHERE id = $1", poll["id"]
        )

    answers = await in_one_batch(
        client,
        poll["id"],
        (carl, "first"),
        [(bob, "early"), (bob, "late"), (carl, "again")],
        close,
    )

    # The first answer and the batch behind it found the poll closed under the lock: every
    # one a 409, a new answer and a repeat alike, and nothing written.
    assert [a.status_code for a in answers] == [409, 409, 409, 409]
    for answer in answers:
        assert "closed" in (await answer.get_json())["detail"]
    assert counts(await results(client, poll["id"])) == {"early": 1}
    assert len(await answer_rows(poll["id"])) == 1


async def test_keyed_answers_in_a_batch_are_stored_with_their_keys_and_replayed(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob, carl, dan, eve = [await make_member() for _ in range(5)]
    poll = await make_kind_poll(client, ann, "word_cloud")
    pid = poll["id"]
    once = await word(client, bob, pid, "tea", "k-bob")
    assert once.status_code == 201
    async with writes_held(pid):
        leader = asyncio.create_task(send(client, carl, pid, "coffee"))
        await until(lambda: taken(pid), "the first answer is taken")
        new = asyncio.create_task(word(client, dan, pid, "tea", "k-dan"))
        await until(lambda: word_batches._batches.waiting(pid) == 1, "it waits")
        other = asyncio.create_task(word(client, eve, pid, "Tea", "k-eve"))
        await until(lambda: word_batches._batches.waiting(pid) == 2, "it waits")
        # A retry of an answer already stored is answered from its key, and waits for no batch.
        replayed = await word(client, bob, pid, "tea", "k-bob")
        assert replayed.headers[REPLAYED] == "true"
        assert await replayed.get_json() == await once.get_json()
    assert (await leader).status_code == 201
    for task, who, text, key in ((new, dan, "tea", "k-dan"), (other, eve, "Tea", "k-eve")):
        first = await task
        assert first.status_code == 201 and REPLAYED not in first.headers
        again = await word(client, who, pid, text, key)  # stored in the batch's transaction
        assert again.headers[REPLAYED] == "true"
        assert await again.get_json() == await first.get_json()
    assert counts(await results(client, pid)) == {"tea": 3, "coffee": 1}
    # A key used for another answer is still refused, in a batch or alone.
    reused = await word(client, dan, pid, "milk", "k-dan")
    assert reused.status_code == 422 and HEADER in str(await reused.get_json())


@postgres_only
async def test_a_burst_of_answers_on_both_workers_of_a_real_server_is_counted_exactly() -> None:
    """Real `serve` workers, fresh connections: each worker batches its own answers, and the
    poll's row lock orders the two workers' batches; every answer acknowledged is one row,
    and identical words are one row each, counted once per answer."""
    async with running_server(workers=2) as server, fresh_connections(server) as http:
        await wait_listening(server, 2)
        _, _, owner = await account(http)
        created = await http.post(
            "/api/v1/polls",
            json={"question": "One word?", "kind": "word_cloud", "is_published": True},
            headers={"Authorization": f"Bearer {owner}"},
        )
        assert created.status_code == 201, created.text
        url = f"/api/v1/polls/{created.json()['id']}/words"
        tokens = [
            token for _, _, token in await asyncio.gather(*(account(http) for _ in range(30)))
        ]
        words = ["tea", "coffee", "Tea", "water"]  # "Tea" counts as "tea"

        async def answers_of(token: str) -> list[httpx.Response]:
            auth = {"Authorization": f"Bearer {token}"}
            return [await http.post(url, json={"answer": w}, headers=auth) for w in words]

        sent = [r for rs in await asyncio.gather(*(answers_of(t) for t in tokens)) for r in rs]
    statuses = Counter(r.status_code for r in sent)
    assert statuses == {201: 90, 200: 30}, statuses  # each person's "Tea" is their own repeat
    conn = await asyncpg.connect(DB_URL)
    try:
        poll_id = created.json()["id"]
        rows = await conn.fetch(
            "SELECT answer_key, count FROM word_count WHERE poll = $1 ORDER BY 1", poll_id
        )
        answered = await conn.fetchval("SELECT count(*) FROM word_answer WHERE poll = $1", poll_id)
        voters = await conn.fetchval("SELECT voters FROM poll WHERE id = $1", poll_id)
    finally:
        await conn.close()
    assert [(r["answer_key"], r["count"]) for r in rows] == [
        ("coffee", 30),
        ("tea", 30),
        ("water", 30),
    ]
    assert (answered, voters) == (90, 30)


async def test_guests_in_one_batch_meet_the_network_cap_and_the_report_as_if_alone(
    app: Quart,
) -> None:
    """Three guests from one network, cap 2, their first answers in one batch: the third is
    refused (429) as it would be alone, because the batch's own new ballots count; and the
    refusal is in the poll's integrity report."""
    await signed_up(app, "owner")
    token = await api_token(app, "owner@example.org")
    poll = await api_poll(
        app, token, kind="word_cloud", options=None, voting="guests", guest_network_cap=2
    )
    pid = poll["id"]
    guests = [Browser(app, address="203.0.113.9") for _ in range(3)]
    for n, guest in enumerate(guests):
        await guest.join_as_guest(f"Guest {n}", pid)

    async def give(guest: Browser, text: str) -> int:
        return (await guest.post(f"/polls/{pid}/words", {"answer": text})).status

    async with writes_held(pid):
        first = asyncio.create_task(give(guests[0], "tea"))
        await until(lambda: taken(pid), "the first answer is taken")
        rest = []
        for i, guest in enumerate(guests[1:], 1):
            rest.append(asyncio.create_task(give(guest, "tea")))
            await until(lambda i=i: word_batches._batches.waiting(pid) == i, "it waits")
    statuses = [await first, *[await task for task in rest]]

    assert statuses == [303, 303, 429]
    assert [(r["answer_key"], r["count"]) for r in await count_rows(pid)] == [("tea", 2)]
    ballots = await Ballot.count().where(Ballot.poll == pid)
    assert ballots == 2 == (await results(app.test_client(), pid))["voters"]
    report = await report_until(app, pid, token, refused_total=1)
    assert report["refused"]["network"] == 1, report["refused"]


@postgres_only
async def test_the_polls_write_lock_lets_a_reader_store_its_first_layout(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    """A batch holds the poll's lock (votes.LOCK_SQL) while it stores its layout; a reader
    outside any transaction storing the poll's first layout (a row that references the poll)
    must not wait for it, or the two would deadlock on PostgreSQL."""
    ann = await make_member()
    poll = await make_kind_poll(client, ann, "word_cloud")
    holder, reader = await asyncpg.connect(DB_URL), await asyncpg.connect(DB_URL)
    try:
        await reader.execute("DELETE FROM question_view WHERE poll = $1", poll["id"])
        async with holder.transaction():
            await holder.execute(LOCK_SQL.replace("{}", "$1"), poll["id"])
            await reader.execute("SET lock_timeout = '20s'")  # a deadline, never reached
            stored = await reader.fetchval(
                "INSERT INTO question_view (poll, seq, view) VALUES ($1, 0, '{}') RETURNING seq",
                poll["id"],
            )
    finally:
        await holder.close()
        await reader.close()
    assert stored == 0
