"""The presenter screen shows what the audience sees: hidden results stay hidden on the
projector, with the number of responses instead, on the page and in its live fragments."""

from __future__ import annotations

import asyncio
import re

import pytest
from quart import Quart

from tests.pages.helpers import Browser, Element, next_html, option_ids, parse_html, signed_up

COUNT_CLASSES = ("bar-figures", "total-votes", "total-voters", "bars")


def carries_no_counts(results: Element) -> bool:
    """No option counts, percentages or totals anywhere in the fragment."""
    return all(results.find(cls=name) is None for name in COUNT_CLASSES) and not re.search(
        r"\d+%", results.text
    )


async def voted_poll(app: Quart, visibility: str) -> tuple[Browser, int, list[int]]:
    creator = await signed_up(app, "Creator")
    poll_id = await creator.create_poll(visibility=visibility)
    options = await option_ids(poll_id)
    for name in ("One", "Two"):
        voter = await signed_up(app, name)
        await voter.vote(poll_id, options[0])
    return creator, poll_id, options


@pytest.mark.parametrize("visibility", ["after_vote", "after_close"])
async def test_the_presenter_page_hides_counts_the_audience_may_not_see(
    app: Quart, visibility: str
) -> None:
    creator, poll_id, _ = await voted_poll(app, visibility)
    page = await creator.get(f"/polls/{poll_id}/present")
    results = page.dom.get("results")
    assert carries_no_counts(results)
    assert results.find(cls="total-responses").text == "2"  # type: ignore[union-attr]
    # The creator's own poll page keeps the counts, and says the audience does not see them.
    own = await creator.get(f"/polls/{poll_id}")
    assert own.results_shown()
    assert own.dom.get("results").find(cls="results-private") is not None


async def test_the_presenter_page_hides_counts_while_the_presenter_hides_them(app: Quart) -> None:
    creator, poll_id, _ = await voted_poll(app, "always")
    assert not carries_no_counts(
        (await creator.get(f"/polls/{poll_id}/present")).dom.get("results")
    )
    await creator.post(f"/polls/{poll_id}/results-hidden", {"hidden": "1", "return_to": "present"})
    page = await creator.get(f"/polls/{poll_id}/present")
    assert carries_no_counts(page.dom.get("results"))
    assert "2 responses so far" in page.dom.get("results").text
    reveal = page.dom.find("button", data_shortcut="r")
    assert reveal is not None and reveal.text == "Reveal results"


async def test_the_presenter_live_fragments_carry_no_counts_while_hidden(app: Quart) -> None:
    creator, poll_id, options = await voted_poll(app, "after_close")
    page = await creator.get(f"/polls/{poll_id}/present")
    ws_path = page.dom.find(cls="present-layout").attrs["ws-connect"]  # type: ignore[union-attr]
    async with creator.client.websocket(ws_path) as ws:
        assert carries_no_counts(await next_html(ws, "results"))
        late = await signed_up(app, "Three")
        await late.vote(poll_id, options[1])
        update = await next_html(ws, "results")
        assert carries_no_counts(update)
        assert update.find(cls="total-responses").text == "3"  # type: ignore[union-attr]
        # Closing reveals them on the big screen, as for the audience.
        await creator.post(f"/polls/{poll_id}/close")
        final = await next_html(ws, "results")
        assert not carries_no_counts(final)
        figures = [f.text for f in final.find_all(cls="bar-figures")]
        assert figures == ["2 votes · 67%", "1 vote · 33%", "0 votes · 0%"]


async def test_the_creators_own_live_fragments_keep_the_counts(app: Quart) -> None:
    creator, poll_id, _ = await voted_poll(app, "after_close")
    async with creator.client.websocket(f"/api/v1/polls/{poll_id}/live?format=html") as ws:
        fragment = await next_html(ws, "results")
    assert not carries_no_counts(fragment)
    assert fragment.find(cls="results-private") is not None


def test_the_helper_sees_counts_in_a_shown_fragment() -> None:
    shown = parse_html(
        '<section id="results"><span class="bar-figures">1 vote · 100%</span></section>'
    ).by_id("results")
    assert shown is not None and not carries_no_counts(shown)


async def test_a_page_that_connects_gets_the_current_status_line_with_its_first_results(
    app: Quart,
) -> None:
    """A page that reconnects may hold a status line from before the poll closed: the
    stream's first message brings the current one with the results."""
    creator, poll_id, _ = await voted_poll(app, "always")
    await creator.post(f"/polls/{poll_id}/close")
    async with creator.client.websocket(f"/api/v1/polls/{poll_id}/live?format=html") as ws:
        first = parse_html(str(await asyncio.wait_for(ws.receive(), 3)))
    assert first.by_id("results") is not None
    status = first.by_id("poll-status")
    assert status is not None and status.text == "Voting is closed."
