"""Idempotency keys across processes: real `serve` processes on one PostgreSQL database.

One key sent many times at once, over fresh connections that the kernel spreads over two
workers, counts exactly once, and every answer is the first outcome or a 409. A key whose
request is still in flight on one process is a 409 on another, and its retry afterwards gets
the first answer. Several processes need PostgreSQL: on SQLite runs these tests are skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import DB_KIND, DB_URL
from tests.helpers import until
from tests.live.servers import Server, running_server, wait_listening
from tests.pages.helpers import parse_html

pytestmark = pytest.mark.skipif(DB_KIND != "postgres", reason="several processes: PostgreSQL")

PASSWORD = "correct horse"
HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
BURST = 40


@contextlib.asynccontextmanager
async def fresh_connections(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    """A client that opens a new connection for every request (no keep-alive), so a burst
    reaches whichever worker the kernel hands each connection to; cookies are kept."""
    limits = httpx.Limits(max_keepalive_connections=0, max_connections=BURST)
    async with httpx.AsyncClient(
        base_url=server.base_url, timeout=30, trust_env=False, limits=limits
    ) as http:
        yield http


async def account(http: httpx.AsyncClient) -> tuple[int, str, str]:
    """A new account through the API: (id, email, bearer token)."""
    email = f"idem-{secrets.token_hex(4)}@example.org"
    body = {"name": "Idem", "email": email, "password": PASSWORD}
    created = await http.post("/api/v1/users", json=body)
    assert created.status_code == 201, created.text
    signed_in = await http.post("/api/v1/auth/tokens", json={"email": email, "password": PASSWORD})
    assert signed_in.status_code == 201, signed_in.text
    return int(created.json()["id"]), email, str(signed_in.json()["token"])


async def new_poll(http: httpx.AsyncClient, token: str, **settings: Any) -> dict[str, Any]:
    body = {"question": "Best editor?", "options": ["vim", "emacs", "nano"], "is_published": True}
    response = await http.post(
        "/api/v1/polls", json={**body, **settings}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def counts(poll_id: int) -> tuple[list[int], int, int]:
    """(votes per option, vote rows, the poll's seq) as the database holds them."""
    conn = await asyncpg.connect(DB_URL)
    try:
        options = await conn.fetch(
            'SELECT votes FROM poll_option WHERE poll = $1 ORDER BY "position"', poll_id
        )
        rows = await conn.fetchval("SELECT count(*) FROM vote WHERE poll = $1", poll_id)
        seq = await conn.fetchval("SELECT seq FROM poll WHERE id = $1", poll_id)
    finally:
        await conn.close()
    return [row["votes"] for row in options], int(rows), int(seq)


async def test_one_key_sent_at_once_to_both_workers_counts_once() -> None:
    async with running_server(workers=2) as server, fresh_connections(server) as http:
        await wait_listening(server, 2)
        _, email, token = await account(http)
        poll = await new_poll(http, token)
        vim = poll["options"][0]["id"]
        headers = {"Authorization": f"Bearer {token}", HEADER: '"api-burst"'}

        async def post() -> httpx.Response:
            url = f"/api/v1/polls/{poll['id']}/votes"
            return await http.post(url, json={"option_id": vim}, headers=headers)

        answers = await asyncio.gather(*(post() for _ in range(BURST)))
        answers.append(await post())  # after the burst: the stored answer

        assert {a.status_code for a in answers} <= {201, 409}, [a.status_code for a in answers]
        firsts = [a for a in answers if a.status_code == 201 and REPLAYED not in a.headers]
        assert len(firsts) == 1, "exactly one request ran"
        for answer in answers:
            if answer.status_code == 201:
                assert answer.json() == firsts[0].json()
            else:
                assert answer.json()["type"].endswith("/idempotency-key-in-flight")
        assert answers[-1].status_code == 201 and answers[-1].headers[REPLAYED] == "true"
        assert await counts(poll["id"]) == ([1, 0, 0], 1, 1)

        # The page's toggle (a second tap takes a multiple choice back): the same tap
        # retried many times at once toggles once.
        multiple = await new_poll(http, token, allows_multiple=True)
        emacs = multiple["options"][1]["id"]
        page = await http.get("/signin")
        csrf = CSRF.search(page.text)
        assert csrf
        fields = {"email": email, "password": PASSWORD, "csrf_token": csrf.group(1)}
        assert (await http.post("/signin", data=fields)).status_code == 303
        csrf = CSRF.search((await http.get(f"/polls/{multiple['id']}")).text)
        assert csrf
        tap = {"option_id": str(emacs), "csrf_token": csrf.group(1)}
        tap_headers = {"HX-Request": "true", HEADER: "page-burst"}

        async def toggle() -> httpx.Response:
            url = f"/polls/{multiple['id']}/vote"
            return await http.post(url, data=tap, headers=tap_headers)

        taps = await asyncio.gather(*(toggle() for _ in range(BURST)))
        taps.append(await toggle())

        assert {t.status_code for t in taps} <= {200, 409}, [t.status_code for t in taps]
        first_taps = [t for t in taps if t.status_code == 200 and REPLAYED not in t.headers]
        assert len(first_taps) == 1, "exactly one tap ran"
        for answer in taps:
            alert = parse_html(answer.text).get("vote").find(cls="alert")
            if answer.status_code == 200:
                assert alert is None, alert.text
            else:
                assert alert is not None and "still being processed" in alert.text
        assert taps[-1].status_code == 200 and taps[-1].headers[REPLAYED] == "true"
        assert await counts(multiple["id"]) == ([0, 1, 0], 1, 1)


async def test_a_key_in_flight_on_one_process_is_a_409_on_another_then_replays() -> None:
    async with (
        running_server() as first,
        running_server() as second,
        fresh_connections(first) as one,
        fresh_connections(second) as two,
    ):
        user_id, _, token = await account(one)
        poll = await new_poll(one, token)
        url = f"/api/v1/polls/{poll['id']}/votes"
        body = {"option_id": poll["options"][0]["id"]}
        headers = {"Authorization": f"Bearer {token}", HEADER: "held"}
        # Lock the poll's row as another vote would: the first request waits for it, holding
        # its key (a transaction-scoped advisory lock on the user and the key).
        holder = await asyncpg.connect(DB_URL)
        try:
            async with holder.transaction():
                await holder.execute("SELECT id FROM poll WHERE id = $1 FOR UPDATE", poll["id"])
                started = asyncio.create_task(one.post(url, json=body, headers=headers))

                async def key_held() -> bool:
                    held = await holder.fetchval(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                        " AND classid = $1 AND objsubid = 2 AND database ="
                        " (SELECT oid FROM pg_database WHERE datname = current_database())",
                        user_id,
                    )
                    return bool(held)

                await until(key_held, "the first request holds its key")
                elsewhere = await two.post(url, json=body, headers=headers)
                same_process = await one.post(url, json=body, headers=headers)
                assert not started.done()
        finally:
            await holder.close()
        answered = await started
        retried = await two.post(url, json=body, headers=headers)

    for refused in (elsewhere, same_process):
        assert refused.status_code == 409, refused.text
        assert refused.json()["type"].endswith("/idempotency-key-in-flight")
    assert answered.status_code == 201 and REPLAYED not in answered.headers
    assert retried.status_code == 201 and retried.headers[REPLAYED] == "true"
    assert retried.json() == answered.json()
    assert await counts(poll["id"]) == ([1, 0, 0], 1, 1)
