"""A ranking on the pages (a form of one select per place that works without JavaScript,
the htmx swap, the results partial with its explanation, the script only on ranking polls)
and on the live stream (JSON and HTML)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from quart import Quart

from tests.helpers import next_json
from tests.pages.helpers import (
    Browser,
    Element,
    api_poll,
    api_token,
    bearer,
    next_html,
    signed_up,
)

OPTIONS = ["Red", "Green", "Blue"]


async def ranking_poll(app: Quart, owner: Browser, **body: object) -> dict[str, Any]:
    token = await api_token(app, "owner@example.org")
    return await api_poll(app, token, kind="ranking", options=OPTIONS, **body)


def option_ids(poll: dict[str, Any]) -> list[int]:
    return [int(option["id"]) for option in poll["options"]]


def selected(vote: Element) -> list[str]:
    """The option chosen in each place's select, first place first."""
    selects = vote.find_all("select")
    return [
        next(o.attrs["value"] for o in select.find_all("option") if "selected" in o.attrs)
        for select in selects
    ]


async def test_the_page_ranks_without_javascript_and_shows_the_ranking(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll = await ranking_poll(app, owner)
    red, green, blue = option_ids(poll)
    voter = await signed_up(app, "voter")

    page = await voter.get(f"/polls/{poll['id']}")
    vote = page.dom.get("vote")
    selects = vote.find_all("select")
    assert [select.attrs["name"] for select in selects] == ["rank_1", "rank_2", "rank_3"]
    assert all(len(select.find_all("option")) == 3 for select in selects)
    assert selected(vote) == [str(red), str(green), str(blue)]  # the poll's order to start
    assert page.dom.find("script", src="/static/js/ranking.js") is not None

    sent = await voter.post(
        f"/polls/{poll['id']}/respond",
        {"rank_1": str(blue), "rank_2": str(red), "rank_3": str(green)},
    )
    assert sent.status == 303
    page = await voter.get(f"/polls/{poll['id']}")
    vote = page.dom.get("vote")
    assert selected(vote) == [str(blue), str(red), str(green)]
    assert vote.get("withdraw-response") is not None
    results = page.dom.get("results")
    rows = results.find_all("li", cls="bar-row")
    assert [row.attrs["data-option-id"] for row in rows] == [str(blue), str(red), str(green)]
    assert [row.attrs["data-points"] for row in rows] == ["2", "1", "0"]
    assert "points to its first choice" in results.text
    assert "1 ranking" in results.text


async def test_a_bad_ranking_on_the_page_says_why_and_changes_nothing(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll = await ranking_poll(app, owner)
    red, green, blue = option_ids(poll)
    voter = await signed_up(app, "voter")
    twice = {"rank_1": str(red), "rank_2": str(red), "rank_3": str(blue)}
    page = await voter.post(f"/polls/{poll['id']}/respond", twice)
    assert page.status == 422
    assert "a second time" in page.dom.get("vote").text
    missing = {"rank_1": str(red), "rank_2": str(green)}
    page = await voter.post(f"/polls/{poll['id']}/respond", missing, htmx=True)
    assert "missing" in page.dom.get("vote").text
    junk = {"rank_1": str(red), "rank_2": "green", "rank_3": str(blue)}
    page = await voter.post(f"/polls/{poll['id']}/respond", junk, htmx=True)
    assert "option id" in page.dom.get("vote").text
    page = await voter.get(f"/polls/{poll['id']}")
    assert "0 rankings" in page.dom.get("results").text

    good = {"rank_1": str(green), "rank_2": str(blue), "rank_3": str(red)}
    page = await voter.post(f"/polls/{poll['id']}/respond", good, htmx=True)
    assert page.status == 200 and not page.is_full_page
    assert "1 ranking" in page.dom.get("results").text
    withdrawn = await voter.post(f"/polls/{poll['id']}/respond/withdraw", {}, htmx=True)
    assert withdrawn.status == 200
    assert "0 rankings" in withdrawn.dom.get("results").text
    assert withdrawn.dom.get("vote").by_id("withdraw-response") is None


async def test_other_kinds_pages_do_not_load_the_ranking_script(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    token = await api_token(app, "owner@example.org")
    poll = await api_poll(app, token)
    page = await owner.get(f"/polls/{poll['id']}")
    assert page.dom.find("script", src="/static/js/ranking.js") is None
    script = await app.test_client().get("/static/js/ranking.js")
    assert script.status_code == 200


async def test_the_live_stream_carries_each_ranking(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll = await ranking_poll(app, owner)
    red, green, blue = option_ids(poll)
    await signed_up(app, "voter")
    token = await api_token(app, "voter@example.org")
    client = app.test_client()
    async with client.websocket(f"/api/v1/polls/{poll['id']}/live") as ws:
        first = await next_json(ws, "results")
        assert first["kind"] == "ranking" and first["detail"]["rankings"] == 0
        sent = await client.put(
            f"/api/v1/polls/{poll['id']}/response",
            json={"order": [green, red, blue]},
            headers=bearer(token),
        )
        assert sent.status_code == 201
        while True:
            message = await next_json(ws, "results")
            if message["seq"] > first["seq"]:
                break
        assert [o["id"] for o in message["detail"]["options"]] == [green, red, blue]
        assert [o["points"] for o in message["detail"]["options"]] == [2, 1, 0]
    async with client.websocket(f"/api/v1/polls/{poll['id']}/live?format=html") as ws:
        results = await next_html(ws, "results")
        rows = results.find_all("li", cls="bar-row")
        assert [row.attrs["data-option-id"] for row in rows] == [str(green), str(red), str(blue)]
        assert "1 ranking" in results.text


async def test_hidden_rankings_stay_hidden_on_the_stream(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll = await ranking_poll(app, owner, results_visibility="after_close")
    await signed_up(app, "voter")
    token = await api_token(app, "voter@example.org")
    client = app.test_client()
    sent = await client.put(
        f"/api/v1/polls/{poll['id']}/response",
        json={"order": option_ids(poll)},
        headers=bearer(token),
    )
    assert sent.status_code == 201
    async with client.websocket(f"/api/v1/polls/{poll['id']}/live") as ws:
        message = json.loads(await asyncio.wait_for(ws.receive(), 3))
        while message["type"] != "results":
            message = json.loads(await asyncio.wait_for(ws.receive(), 3))
        assert message["detail"] is None and message["responses"] == 1


async def test_the_presenter_view_shows_the_points_and_how_they_were_counted(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll = await ranking_poll(app, owner)
    red, green, blue = option_ids(poll)
    await signed_up(app, "voter")
    token = await api_token(app, "voter@example.org")
    sent = await app.test_client().put(
        f"/api/v1/polls/{poll['id']}/response",
        json={"order": [blue, green, red]},
        headers=bearer(token),
    )
    assert sent.status_code == 201
    page = await owner.get(f"/polls/{poll['id']}/present")
    assert page.status == 200
    results = page.dom.get("results")
    rows = results.find_all("li", cls="bar-row")
    assert [row.attrs["data-option-id"] for row in rows] == [str(blue), str(green), str(red)]
    assert results.find(cls="ranking-explanation") is not None


async def test_an_events_audience_page_ranks_with_the_selects_and_comes_back(app: Quart) -> None:
    await signed_up(app, "owner")
    token = await api_token(app, "owner@example.org")
    client = app.test_client()
    made = await client.post(
        "/api/v1/events", json={"title": "A talk", "mode": "self_paced"}, headers=bearer(token)
    )
    assert made.status_code == 201, await made.get_data(as_text=True)
    event = await made.get_json()
    body = {"question": "Which first?", "kind": "ranking", "options": OPTIONS}
    added = await client.post(
        f"/api/v1/events/{event['id']}/polls",
        json={**body, "is_published": True},
        headers=bearer(token),
    )
    assert added.status_code == 201, await added.get_data(as_text=True)
    poll_id = (await added.get_json())["questions"][0]["poll_id"]
    poll = await (await client.get(f"/api/v1/polls/{poll_id}", headers=bearer(token))).get_json()
    red, green, blue = option_ids(poll)
    voter = await signed_up(app, "voter")
    audience = f"/e/{event['join_code']}"
    page = await voter.get(audience)
    vote = page.dom.get("vote")
    assert [s.attrs["name"] for s in vote.find_all("select")] == ["rank_1", "rank_2", "rank_3"]
    form = vote.find("form", cls="ranking-form")
    assert form is not None and f"next={audience}" in form.attrs["action"].replace("%2F", "/")
    sent = await voter.post(
        form.attrs["action"], {"rank_1": str(green), "rank_2": str(blue), "rank_3": str(red)}
    )
    assert sent.status == 303 and sent.location.startswith(audience)
    page = await voter.get(audience)
    assert selected(page.dom.get("vote")) == [str(green), str(blue), str(red)]
