"""Scheduled closing on real servers, on PostgreSQL with two worker processes: viewers see the
poll close when its closes_at passes with no vote to trigger it, the change is made once
between the two workers' schedulers, and votes after it are refused on both workers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import DB_KIND
from tests.live.servers import HOST, running_server

pytestmark = pytest.mark.skipif(DB_KIND != "postgres", reason="needs PostgreSQL")

PASSWORD = "correct horse"


async def token_for(http: httpx.AsyncClient, name: str) -> dict[str, str]:
    email = f"{name}-{secrets.token_hex(4)}@example.org"
    body = {"name": name, "email": email, "password": PASSWORD}
    assert (await http.post("/api/v1/users", json=body)).status_code == 201
    response = await http.post("/api/v1/auth/tokens", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def closed_message(ws: ClientConnection, within: float = 20.0) -> dict[str, Any]:
    """The first `poll` message that says the poll is closed."""
    async with asyncio.timeout(within):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == "poll" and message["closed"]:
                return dict(message)


async def vote_alone(base_url: str, auth: dict[str, str], poll_id: int, option_id: int) -> int:
    """A vote on a connection of its own (the kernel picks the worker that takes it), sent
    with a Date header that claims the poll is still open."""
    claimed = format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)
    async with httpx.AsyncClient(base_url=base_url, timeout=10, trust_env=False) as http:
        response = await http.post(
            f"/api/v1/polls/{poll_id}/votes",
            json={"option_id": option_id},
            headers={**auth, "Date": claimed},
        )
    return response.status_code


async def test_closes_at_closes_the_poll_for_every_viewer_and_on_both_workers() -> None:
    """The server's clock decides, never the client's: the late votes carry a Date header
    from before closes_at and are refused all the same, on whichever worker takes them; the
    counts stay those of the votes cast in time. Nobody votes or reads to make the poll close:
    the workers' schedulers do, and only one of them writes it (seq moves by one)."""
    async with (
        running_server(workers=2) as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=10, trust_env=False) as http,
        contextlib.AsyncExitStack() as stack,
    ):
        owner = await token_for(http, "owner")
        voters = [await token_for(http, f"voter{i}") for i in range(16)]
        body = {"question": "Ship it?", "options": ["yes", "no"], "is_published": True}
        response = await http.post("/api/v1/polls", json=body, headers=owner)
        assert response.status_code == 201, response.text
        poll = response.json()
        yes = poll["options"][0]["id"]
        # Twelve viewers: the kernel spreads them over both workers (all on one: 1 in 2,048).
        viewers = [
            await stack.enter_async_context(
                connect(f"ws://{HOST}:{server.port}/api/v1/polls/{poll['id']}/live")
            )
            for _ in range(12)
        ]
        for viewer in viewers:
            assert json.loads(await viewer.recv())["type"] == "results"
        for auth in voters[:3]:  # in time, whatever their Date header says
            assert await vote_alone(server.base_url, auth, poll["id"], yes) == 201

        closes_at = datetime.now(UTC) + timedelta(seconds=1.5)
        response = await http.patch(
            f"/api/v1/polls/{poll['id']}", json={"closes_at": closes_at.isoformat()}, headers=owner
        )
        assert response.status_code == 200, response.text
        scheduled_seq = (await http.get(f"/api/v1/polls/{poll['id']}/results")).json()["seq"]

        closed = await asyncio.gather(*(closed_message(viewer) for viewer in viewers))
        assert {message["seq"] for message in closed} == {scheduled_seq + 1}
        assert {message["state"] for message in closed} == {"closed"}
        assert {message["closed_at"] for message in closed} == {response.json()["closes_at"]}

        late = await asyncio.gather(
            *(vote_alone(server.base_url, auth, poll["id"], yes) for auth in voters[3:])
        )
        assert late == [409] * 13
        results = (await http.get(f"/api/v1/polls/{poll['id']}/results")).json()
        assert results["closed"] is True and results["voters"] == 3
        assert [option["votes"] for option in results["options"]] == [3, 0]
        assert results["seq"] == scheduled_seq + 1  # one closing, by one of the schedulers
