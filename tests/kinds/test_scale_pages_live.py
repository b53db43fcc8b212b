"""A rating scale on the pages (a form of radio buttons that works without JavaScript, the
htmx swap, the results partial) and on the live stream (JSON and HTML)."""

from __future__ import annotations

import asyncio
import json

from quart import Quart

from tests.helpers import next_json
from tests.pages.helpers import Browser, api_poll, api_token, bearer, next_html, signed_up

SCALE = {"points": 4, "low_label": "Cold", "high_label": "Hot"}


async def scale_poll(app: Quart, owner: Browser, **body: object) -> int:
    token = await api_token(app, "owner@example.org")
    poll = await api_poll(app, token, kind="scale", options=None, scale=SCALE, **body)
    return int(poll["id"])


async def test_the_page_rates_without_javascript_and_shows_the_rating(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll_id = await scale_poll(app, owner)
    voter = await signed_up(app, "voter")

    page = await voter.get(f"/polls/{poll_id}")
    vote = page.dom.get("vote")
    radios = vote.find_all("input", type="radio")
    assert [radio.attrs["value"] for radio in radios] == ["1", "2", "3", "4"]
    assert "Cold" in vote.text and "Hot" in vote.text

    sent = await voter.post(f"/polls/{poll_id}/respond", {"rating": "3"})
    assert sent.status == 303
    page = await voter.get(f"/polls/{poll_id}")
    checked = [
        r.attrs["value"]
        for r in page.dom.get("vote").find_all("input", type="radio")
        if "checked" in r.attrs
    ]
    assert checked == ["3"]
    results = page.dom.get("results")
    assert "3.00" in results.text  # the average of one rating of 3
    assert "1 rating" in results.text


async def test_a_bad_rating_on_the_page_says_why_and_changes_nothing(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll_id = await scale_poll(app, owner)
    voter = await signed_up(app, "voter")
    page = await voter.post(f"/polls/{poll_id}/respond", {"rating": "9"})
    assert page.status == 422
    assert "from 1 to 4" in page.dom.get("vote").text
    page = await voter.post(f"/polls/{poll_id}/respond", {"rating": "3"}, htmx=True)
    assert page.status == 200 and not page.is_full_page
    withdrawn = await voter.post(f"/polls/{poll_id}/respond/withdraw", {}, htmx=True)
    assert withdrawn.status == 200
    assert "1 rating" not in (withdrawn.dom.get("results").text)


async def test_the_live_stream_carries_each_rating(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll_id = await scale_poll(app, owner)
    await signed_up(app, "voter")
    token = await api_token(app, "voter@example.org")
    client = app.test_client()
    async with client.websocket(f"/api/v1/polls/{poll_id}/live") as ws:
        first = await next_json(ws, "results")
        assert first["kind"] == "scale" and first["detail"]["responses"] == 0
        sent = await client.put(
            f"/api/v1/polls/{poll_id}/response", json={"rating": 4}, headers=bearer(token)
        )
        assert sent.status_code == 201
        while True:
            message = await next_json(ws, "results")
            if message["seq"] > first["seq"]:
                break
        assert [b["count"] for b in message["detail"]["histogram"]] == [0, 0, 0, 1]
        assert message["detail"]["average"] == 4.0
    async with client.websocket(f"/api/v1/polls/{poll_id}/live?format=html") as ws:
        results = await next_html(ws, "results")
        assert "4.00" in results.text


async def test_hidden_results_stay_hidden_on_the_stream(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll_id = await scale_poll(app, owner, results_visibility="after_close")
    await signed_up(app, "voter")
    token = await api_token(app, "voter@example.org")
    client = app.test_client()
    sent = await client.put(
        f"/api/v1/polls/{poll_id}/response", json={"rating": 2}, headers=bearer(token)
    )
    assert sent.status_code == 201
    async with client.websocket(f"/api/v1/polls/{poll_id}/live") as ws:
        message = json.loads(await asyncio.wait_for(ws.receive(), 3))
        while message["type"] != "results":
            message = json.loads(await asyncio.wait_for(ws.receive(), 3))
        assert message["detail"] is None and message["responses"] == 1


async def test_the_new_poll_form_makes_a_scale_and_names_a_bad_setting(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    form = await owner.get("/polls/new")
    kinds = [o.attrs["value"] for o in form.dom.get("kind").find_all("option")]
    assert kinds[:2] == ["choice", "scale"]
    fields = [
        ("question", "How was the talk?"),
        ("kind", "scale"),
        ("options", "left over from choice"),  # not sent on for a scale
        ("scale_points", "12"),
        ("scale_low", "Dull"),
        ("scale_high", "Brilliant"),
        ("results_visibility", "always"),
        ("voting", "accounts"),
        ("action", "publish"),
    ]
    page = await owner.post("/polls", fields)
    assert page.status == 422
    assert page.dom.get("scale_points") is not None
    assert "10" in page.text  # the error says the bound
    fields[3] = ("scale_points", "3")
    page = await owner.post("/polls", fields)
    assert page.status == 303, page.text
    poll = await owner.get(page.location)
    radios = poll.dom.get("vote").find_all("input", type="radio")
    assert [radio.attrs["value"] for radio in radios] == ["1", "2", "3"]
    assert "Brilliant" in poll.dom.get("vote").text
