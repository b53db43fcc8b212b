"""The live WebSocket through Quart's test client, on the configured database."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from quart import Quart
from quart.testing.connections import WebsocketDisconnectError
from quart.typing import TestClientProtocol as Client

from tests.conftest import TEST_SETTINGS, MakeMember, MakePoll, Member
from tests.helpers import break_the_hub, next_json, vote
from webapp import create_app


def live(poll_id: int) -> str:
    return f"/api/v1/polls/{poll_id}/live"


async def close_code(ws: Any, wait: float = 3.0) -> int:
    with pytest.raises(WebsocketDisconnectError) as closed:
        while True:
            await asyncio.wait_for(ws.receive(), wait)
    return int(closed.value.args[0])


async def vote_for(client: Client, member: Member, poll: dict[str, Any], index: int) -> None:
    response = await vote(client, member, poll["id"], poll["options"][index]["id"])
    assert response.status_code in (200, 201)


async def test_a_snapshot_arrives_on_connect(
    client: Client, make_member: MakeMember, make_poll: MakePoll
) -> None:
    poll = await make_poll(await make_member())
    async with client.websocket(live(poll["id"])) as ws:
        first = json.loads(await asyncio.wait_for(ws.receive(), 3))
    # The API's own results, with the message's type in front.
    api = await client.get(f"/api/v1/polls/{poll['id']}/results")
    assert first == {"type": "results", **(await api.get_json())}
    assert list(first)[0] == "type"
    assert first == {
        "type": "results",
        "poll_id": poll["id"],
        "seq": 0,
        "options": [
            {"id": option["id"], "text": option["text"], "votes": 0, "percent": 0}
            for option in poll["options"]
        ],
        "total_votes": 0,
        "voters": 0,
        "closed": False,
        "visible": True,
        "responses": 0,
        "audience_sees": True,
        "kind": "choice",
        "detail": None,
    }


async def test_vote_change_and_withdrawal_each_push_an_update_with_growing_seq(
    client: Client, make_member: MakeMember, make_poll: MakePoll
) -> None:
    owner = await make_member()
    poll = await make_poll(owner)
    async with client.websocket(live(poll["id"])) as ws:
        start = await next_json(ws, "results")
        await vote_for(client, owner, poll, 0)
        voted = await next_json(ws, "results")
        await vote_for(client, owner, poll, 1)
        changed = await next_json(ws, "results")
        response = await client.delete(f"/api/v1/polls/{poll['id']}/votes", headers=owner.auth)
        assert response.status_code == 204
        withdrawn = await next_json(ws, "results")
    assert start["seq"] < voted["seq"] < changed["seq"] < withdrawn["seq"]
    assert [o["votes"] for o in voted["options"]] == [1, 0, 0]
    assert [o["votes"] for o in changed["options"]] == [0, 1, 0]
    assert withdrawn["total_votes"] == 0 and withdrawn["voters"] == 0


async def test_viewers_are_counted(
    client: Client, make_member: MakeMember, make_poll: MakePoll
) -> None:
    poll = await make_poll(await make_member())
    async with client.websocket(live(poll["id"])) as first:
        assert (await next_json(first, "viewers"))["count"] == 1
        async with client.websocket(live(poll["id"])) as second:
            await next_json(second, "results")
            assert (await next_json(first, "viewers"))["count"] == 2


async def test_closing_pushes_a_poll_message_and_closed_results(
    client: Client, make_member: MakeMember, make_poll: MakePoll
) -> None:
    owner = await make_member()
    poll = await make_poll(owner)
    async with client.websocket(live(poll["id"])) as ws:
        await next_json(ws, "results")
        response = await client.patch(
            f"/api/v1/polls/{poll['id']}", json={"closed": True}, headers=owner.auth
        )
        assert response.status_code == 200
        poll_message = await next_json(ws, "poll")
        results = await next_json(ws, "results")
    assert poll_message["closed"] is True and poll_message["closed_at"]
    assert results["closed"] is True


async def test_deleting_the_poll_sends_deleted_and_closes_normally(
    client: Client, make_member: MakeMember, make_poll: MakePoll
) -> None:
    owner = await make_member()
    poll = await make_poll(owner)
    async with client.websocket(live(poll["id"])) as ws:
        await next_json(ws, "results")
        response = await client.delete(f"/api/v1/polls/{poll['id']}", headers=owner.auth)
        assert response.status_code == 204
        await next_json(ws, "deleted")
        assert await close_code(ws) == 1000


async def test_a_draft_streams_to_its_creator_only(
    client: Client, make_member: MakeMember, make_poll: MakePoll
) -> None:
    owner, other = await make_member(), await make_member()
    draft = await make_poll(owner, is_published=False)
    async with client.websocket(live(draft["id"]), headers=owner.auth) as ws:
        assert (await next_json(ws, "results"))["poll_id"] == draft["id"]
    async with client.websocket(live(draft["id"]) + f"?token={owner.token}") as ws:
        assert (await next_json(ws, "results"))["poll_id"] == draft["id"]
    async with client.websocket(live(draft["id"]), headers=other.auth) as ws:
        assert await close_code(ws) == 4404
    async with client.websocket(live(draft["id"])) as ws:
        assert await close_code(ws) == 4404


async def test_an_unknown_poll_closes_with_4404(client: Client) -> None:
    async with client.websocket(live(424242)) as ws:
        assert await close_code(ws) == 4404


async def test_an_invalid_token_closes_with_4401(
    client: Client, make_member: MakeMember, make_poll: MakePoll
) -> None:
    poll = await make_poll(await make_member())
    async with client.websocket(live(poll["id"]) + "?token=nope") as ws:
        assert await close_code(ws) == 4401


async def test_client_messages_are_ignored_but_an_oversize_one_closes_with_1009(
    client: Client, make_member: MakeMember, make_poll: MakePoll
) -> None:
    poll = await make_poll(await make_member())
    async with client.websocket(live(poll["id"])) as ws:
        await next_json(ws, "results")
        await ws.send("hello")
        await ws.send(json.dumps({"type": "anything"}))
        await ws.send("x" * 5000)
        assert await close_code(ws) == 1009


async def _sign_up_with_cookie(client: Client, name: str) -> None:
    page = await (await client.get("/signup")).get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = await client.post(
        "/signup",
        form={
            "name": name,
            "email": f"{name}@example.org",
            "password": "correct horse",
            "csrf_token": token,
        },
    )
    assert response.status_code == 303


async def test_a_cookie_session_from_a_foreign_origin_is_refused(
    app: Any, make_member: MakeMember, make_poll: MakePoll
) -> None:
    owner = await make_member()
    draft = await make_poll(owner, is_published=False)
    browser = app.test_client()
    await _sign_up_with_cookie(browser, "cookie")
    published = await make_poll(owner)
    foreign = {"Origin": "https://evil.example", "Host": "localhost"}
    async with browser.websocket(live(published["id"]), headers=foreign) as ws:
        assert await close_code(ws) == 4403
    same_site = {"Origin": "http://localhost", "Host": "localhost"}
    async with browser.websocket(live(published["id"]), headers=same_site) as ws:
        assert (await next_json(ws, "results"))["poll_id"] == published["id"]
    async with browser.websocket(live(draft["id"]), headers=same_site) as ws:
        assert await close_code(ws) == 4404


async def test_a_flood_of_client_messages_closes_with_1008(
    client: Client, make_member: MakeMember, make_poll: MakePoll
) -> None:
    poll = await make_poll(await make_member())
    async with client.websocket(live(poll["id"])) as ws:
        await next_json(ws, "results")
        for n in range(200):
            await ws.send(f"message {n}")
        assert await close_code(ws) == 1008


async def test_a_failing_stream_closes_with_1011_so_that_the_client_reconnects(
    app: Quart,
    client: Client,
    make_member: MakeMember,
    make_poll: MakePoll,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through Quart's own WebSocket handling (its test client), where a task reads."""
    poll = await make_poll(await make_member())

    break_the_hub(app, monkeypatch)
    async with client.websocket(live(poll["id"])) as ws:
        assert await close_code(ws) == 1011


