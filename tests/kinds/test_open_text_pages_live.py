"""Open text on the pages (a textarea form that works without JavaScript, the htmx swap,
the results list, the owner's moderation queue) and on the live stream (JSON and HTML)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from quart import Quart

from tests.helpers import next_json
from tests.pages.helpers import Browser, Element, api_poll, api_token, bearer, next_html, signed_up
from webapp.tables import Poll


async def open_text_poll(app: Quart, owner: Browser, **body: object) -> int:
    token = await api_token(app, "owner@example.org")
    poll = await api_poll(app, token, kind="open_text", options=None, **body)
    return int(poll["id"])


async def answer_ids(poll_id: int) -> list[int]:
    rows = await Poll.raw("SELECT id FROM text_answer WHERE poll = {} ORDER BY id", poll_id)
    return [int(row["id"]) for row in rows]


def found(element: Element | None) -> Element:
    assert element is not None
    return element


def shown(results: Any) -> list[str]:
    return [li.text.strip() for li in results.find_all("li", cls="open-text-answer")]


async def test_the_page_answers_without_javascript_and_shows_the_answer(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll_id = await open_text_poll(app, owner)
    voter = await signed_up(app, "voter")

    page = await voter.get(f"/polls/{poll_id}")
    vote = page.dom.get("vote")
    assert vote.find("textarea", name="text") is not None
    assert page.dom.by_id("answers-queue") is None  # the queue is the owner's

    sent = await voter.post(f"/polls/{poll_id}/respond", {"text": "Longer breaks\r\nplease"})
    assert sent.status == 303
    page = await voter.get(f"/polls/{poll_id}")
    vote = page.dom.get("vote")
    assert "Longer breaks" in found(vote.find("textarea", name="text")).text
    assert found(vote.find("p", cls="your-answer")).attrs["data-state"] == "shown"
    assert vote.by_id("withdraw-response") is not None
    assert shown(page.dom.get("results")) == ["Longer breaksplease"]  # a <br> between
    assert page.dom.get("results").find("br") is not None


async def test_a_bad_answer_on_the_page_says_why_and_changes_nothing(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll_id = await open_text_poll(app, owner)
    voter = await signed_up(app, "voter")
    page = await voter.post(f"/polls/{poll_id}/respond", {"text": "  \u200b "})
    assert page.status == 422
    assert "must not be empty" in page.dom.get("vote").text
    assert await answer_ids(poll_id) == []
    page = await voter.post(f"/polls/{poll_id}/respond", {"text": "x" * 1001})
    assert page.status == 422 and await answer_ids(poll_id) == []

    page = await voter.post(f"/polls/{poll_id}/respond", {"text": "Fine"}, htmx=True)
    assert page.status == 200 and not page.is_full_page
    assert shown(page.dom.get("results")) == ["Fine"]
    withdrawn = await voter.post(f"/polls/{poll_id}/respond/withdraw", {}, htmx=True)
    assert withdrawn.status == 200
    assert shown(withdrawn.dom.get("results")) == []
    assert await answer_ids(poll_id) == []


async def test_the_owner_approves_and_hides_from_the_queue_on_the_poll_page(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll_id = await open_text_poll(app, owner, premoderated=True)
    voter, other = await signed_up(app, "voter"), await signed_up(app, "other")
    await voter.post(f"/polls/{poll_id}/respond", {"text": "Wait for me"})
    page = await voter.get(f"/polls/{poll_id}")
    assert found(page.dom.get("vote").find("p", cls="your-answer")).attrs["data-state"] == "pending"
    assert shown(page.dom.get("results")) == []
    assert shown((await other.get(f"/polls/{poll_id}")).dom.get("results")) == []

    (answer_id,) = await answer_ids(poll_id)
    refused = await other.post(f"/polls/{poll_id}/answers/{answer_id}/show")
    assert refused.status == 403
    queue = (await owner.get(f"/polls/{poll_id}")).dom.get("answers-queue")
    item = queue.find("li", cls="queue-item")
    assert item is not None and item.attrs["data-state"] == "pending"
    assert "Wait for me" in item.text and "Approve" in item.text

    approved = await owner.post(f"/polls/{poll_id}/answers/{answer_id}/show")
    assert approved.status == 303
    assert shown((await other.get(f"/polls/{poll_id}")).dom.get("results")) == ["Wait for me"]
    presenter = await owner.get(f"/polls/{poll_id}/present")
    assert presenter.status == 200 and shown(presenter.dom.get("results")) == ["Wait for me"]
    hidden = await owner.post(f"/polls/{poll_id}/answers/{answer_id}/hide")
    assert hidden.status == 303
    assert shown((await other.get(f"/polls/{poll_id}")).dom.get("results")) == []
    queue = (await owner.get(f"/polls/{poll_id}")).dom.get("answers-queue")
    assert found(queue.find("li", cls="queue-item")).attrs["data-state"] == "hidden"
    missing = await owner.post(f"/polls/{poll_id}/answers/{answer_id + 100}/show")
    assert missing.status == 404


async def test_the_live_stream_carries_each_answer_and_an_approval(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll_id = await open_text_poll(app, owner, premoderated=True)
    await signed_up(app, "voter")
    voter_token = await api_token(app, "voter@example.org")
    owner_token = await api_token(app, "owner@example.org")
    client = app.test_client()
    async with client.websocket(f"/api/v1/polls/{poll_id}/live") as ws:
        first = await next_json(ws, "results")
        assert first["kind"] == "open_text" and first["detail"]["answers"] == []
        sent = await client.put(
            f"/api/v1/polls/{poll_id}/response",
            json={"text": "Hi all"},
            headers=bearer(voter_token),
        )
        assert sent.status_code == 201
        seq = first["seq"]
        while True:
            message = await next_json(ws, "results")
            if message["seq"] > seq:
                break
        assert message["detail"]["answers"] == [] and message["responses"] == 1
        (answer_id,) = await answer_ids(poll_id)
        approved = await client.patch(
            f"/api/v1/polls/{poll_id}/answers/{answer_id}",
            json={"state": "shown"},
            headers=bearer(owner_token),
        )
        assert approved.status_code == 200
        seq = message["seq"]
        while True:
            message = await next_json(ws, "results")
            if message["seq"] > seq:
                break
        assert [a["text"] for a in message["detail"]["answers"]] == ["Hi all"]
    async with client.websocket(f"/api/v1/polls/{poll_id}/live?format=html") as ws:
        results = await next_html(ws, "results")
        assert shown(results) == ["Hi all"]


async def test_hidden_results_stay_hidden_on_the_stream(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll_id = await open_text_poll(app, owner, results_visibility="after_close")
    await signed_up(app, "voter")
    token = await api_token(app, "voter@example.org")
    client = app.test_client()
    sent = await client.put(
        f"/api/v1/polls/{poll_id}/response", json={"text": "secret"}, headers=bearer(token)
    )
    assert sent.status_code == 201
    async with client.websocket(f"/api/v1/polls/{poll_id}/live") as ws:
        message = json.loads(await asyncio.wait_for(ws.receive(), 3))
        while message["type"] != "results":
            message = json.loads(await asyncio.wait_for(ws.receive(), 3))
        assert message["detail"] is None and message["responses"] == 1


async def test_a_premoderated_poll_is_made_through_the_form_and_switched_off(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    fields = {
        "question": "What should we change?",
        "kind": "open_text",
        "premoderated": "on",
        "results_visibility": "always",
        "voting": "accounts",
        "action": "publish",
    }
    made = await owner.post("/polls", fields)
    assert made.status == 303, made.text
    poll_id = int(made.location.rstrip("/").split("/")[-1])
    page = await owner.get(f"/polls/{poll_id}")
    assert page.dom.get("vote").find("textarea", name="text") is not None
    assert "approval" in page.dom.get("answers-queue").text
    switched = await owner.post(f"/polls/{poll_id}/premoderated", {"premoderated": "0"})
    assert switched.status == 303
    voter = await signed_up(app, "voter")
    await voter.post(f"/polls/{poll_id}/respond", {"text": "At once"})
    assert shown((await owner.get(f"/polls/{poll_id}")).dom.get("results")) == ["At once"]
    refused = await voter.post(f"/polls/{poll_id}/premoderated", {"premoderated": "1"})
    assert refused.status == 403


async def test_an_answer_is_shown_as_text_never_as_markup(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll_id = await open_text_poll(app, owner)
    voter = await signed_up(app, "voter")
    await voter.post(f"/polls/{poll_id}/respond", {"text": "<script>alert(1)</script>"})
    page = await owner.get(f"/polls/{poll_id}")
    assert "<script>alert(1)" not in page.text
    assert "&lt;script&gt;alert(1)" in page.text
    assert shown(page.dom.get("results")) == ["<script>alert(1)</script>"]
