"""Audience Q&A on the pages (the ask form and the upvote buttons work without JavaScript,
htmx swaps them in place, the owner's marks, an anonymous asker unnamed) and on the live
stream (JSON and HTML)."""

from __future__ import annotations

import json
from typing import Any

from quart import Quart

from tests.helpers import next_json
from tests.pages.helpers import Browser, Element, api_poll, api_token, bearer, next_html, signed_up


async def qa_poll(app: Quart, owner: Browser, **body: object) -> int:
    token = await api_token(app, "owner@example.org")
    poll = await api_poll(app, token, kind="qa", options=None, **body)
    return int(poll["id"])


def found(element: Element | None) -> Element:
    assert element is not None
    return element


def questions(page: Any) -> list[str]:
    items = page.dom.get("results").find_all("li", cls="qa-question")
    return [found(li.find(cls="qa-text")).text.strip() for li in items]


async def test_ask_and_upvote_without_javascript(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll_id = await qa_poll(app, owner)
    asker = await signed_up(app, "asker")
    voter = await signed_up(app, "voter")

    page = await asker.get(f"/polls/{poll_id}")
    vote = page.dom.get("vote")
    assert vote.find("textarea", name="text") is not None
    assert vote.find("input", name="anonymous") is None  # the poll does not allow it
    sent = await asker.post(f"/polls/{poll_id}/qa", {"text": "What comes next?"})
    assert sent.status == 303
    page = await voter.get(f"/polls/{poll_id}")
    assert questions(page) == ["What comes next?"]
    item = found(page.dom.get("results").find("li", cls="qa-question"))
    assert "asker" in item.text
    qid = int(str(item.id).removeprefix("qa-"))
    assert item.find("button", cls="qa-upvote") is not None
    assert item.find("form", cls="qa-owner") is None  # not the owner

    sent = await voter.post(f"/polls/{poll_id}/qa/{qid}/upvote", {})
    assert sent.status == 303
    page = await voter.get(f"/polls/{poll_id}")
    item = page.dom.get(f"qa-{qid}")
    assert "1 upvote" in item.text and "qa-upvoted" in item.classes
    assert item.find("button", cls="qa-withdraw") is not None
    mine = await asker.get(f"/polls/{poll_id}")
    own = mine.dom.get(f"qa-{qid}")
    assert own.find("button", cls="qa-upvote") is None  # not on your own question
    assert own.find("button", cls="qa-delete") is not None

    withdrawn = await voter.post(f"/polls/{poll_id}/qa/{qid}/upvote/withdraw", {}, htmx=True)
    assert withdrawn.status == 200 and not withdrawn.is_full_page
    assert "0 upvotes" in withdrawn.dom.get(f"qa-{qid}").text


async def test_a_bad_question_on_the_page_says_why_and_changes_nothing(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll_id = await qa_poll(app, owner)
    asker = await signed_up(app, "asker")
    page = await asker.post(f"/polls/{poll_id}/qa", {"text": "   "})
    assert page.status == 422
    assert "must not be empty" in page.dom.get("vote").text
    page = await asker.post(f"/polls/{poll_id}/qa", {"text": "x" * 1001}, htmx=True)
    assert page.status == 200 and "at most 1000" in page.dom.get("vote").text.replace(",", "")
    assert questions(await asker.get(f"/polls/{poll_id}")) == []


async def test_anonymous_questions_on_the_page_name_nobody(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll_id = await qa_poll(app, owner, allows_anonymous=True)
    asker = await signed_up(app, "Secretasker")
    page = await asker.get(f"/polls/{poll_id}")
    assert page.dom.get("vote").find("input", name="anonymous") is not None
    sent = await asker.post(f"/polls/{poll_id}/qa", {"text": "Who knows?", "anonymous": "1"})
    assert sent.status == 303
    for browser in (owner, asker):
        page = await browser.get(f"/polls/{poll_id}")
        assert "Anonymous" in page.dom.get("results").text
        assert "Secretasker" not in page.dom.get("results").text
    presenter = await owner.get(f"/polls/{poll_id}/present")
    assert "Secretasker" not in presenter.text


async def test_the_owner_highlights_answers_and_hides_from_the_page(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll_id = await qa_poll(app, owner)
    asker = await signed_up(app, "asker")
    await asker.post(f"/polls/{poll_id}/qa", {"text": "First?"})
    await asker.post(f"/polls/{poll_id}/qa", {"text": "Second?"})
    page = await owner.get(f"/polls/{poll_id}")
    assert "is-owner" in found(page.dom.find("body")).classes
    items = page.dom.get("results").find_all("li", cls="qa-question")
    second = int(str(items[1].id).removeprefix("qa-"))
    assert items[1].find("form", cls="qa-owner") is not None

    marked = await owner.post(
        f"/polls/{poll_id}/qa/{second}/mark", {"mark": "highlight"}, htmx=True
    )
    assert marked.status == 200
    assert found(marked.dom.get("qa-now").find(cls="qa-now-text")).text == "Second?"
    presenter = await owner.get(f"/polls/{poll_id}/present")
    assert presenter.dom.get("qa-now") is not None
    refused = await asker.post(f"/polls/{poll_id}/qa/{second}/mark", {"mark": "hide"})
    assert refused.status == 403
    bad = await owner.post(f"/polls/{poll_id}/qa/{second}/mark", {"mark": "explode"})
    assert bad.status == 422
    await owner.post(f"/polls/{poll_id}/qa/{second}/mark", {"mark": "answered"})
    page = await asker.get(f"/polls/{poll_id}")
    item = page.dom.get(f"qa-{second}")
    assert "Answered" in item.text and page.dom.get("results").by_id("qa-now") is None
    await owner.post(f"/polls/{poll_id}/qa/{second}/mark", {"mark": "hide"})
    assert questions(await asker.get(f"/polls/{poll_id}")) == ["First?"]


async def test_the_owner_approves_a_waiting_question_from_the_page(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll_id = await qa_poll(app, owner, premoderated=True)
    asker = await signed_up(app, "asker")
    sent = await asker.post(f"/polls/{poll_id}/qa", {"text": "Approve me?"})
    assert sent.status == 303
    assert questions(await asker.get(f"/polls/{poll_id}")) == []
    mine = await asker.get(f"/polls/{poll_id}")
    assert mine.dom.by_id("qa-queue") is None
    assert "1 of your questions waits for the owner's approval" in mine.dom.get("vote").text
    page = await owner.get(f"/polls/{poll_id}")
    queued = found(page.dom.get("qa-queue").find("li"))
    assert "Approve me?" in queued.text and "Waiting" in queued.text
    qid = int(str(queued.id).removeprefix("qa-queued-"))
    shown = await owner.post(f"/polls/{poll_id}/qa/{qid}/mark", {"mark": "show"}, htmx=True)
    assert shown.status == 200 and shown.dom.by_id("qa-queue") is None
    assert questions(await asker.get(f"/polls/{poll_id}")) == ["Approve me?"]


async def test_the_live_stream_carries_each_question_and_upvote(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll_id = await qa_poll(app, owner, allows_anonymous=True)
    await signed_up(app, "zelda")
    await signed_up(app, "voter")
    asker = bearer(await api_token(app, "zelda@example.org"))
    voter = bearer(await api_token(app, "voter@example.org"))
    client = app.test_client()
    async with client.websocket(f"/api/v1/polls/{poll_id}/live") as ws:
        first = await next_json(ws, "results")
        assert first["kind"] == "qa" and first["detail"]["questions"] == []
        sent = await client.post(
            f"/api/v1/polls/{poll_id}/qa", json={"text": "Live?", "anonymous": True}, headers=asker
        )
        qid = (await sent.get_json())["id"]
        while True:
            message = await next_json(ws, "results")
            if message["detail"]["questions"]:
                break
        assert message["detail"]["questions"][0]["asker"] is None
        assert "zelda" not in json.dumps(message)
        up = await client.put(f"/api/v1/polls/{poll_id}/qa/{qid}/upvote", json={}, headers=voter)
        assert up.status_code == 204
        while True:
            message = await next_json(ws, "results")
            if message["detail"]["questions"][0]["upvotes"] == 1:
                break
    async with client.websocket(f"/api/v1/polls/{poll_id}/live?format=html") as ws:
        results = await next_html(ws, "results")
        item = results.get(f"qa-{qid}")
        assert "Live?" in item.text and "1 upvote" in item.text and "Anonymous" in item.text
        # Shared by every viewer: the delete form is there on each question, hidden, for
        # static/js/qa.js to show to the one who asked it (#qa-mine on their own page).
        form = found(item.find("form", cls="qa-delete-form"))
        assert form.attrs["data-question"] == str(qid) and "hidden" in form.attrs


async def test_the_page_holds_only_your_own_ids_and_the_toggle_withdraws(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll_id = await qa_poll(app, owner)
    asker = await signed_up(app, "asker")
    voter = await signed_up(app, "voter")
    await asker.post(f"/polls/{poll_id}/qa", {"text": "Mine?"})
    page = await asker.get(f"/polls/{poll_id}")
    qid = int(str(page.dom.get("results").find_all("li", cls="qa-question")[0].id)[3:])

    voted = await voter.post(f"/polls/{poll_id}/qa/{qid}/upvote", {"up": "1"}, htmx=True)
    button = found(voted.dom.get(f"qa-{qid}").find("button", cls="qa-upvote"))
    assert button.attrs["aria-pressed"] == "true" and button.attrs["value"] == "0"
    assert voted.dom.get("qa-mine").attrs["data-upvoted"] == str(qid)
    # The asker's page holds the asker's ids only: who upvoted what stays with each viewer.
    mine = (await asker.get(f"/polls/{poll_id}")).dom.get("qa-mine")
    assert mine.attrs["data-upvoted"] == "" and mine.attrs["data-asked"] == str(qid)

    again = await voter.post(f"/polls/{poll_id}/qa/{qid}/upvote", {"up": "0"}, htmx=True)
    assert "0 upvotes" in again.dom.get(f"qa-{qid}").text
    again = await voter.post(f"/polls/{poll_id}/qa/{qid}/upvote", {"up": "0"}, htmx=True)
    assert "0 upvotes" in again.dom.get(f"qa-{qid}").text  # a repeat changes nothing
    button = found(again.dom.get(f"qa-{qid}").find("button", cls="qa-upvote"))
    assert button.attrs["aria-pressed"] == "false" and button.attrs["value"] == "1"


async def test_sort_now_with_htmx_swaps_the_results_sorted_for_this_viewer(app: Quart) -> None:
    owner = await signed_up(app, "owner")
    poll_id = await qa_poll(app, owner)
    asker = await signed_up(app, "asker")
    voter = await signed_up(app, "voter")
    for text in ("One?", "Two?", "Three?", "Four?"):
        await asker.post(f"/polls/{poll_id}/qa", {"text": text})
    page = await voter.get(f"/polls/{poll_id}")
    items = page.dom.get("results").find_all("li", cls="qa-question")
    last = int(str(items[-1].id)[3:])
    await voter.post(f"/polls/{poll_id}/qa/{last}/upvote", {})  # too small a climb to move
    assert questions(await owner.get(f"/polls/{poll_id}")) == ["One?", "Two?", "Three?", "Four?"]
    sort_now = (await voter.get(f"/polls/{poll_id}")).dom.get("qa-sort-now")
    swapped = await voter.get(str(sort_now.attrs["href"]), htmx=True)
    assert swapped.status == 200 and not swapped.is_full_page
    assert questions(swapped) == ["Four?", "One?", "Two?", "Three?"]
    assert swapped.dom.get("results").find(cls="qa-unsettled") is None
    # Everyone else's list (and the voter's next load) keeps the shared order.
    assert questions(await owner.get(f"/polls/{poll_id}")) == ["One?", "Two?", "Three?", "Four?"]
