"""Events in one process: the live event stream (current question, then its results), join
codes, and what the domain refuses."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from quart.testing.connections import WebsocketDisconnectError
from quart.typing import TestClientProtocol as Client

from tests.api.test_events import EVENTS, add_new_question, make_event
from tests.clocks import install
from tests.conftest import MakeMember
from tests.helpers import next_json, vote
from webapp import event_touch, notices, schedule
from webapp.live.event_snapshots import current_poll_of


def event_live(event_id: int, query: str = "") -> str:
    return f"{EVENTS}/{event_id}/live{query}"


async def next_html(ws: Any, marker: str, wait: float = 3.0) -> str:
    """The next HTML message holding `marker`, skipping others (viewer counts)."""
    while True:
        message = str(await asyncio.wait_for(ws.receive(), wait))
        if marker in message:
            return message


async def three_questions(client: Client, member: Any) -> dict[str, Any]:
    event = await make_event(client, member)
    for text in ("One?", "Two?", "Three?"):
        event = await add_new_question(client, member, event["id"], text)
    return event


async def move(client: Client, member: Any, event_id: int, **body: Any) -> dict[str, Any]:
    response = await client.put(f"{EVENTS}/{event_id}/current", json=body, headers=member.auth)
    assert response.status_code == 200, await response.get_data(as_text=True)
    return dict(await response.get_json())


async def test_the_stream_follows_the_current_question_and_its_results(
    client: Client, make_member: MakeMember
) -> None:
    alice, bob = await make_member("alice"), await make_member("bob")
    event = await three_questions(client, alice)
    ids = [q["poll_id"] for q in event["questions"]]

    async with client.websocket(event_live(event["id"])) as ws:
        first = await next_json(ws, "event")
        assert first["current"] is None and first["current_poll"] == 0
        assert first["questions"] == 3 and first["join_code"] == event["join_code"]
        assert "server_time" in first
        for number, poll_id in enumerate(ids, 1):
            await move(client, alice, event["id"], move="next")
            message = await next_json(ws, "event")
            assert message["current"]["poll_id"] == poll_id
            assert message["current"]["number"] == number
            results = await next_json(ws, "results")
            assert results["poll_id"] == poll_id and results["total_votes"] == 0
            poll = await (await client.get(f"/api/v1/polls/{poll_id}")).get_json()
            response = await vote(client, bob, poll_id, poll["options"][0]["id"])
            assert response.status_code == 201
            counted = await next_json(ws, "results")
            assert counted["poll_id"] == poll_id and counted["total_votes"] == 1
        await move(client, alice, event["id"], poll_id=None)
        assert (await next_json(ws, "event"))["current"] is None


async def test_the_html_stream_swaps_in_the_question_and_fetches_the_voting_block(
    client: Client, make_member: MakeMember
) -> None:
    alice = await make_member("alice")
    event = await three_questions(client, alice)
    first_poll = event["questions"][0]["poll_id"]

    async with client.websocket(event_live(event["id"], "?format=html")) as ws:
        waiting = await next_html(ws, 'id="event-current"')
        assert 'data-current-poll="0"' in waiting
        await move(client, alice, event["id"], move="next")
        moved = await next_html(ws, 'id="event-current"')
        results = await next_html(ws, 'id="results"')
    assert f'data-current-poll="{first_poll}"' in moved and "One?" in moved
    block = f"/e/{event['join_code']}/questions/{first_poll}/vote-block"
    assert f'hx-get="{block}"' in moved
    fetched = await client.get(block)
    assert fetched.status_code == 200
    # Its sign-in links bring the person back to the event, not to the block's own URL.
    assert f'next=/e/{event["join_code"]}"' in await fetched.get_data(as_text=True)
    assert 'id="results"' in results and 'id="poll-status"' in results


async def test_an_unknown_event_closes_with_4404(client: Client) -> None:
    async with client.websocket(event_live(999_999)) as ws:
        with pytest.raises(WebsocketDisconnectError) as closed:
            await asyncio.wait_for(ws.receive(), 3)
    assert closed.value.args[0] == 4404


async def test_a_deleted_event_says_so_and_closes(client: Client, make_member: MakeMember) -> None:
    alice = await make_member("alice")
    event = await make_event(client, alice)
    async with client.websocket(event_live(event["id"])) as ws:
        await next_json(ws, "event")
        response = await client.delete(f"{EVENTS}/{event['id']}", headers=alice.auth)
        assert response.status_code == 204
        await next_json(ws, "event_deleted")
        with pytest.raises(WebsocketDisconnectError) as closed:
            await asyncio.wait_for(ws.receive(), 3)
    assert closed.value.args[0] == 1000


def test_current_poll_is_read_back_from_both_formats() -> None:
    assert current_poll_of('{"current_poll":12,"type":"event"}', "json") == 12
    assert current_poll_of('{"current_poll":0,"type":"event"}', "json") == 0
    assert current_poll_of('<div data-current-poll="7">', "html") == 7
    assert current_poll_of("<div>", "html") is None


async def test_join_codes_open_events_as_well_as_polls(
    client: Client, make_member: MakeMember
) -> None:
    alice = await make_member("alice")
    event = await make_event(client, alice)
    code = event["join_code"]
    for url in (f"/j/{code}", f"/join?code={code.lower()}", f"/join?code={code[:3]}-{code[3:]}"):
        response = await client.get(url)
        assert response.status_code == 303, url
        assert response.headers["Location"].endswith(f"/e/{code}")
    assert (await client.get("/j/ZZZZZZZ")).status_code == 404


async def test_an_advance_reaches_json_and_html_viewers_alike(
    client: Client, make_member: MakeMember
) -> None:
    alice = await make_member("alice")
    event = await three_questions(client, alice)
    async with (
        client.websocket(event_live(event["id"])) as phone,
        client.websocket(event_live(event["id"], "?format=html&view=audience")) as screen,
    ):
        await next_json(phone, "event")
        await next_html(screen, 'id="event-current"')
        await move(client, alice, event["id"], move="next")
        message = await next_json(phone, "event")
        html = await next_html(screen, 'id="event-current"')
    assert f'data-current-poll="{message["current"]["poll_id"]}"' in html


async def test_the_demo_creates_a_sample_event_once(app: Any, client: Client) -> None:
    from webapp.demo import DEMO_EVENT_QUESTIONS, ensure_demo

    first = await ensure_demo(app.extensions["passwords"])
    second = await ensure_demo(app.extensions["passwords"])

    assert second.event.id == first.event.id
    assert [q.question for q in first.event.questions] == [q for q, _, _ in DEMO_EVENT_QUESTIONS]
    assert all(q.is_published for q in first.event.questions)
    response = await client.get(f"/j/{first.event.join_code}")
    assert response.status_code == 303


async def test_the_scheduler_closing_the_current_question_tells_the_events_screens(
    client: Client, make_member: MakeMember, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A countdown ends with nobody pressing anything: the scheduler closes the question
    and the event's stream says so (`current.closed`), as a close by hand does."""
    alice = await make_member("alice")
    event = await three_questions(client, alice)
    await move(client, alice, event["id"], move="next")
    url = f"{EVENTS}/{event['id']}/countdown"
    assert (await client.post(url, json={"seconds": 30}, headers=alice.auth)).status_code == 200
    clock = install(monkeypatch, datetime.now(UTC))
    async with client.websocket(event_live(event["id"])) as ws:
        before = await next_json(ws, "event")
        assert before["current"]["closed"] is False
        clock.move(31)
        assert await schedule.run_due() == [event["questions"][0]["poll_id"]]
        after = await next_json(ws, "event")
        assert after["current"]["closed"] is True and after["seq"] == before["seq"] + 1


async def test_an_event_the_scheduler_could_not_tell_is_told_by_its_next_round(
    client: Client, make_member: MakeMember, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The question is closed and will not be due again; the event's own transaction
    failed (the database went away between the two): the next round tells it."""
    alice = await make_member("alice")
    event = await three_questions(client, alice)
    await move(client, alice, event["id"], move="next")
    url = f"{EVENTS}/{event['id']}/countdown"
    assert (await client.post(url, json={"seconds": 30}, headers=alice.auth)).status_code == 200
    install(monkeypatch, datetime.now(UTC) + timedelta(seconds=31))
    told: list[int] = []
    unsubscribe = notices.subscribe_events(lambda event_id, _seq: told.append(event_id))
    touch = event_touch.touch

    async def down(event_id: int) -> None:
        raise ConnectionError("the database went away")

    try:
        monkeypatch.setattr(event_touch, "touch", down)
        assert await schedule.run_due() == [event["questions"][0]["poll_id"]]
        assert told == []
        monkeypatch.setattr(event_touch, "touch", touch)
        assert await schedule.run_due() == []  # the poll is done; the event is told now
        assert told == [event["id"]]
        assert await schedule.run_due() == [] and told == [event["id"]]  # once
    finally:
        unsubscribe()