def test_the_screen_lets_a_burst_pass_then_refills_and_refuses_an_oversize_message() -> None:
    from webapp.live.routes import CLOSE_POLICY, CLOSE_TOO_BIG, MAX_INCOMING, Screen

    screen = Screen(burst=3, per_second=1.0)
    flood = (CLOSE_POLICY, "too many messages")
    assert [screen("m") for _ in range(4)] == [None, None, None, flood]
    screen.at -= 2.0  # two seconds later, as far as the bucket knows
    assert [screen(b"m") for _ in range(3)] == [None, None, flood]
    screen.at -= 1.0
    # Bytes, not characters: 513 two-byte characters are over 1,024.
    assert screen("é" * (MAX_INCOMING // 2 + 1)) == (CLOSE_TOO_BIG, "message too big")
    assert screen("é" * (MAX_INCOMING // 2)) is None


async def test_with_allowed_origins_set_only_the_listed_origins_may_ride_on_the_cookie(
    monkeypatch: pytest.MonkeyPatch, make_member: MakeMember, make_poll: MakePoll
) -> None:
    """LIVEPOLLS_ALLOWED_ORIGINS replaces the same-host rule: an origin not in the list is
    refused even when it matches the Host header."""
    monkeypatch.setenv(
        "LIVEPOLLS_ALLOWED_ORIGINS", " https://polls.example/ ,https://other.example"
    )
    app = create_app(TEST_SETTINGS)
    async with app.test_app():
        browser = app.test_client()
        await _sign_up_with_cookie(browser, "cookie")
        poll = await make_poll(await make_member())
        for origin, host in [
            ("https://evil.example", "polls.example"),
            ("https://evil.example", "evil.example"),
            ("http://polls.example", "polls.example"),  # another scheme: another origin
            ("https://polls.example.evil.example", "polls.example"),
        ]:
            headers = {"Origin": origin, "Host": host}
            async with browser.websocket(live(poll["id"]), headers=headers) as ws:
                assert await close_code(ws) == 4403, origin
        for origin in ("https://polls.example", "https://other.example"):
            headers = {"Origin": origin, "Host": "polls.example"}
            async with browser.websocket(live(poll["id"]), headers=headers) as ws:
                assert (await next_json(ws, "results"))["poll_id"] == poll["id"], origin
