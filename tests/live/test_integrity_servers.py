"""Integrity across processes: two real `serve` processes on one PostgreSQL database, each
request sent to one or the other, as a load balancer would spread them.

Rate limits, guest ballots, network caps and invite codes must hold whichever process a
request reaches; the presenter screen must carry no counts while they are hidden. Client
addresses come from X-Forwarded-For (LIVEPOLLS_PROXY_HOPS=1), as behind a reverse proxy.
Several processes need PostgreSQL: on SQLite runs this file is not collected (conftest.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import connect

from tests.conftest import DB_URL
from tests.live.servers import Server, running_server
from tests.pages.helpers import Element, parse_html

PASSWORD = "correct horse"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ENV = {
    "LIVEPOLLS_RATE_LIMITS": "true",
    "LIVEPOLLS_PROXY_HOPS": "1",
    "LIVEPOLLS_LIMIT_SIGNIN_PER_EMAIL": "5/minute",
    "LIVEPOLLS_LIMIT_SIGNIN_PER_ADDRESS": "1000/minute",
    "LIVEPOLLS_LIMIT_SIGNUP_PER_ADDRESS": "1000/minute",
    "LIVEPOLLS_LIMIT_GUESTS_PER_ADDRESS": "1000/minute",
    "LIVEPOLLS_LIMIT_INVITES_PER_ADDRESS": "1000/minute",
    "LIVEPOLLS_LIMIT_VOTES_PER_ADDRESS": "10000/minute",
}
_addresses = itertools.count(1)


def new_address() -> str:
    """A client address of its own for each client or test (documentation range)."""
    n = next(_addresses)
    return f"198.18.{n // 250}.{n % 250 + 1}"


@pytest.fixture
async def servers() -> AsyncIterator[list[Server]]:
    async with contextlib.AsyncExitStack() as stack:
        yield [await stack.enter_async_context(running_server(ENV)) for _ in range(2)]


class Client:
    """One browser or API client with its own cookie jar and address, talking to whichever
    server each call names (cookies for 127.0.0.1 go to both, as to one site)."""

    def __init__(self, address: str | None = None) -> None:
        self.address = address or new_address()
        self.http = httpx.AsyncClient(
            headers={"X-Forwarded-For": self.address}, timeout=10, trust_env=False
        )

    async def close(self) -> None:
        await self.http.aclose()

    async def json(self, server: Server, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.request(method, server.base_url + path, **kwargs)

    async def form(self, server: Server, path: str, fields: dict[str, str]) -> httpx.Response:
        """Submit a form the way the pages do: a fresh CSRF token from a page first."""
        page = await self.http.get(server.base_url + "/signin")
        match = CSRF.search(page.text)
        assert match, page.text[:500]
        return await self.http.post(
            server.base_url + path, data={**fields, "csrf_token": match.group(1)}
        )

    async def page(self, server: Server, path: str) -> httpx.Response:
        return await self.http.get(server.base_url + path)


async def sign_up(client: Client, server: Server) -> tuple[str, str]:
    """A new account through the API: (email, bearer token)."""
    email = f"owner-{secrets.token_hex(4)}@example.org"
    body = {"name": "Owner", "email": email, "password": PASSWORD}
    assert (await client.json(server, "POST", "/api/v1/users", json=body)).status_code == 201
    response = await client.json(
        server, "POST", "/api/v1/auth/tokens", json={"email": email, "password": PASSWORD}
    )
    assert response.status_code == 201, response.text
    return email, response.json()["token"]


async def new_poll(client: Client, server: Server, token: str, **settings: Any) -> dict[str, Any]:
    body = {"question": "Best editor?", "options": ["vim", "emacs", "nano"], "is_published": True}
    response = await client.json(
        server,
        "POST",
        "/api/v1/polls",
        json={**body, **settings},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def ballots(poll_id: int) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(DB_URL)
    try:
        return list(await conn.fetch("SELECT * FROM ballot WHERE poll = $1", poll_id))
    finally:
        await conn.close()


async def test_a_brute_force_is_refused_after_the_limit_whichever_process_it_reaches(
    servers: list[Server],
) -> None:
    owner = Client()
    email = f"victim-{secrets.token_hex(4)}@example.org"
    body = {"name": "Victim", "email": email, "password": PASSWORD}
    assert (await owner.json(servers[0], "POST", "/api/v1/users", json=body)).status_code == 201
    attacker = Client()
    statuses = []
    for n in range(8):
        response = await attacker.json(
            servers[n % 2],
            "POST",
            "/api/v1/auth/tokens",
            json={"email": email, "password": f"guess {n}"},
        )
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert response.headers["Content-Type"] == "application/problem+json"
            assert int(response.headers["Retry-After"]) >= 1
    assert statuses == [401] * 5 + [429] * 3
    # The form on either process is refused too, with a page, not a problem document.
    form = await attacker.form(servers[1], "/signin", {"email": email, "password": PASSWORD})
    assert form.status_code == 429 and "text/html" in form.headers["Content-Type"]
    assert "Too many sign-in attempts" in form.text
    await asyncio.gather(owner.close(), attacker.close())


async def test_a_guest_who_signs_out_and_rejoins_under_another_name_cannot_add_a_ballot(
    servers: list[Server],
) -> None:
    owner = Client()
    _, token = await sign_up(owner, servers[0])
    poll = await new_poll(owner, servers[0], token, voting="guests")
    poll_id, options = poll["id"], [o["id"] for o in poll["options"]]
    guest = Client()
    back = urlencode({"next": f"/polls/{poll_id}"})
    joined = await guest.form(servers[0], f"/guest?{back}", {"name": "Gus"})
    assert joined.status_code == 303
    voted = await guest.form(servers[1], f"/polls/{poll_id}/vote", {"option_id": str(options[0])})
    assert voted.status_code == 303
    assert (await guest.form(servers[1], "/signout", {})).status_code == 303
    again = await guest.form(servers[0], f"/guest?{back}", {"name": "Someone Else"})
    assert again.status_code == 303
    second = await guest.form(servers[0], f"/polls/{poll_id}/vote", {"option_id": str(options[1])})
    assert second.status_code == 409
    assert len(await ballots(poll_id)) == 1
    results = await owner.json(servers[1], "GET", f"/api/v1/polls/{poll_id}/results")
    assert results.json()["voters"] == 1
    await asyncio.gather(owner.close(), guest.close())


async def test_with_a_network_cap_of_5_the_sixth_new_guest_ballot_is_refused(
    servers: list[Server],
) -> None:
    owner = Client()
    _, token = await sign_up(owner, servers[0])
    poll = await new_poll(owner, servers[0], token, voting="guests", guest_network_cap=5)
    poll_id, option = poll["id"], poll["options"][0]["id"]
    address = new_address()
    guests = [Client(address) for _ in range(6)]  # six browsers behind one address
    back = urlencode({"next": f"/polls/{poll_id}"})
    for n, guest in enumerate(guests):
        joined = await guest.form(servers[n % 2], f"/guest?{back}", {"name": f"G{n}"})
        assert joined.status_code == 303

    async def vote(n: int, guest: Client) -> int:
        response = await guest.form(
            servers[n % 2], f"/polls/{poll_id}/vote", {"option_id": str(option)}
        )
        return response.status_code

    # All at once, spread over both processes: the poll's lock makes the cap exact.
    statuses = await asyncio.gather(*(vote(n, guest) for n, guest in enumerate(guests)))
    assert sorted(statuses) == [303] * 5 + [429]
    assert len(await ballots(poll_id)) == 5
    await asyncio.gather(owner.close(), *(guest.close() for guest in guests))


async def test_one_invite_code_fired_ten_times_at_once_yields_one_ballot(
    servers: list[Server],
) -> None:
    owner = Client()
    _, token = await sign_up(owner, servers[0])
    poll = await new_poll(owner, servers[0], token, voting="invite_codes")
    poll_id, options = poll["id"], [o["id"] for o in poll["options"]]
    issued = await owner.json(
        servers[1],
        "POST",
        f"/api/v1/polls/{poll_id}/invite-codes",
        json={"count": 1},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert issued.status_code == 201, issued.text
    (code,) = issued.json()["codes"]
    clients = [Client() for _ in range(10)]

    async def use(n: int, client: Client) -> tuple[int, int | None]:
        server = servers[n % 2]
        redeemed = await client.json(
            server, "POST", f"/api/v1/polls/{poll_id}/invite-codes/redeem", json={"code": code}
        )
        if redeemed.status_code != 201:
            return redeemed.status_code, None
        voted = await client.json(
            server,
            "POST",
            f"/api/v1/polls/{poll_id}/votes",
            json={"option_id": options[n % 3]},
            headers={"Authorization": f"Bearer {redeemed.json()['token']}"},
        )
        return redeemed.status_code, voted.status_code

    outcomes = await asyncio.gather(*(use(n, client) for n, client in enumerate(clients)))
    assert sorted(status for status, _ in outcomes) == [201] + [409] * 9
    assert [voted for _, voted in outcomes if voted is not None] == [201]
    (ballot,) = await ballots(poll_id)
    assert ballot["kind"] == "code"
    await asyncio.gather(owner.close(), *(client.close() for client in clients))


def carries_no_counts(results: Element) -> bool:
    return all(results.find(cls=name) is None for name in ("bars", "bar-figures", "total-votes"))


async def test_the_presenter_view_and_its_live_fragments_carry_no_counts_while_hidden(
    servers: list[Server],
) -> None:
    creator = Client()
    email, token = await sign_up(creator, servers[0])
    signed_in = await creator.form(servers[0], "/signin", {"email": email, "password": PASSWORD})
    assert signed_in.status_code == 303
    poll = await new_poll(creator, servers[0], token, results_visibility="after_close")
    poll_id, option = poll["id"], poll["options"][0]["id"]
    voter = Client()
    _, voter_token = await sign_up(voter, servers[1])
    voter_auth = {"Authorization": f"Bearer {voter_token}"}

    page = await creator.page(servers[0], f"/polls/{poll_id}/present")
    assert page.status_code == 200
    presented = parse_html(page.text)
    assert carries_no_counts(presented.get("results"))
    layout = presented.find(cls="present-layout")
    assert layout is not None
    path = layout.attrs["ws-connect"]
    cookie = "; ".join(f"{name}={value}" for name, value in creator.http.cookies.items())
    ws_url = servers[1].base_url.replace("http", "ws", 1) + path
    async with connect(ws_url, additional_headers={"Cookie": cookie}, proxy=None) as ws:
        first = parse_html(str(await asyncio.wait_for(ws.recv(), 5))).get("results")
        assert carries_no_counts(first)
        response = await voter.json(
            servers[0],
            "POST",
            f"/api/v1/polls/{poll_id}/votes",
            json={"option_id": option},
            headers=voter_auth,
        )
        assert response.status_code == 201
        while True:  # the next results fragment (viewer counts may come first)
            update = parse_html(str(await asyncio.wait_for(ws.recv(), 5))).by_id("results")
            if update is not None:
                break
        assert carries_no_counts(update)
        responses = update.find(cls="total-responses")
        assert responses is not None and responses.text == "1"
    # Meanwhile the creator's own poll page has the counts.
    own = parse_html((await creator.page(servers[1], f"/polls/{poll_id}")).text)
    assert not carries_no_counts(own.get("results"))
    await asyncio.gather(creator.close(), voter.close())
