"""Events across processes, on PostgreSQL: an advance made through one server reaches phones
connected to another (the event channel rides the same LISTEN/NOTIFY feed as results); a
countdown closes voting by the server's clock, whatever a client's says."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import DB_KIND
from tests.live.servers import HOST, Server, running_server, running_servers

# `http` sits idle while the countdown runs out: a connection kept for longer than the
# server's keep-alive (Hypercorn's 5 s) may be closed by it just as the next request goes.
IDLE = httpx.Limits(keepalive_expiry=2)

pytestmark = pytest.mark.skipif(DB_KIND != "postgres", reason="needs PostgreSQL")

PASSWORD = "correct horse"


async def token_for(http: httpx.AsyncClient, name: str) -> dict[str, str]:
    email = f"{name}-{secrets.token_hex(4)}@example.org"
    body = {"name": name, "email": email, "password": PASSWORD}
    assert (await http.post("/api/v1/users", json=body)).status_code == 201
    response = await http.post("/api/v1/auth/tokens", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def event_with_questions(http: httpx.AsyncClient, auth: dict[str, str], count: int) -> Any:
    response = await http.post("/api/v1/events", json={"title": "Talk"}, headers=auth)
    assert response.status_code == 201, response.text
    event = response.json()
    for i in range(count):
        body = {"question": f"Q{i}?", "options": ["Yes", "No"], "is_published": True}
        response = await http.post(f"/api/v1/events/{event['id']}/polls", json=body, headers=auth)
        assert response.status_code == 201, response.text
        event = response.json()
    return event


def event_url(server: Server, event_id: int) -> str:
    return f"ws://{HOST}:{server.port}/api/v1/events/{event_id}/live"


async def next_event(ws: ClientConnection, within: float = 10.0) -> dict[str, Any]:
    async with asyncio.timeout(within):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == "event":
                return dict(message)


async def test_an_advance_through_one_server_reaches_phones_on_another() -> None:
    async with (
        running_servers(2) as (first, second),
        httpx.AsyncClient(base_url=first.base_url, timeout=10, trust_env=False) as http,
        contextlib.AsyncExitStack() as stack,
    ):
        auth = await token_for(http, "speaker")
        event = await event_with_questions(http, auth, 3)
        phones = [
            await stack.enter_async_context(connect(event_url(second, event["id"])))
            for _ in range(3)
        ]
        for phone in phones:
            assert (await next_event(phone))["current"] is None
        for question in event["questions"]:
            response = await http.put(
                f"/api/v1/events/{event['id']}/current", json={"move": "next"}, headers=auth
            )
            assert response.status_code == 200, response.text
            moved = await asyncio.gather(*(next_event(phone) for phone in phones))
            assert {m["current"]["poll_id"] for m in moved} == {question["poll_id"]}


async def test_two_workers_carry_an_advance_to_every_phone() -> None:
    async with (
        running_server(workers=2) as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=10, trust_env=False) as http,
        contextlib.AsyncExitStack() as stack,
    ):
        auth = await token_for(http, "speaker")
        event = await event_with_questions(http, auth, 2)
        # The kernel spreads connections over the two workers' sockets: with twelve, both
        # hold some (all on one: one chance in 2,048), and one of them takes the advance.
        phones = [
            await stack.enter_async_context(connect(event_url(server, event["id"])))
            for _ in range(12)
        ]
        for phone in phones:
            await next_event(phone)
        for question in event["questions"]:
            response = await http.put(
                f"/api/v1/events/{event['id']}/current",
                json={"poll_id": question["poll_id"]},
                headers=auth,
            )
            assert response.status_code == 200, response.text
            moved = await asyncio.gather(*(next_event(phone) for phone in phones))
            assert {m["current"]["poll_id"] for m in moved} == {question["poll_id"]}


async def test_a_vote_after_the_countdown_is_refused_whatever_the_clients_clock() -> None:
    from email.utils import format_datetime

    from tests.helpers import until

    async with (
        running_servers(2) as (first, second),
        httpx.AsyncClient(
            base_url=first.base_url, timeout=10, trust_env=False, limits=IDLE
        ) as http,
        httpx.AsyncClient(
            base_url=second.base_url, timeout=10, trust_env=False, limits=IDLE
        ) as other,
    ):
        auth = await token_for(http, "speaker")
        voter = await token_for(http, "voter")
        event = await event_with_questions(http, auth, 1)
        poll_id = event["questions"][0]["poll_id"]
        url = f"/api/v1/events/{event['id']}"
        await http.put(f"{url}/current", json={"poll_id": poll_id}, headers=auth)
        poll = (await http.get(f"/api/v1/polls/{poll_id}")).json()
        option = poll["options"][0]["id"]
        response = await http.post(f"{url}/countdown", json={"seconds": 5}, headers=auth)
        assert response.status_code == 200, response.text
        closes_at = datetime.fromisoformat(response.json()["questions"][0]["closes_at"])

        async def closed() -> bool:
            read = (await other.get(f"/api/v1/polls/{poll_id}")).json()
            return read["closed_at"] is not None

        await until(closed, "the server closed the question at its closes_at", within=30)
        # A client an hour behind says so in its Date header: the server's clock decides.
        behind = format_datetime(closes_at - timedelta(hours=1), usegmt=True)
        for server_client in (http, other):
            response = await server_client.post(
                f"/api/v1/polls/{poll_id}/votes",
                json={"option_id": option},
                headers={**voter, "Date": behind},
            )
            assert response.status_code == 409, response.text
        results = (await other.get(f"/api/v1/polls/{poll_id}/results")).json()
        assert results["total_votes"] == 0 and results["closed"] is True
