"""A word cloud on the pages (a text field that works without JavaScript, the answers listed
with a remove button, the owner's hide buttons, the htmx swap, the SVG results partial) and
on the live stream (JSON and HTML; a hidden word gone from the next results message)."""

from __future__ import annotations

import json

from quart import Quart

from tests.helpers import next_json
from tests.pages.helpers import Browser, api_poll, api_token, bearer, next_html, signed_up


async def cloud_poll(app: Quart, owner: Browser, **body: object) -> int:
    token = await api_token(app, "owner@example.org")
    poll = await api_poll(app, token, kind="word_cloud", options=None, **body)
    return int(poll["id"])


async def test_the_page_takes_answers_without_javascript_and_lists_them(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll_id = await cloud_poll(app, owner, answers_per_person=2)
    voter = await signed_up(app, "voter")

    page = await voter.get(f"/polls/{poll_id}")
    vote = page.dom.get("vote")
    assert vote.find("input", name="answer") is not None
    assert "2 of 2 left" in vote.text
    assert vote.by_id("word-moderation") is None  # not the owner

    sent = await voter.post(f"/polls/{poll_id}/words", {"answer": "Blue Sky"})
    assert sent.status == 303
    page = await voter.get(f"/polls/{poll_id}")
    assert page.dom.get("my-word-1").text.startswith("Blue Sky")
    assert "1 of 2 left" in page.dom.get("vote").text
    results = page.dom.get("results")
    svg = results.find("svg", cls="wordcloud")
    assert svg is not None and svg.attrs["role"] == "img"
    assert [t.text for t in svg.find_all("text")] == ["Blue Sky"]
    assert "1 answer" in results.text

    await voter.post(f"/polls/{poll_id}/words", {"answer": "green"})
    full = await voter.get(f"/polls/{poll_id}")
    assert full.dom.get("vote").find("input", name="answer") is None  # both slots used
    removed = await voter.post(f"/polls/{poll_id}/words/1/remove", {}, htmx=True)
    assert removed.status == 200 and not removed.is_full_page
    assert removed.dom.by_id("my-word-1") is None
    assert removed.dom.get("my-word-2").text.startswith("green")
    words = [t.text for t in removed.dom.get("results").find_all("text")]
    assert words == ["green"]


async def test_a_bad_answer_on_the_page_says_why_and_changes_nothing(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll_id = await cloud_poll(app, owner, answers_per_person=1)
    voter = await signed_up(app, "voter")
    page = await voter.post(f"/polls/{poll_id}/words", {"answer": "?!"})
    assert page.status == 422
    assert "must contain a word" in page.dom.get("vote").text
    page = await voter.post(f"/polls/{poll_id}/words", {"answer": "x" * 60}, htmx=True)
    assert "at most 40 characters" in page.dom.get("vote").text
    await voter.post(f"/polls/{poll_id}/words", {"answer": "one"})
    over = await voter.post(f"/polls/{poll_id}/words", {"answer": "two"})
    assert over.status == 409
    page = await voter.get(f"/polls/{poll_id}")
    assert [t.text for t in page.dom.get("results").find_all("text")] == ["one"]


async def test_the_owner_hides_and_shows_a_word_from_the_page(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll_id = await cloud_poll(app, owner)
    voter = await signed_up(app, "voter")
    await voter.post(f"/polls/{poll_id}/words", {"answer": "rude"})
    await voter.post(f"/polls/{poll_id}/words", {"answer": "kind"})

    page = await owner.get(f"/polls/{poll_id}")
    moderation = page.dom.get("word-moderation")
    keys = [i.attrs["value"] for i in moderation.find_all("input", name="key")]
    assert sorted(keys) == ["kind", "rude"]
    refused = await voter.post(f"/polls/{poll_id}/words/hide", {"key": "rude", "hidden": "1"})
    assert refused.status == 403

    hidden = await owner.post(
        f"/polls/{poll_id}/words/hide", {"key": "rude", "hidden": "1"}, htmx=True
    )
    assert hidden.status == 200
    assert [t.text for t in hidden.dom.get("results").find_all("text")] == ["kind"]
    listed = hidden.dom.get("word-moderation").find_all("li")
    assert [item.classes for item in listed][0] == {"word-hidden"}  # hidden ones first
    seen = await voter.get(f"/polls/{poll_id}")
    assert "rude" not in seen.dom.get("results").text
    await owner.post(f"/polls/{poll_id}/words/hide", {"key": "rude", "hidden": "0"})
    seen = await voter.get(f"/polls/{poll_id}")
    assert sorted(t.text for t in seen.dom.get("results").find_all("text")) == ["kind", "rude"]


async def test_the_live_stream_carries_answers_and_drops_a_hidden_word(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll_id = await cloud_poll(app, owner)
    await signed_up(app, "voter")
    voter = bearer(await api_token(app, "voter@example.org"))
    owner_auth = bearer(await api_token(app, "owner@example.org"))
    client = app.test_client()
    async with client.websocket(f"/api/v1/polls/{poll_id}/live") as ws:
        first = await next_json(ws, "results")
        assert first["kind"] == "word_cloud" and first["detail"]["words"] == []
        for word in ("keep", "drop"):
            sent = await client.post(
                f"/api/v1/polls/{poll_id}/words", json={"answer": word}, headers=voter
            )
            assert sent.status_code == 201
        seq = (await sent.get_json())["seq"]
        message = await next_json(ws, "results")
        while message["seq"] < seq:
            message = await next_json(ws, "results")
        assert sorted(w["text"] for w in message["detail"]["words"]) == ["drop", "keep"]
        assert "svg" not in json.dumps(message)  # the picture is the HTML variant's
        hidden = await client.patch(
            f"/api/v1/polls/{poll_id}/words",
            json={"key": "drop", "hidden": True},
            headers=owner_auth,
        )
        assert hidden.status_code == 200
        message = await next_json(ws, "results")
        while message["seq"] <= seq:
            message = await next_json(ws, "results")
        assert message["seq"] == seq + 1
        assert [w["text"] for w in message["detail"]["words"]] == ["keep"]
    async with client.websocket(f"/api/v1/polls/{poll_id}/live?format=html") as ws:
        results = await next_html(ws, "results")
        assert [t.text for t in results.find_all("text")] == ["keep"]
        assert "drop" not in results.text


async def test_hidden_results_stay_hidden_on_the_stream(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll_id = await cloud_poll(app, owner, results_visibility="after_close")
    await signed_up(app, "voter")
    voter = bearer(await api_token(app, "voter@example.org"))
    client = app.test_client()
    sent = await client.post(
        f"/api/v1/polls/{poll_id}/words", json={"answer": "secret"}, headers=voter
    )
    assert sent.status_code == 201
    async with client.websocket(f"/api/v1/polls/{poll_id}/live") as ws:
        message = await next_json(ws, "results")
        assert message["detail"] is None and message["responses"] == 1
    async with client.websocket(f"/api/v1/polls/{poll_id}/live?format=html") as ws:
        results = await next_html(ws, "results")
        assert "secret" not in results.text


async def test_the_presenter_view_and_the_poll_lists_show_a_word_cloud(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll_id = await cloud_poll(app, owner)
    voter = await signed_up(app, "voter")
    await voter.post(f"/polls/{poll_id}/words", {"answer": "Stage"})
    present = await owner.get(f"/polls/{poll_id}/present")
    assert present.status == 200
    svg = present.dom.get("results").find("svg", cls="wordcloud")
    assert svg is not None and [t.text for t in svg.find_all("text")] == ["Stage"]
    client = app.test_client()
    auth = bearer(await api_token(app, "owner@example.org"))
    integrity = await client.get(f"/api/v1/polls/{poll_id}/integrity", headers=auth)
    assert integrity.status_code == 200
    assert (await integrity.get_json())["ballots"]["total"] == 1
    listed = await client.get("/api/v1/polls?mine=true", headers=auth)
    assert listed.status_code == 200
    home = await owner.get("/")
    assert home.status == 200
