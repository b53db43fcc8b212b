"""Audience Q&A's reader experience in a real browser (#15): each viewer's upvote buttons
show their own upvotes after every live update (one shared fragment for all), and "Sort
now" re-sorts the list in place, on that screen only. Waits on conditions, never sleeps."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Locator, Page, expect

from tests.e2e.conftest import ACTION_TIMEOUT_MS, NewContext, Problems
from tests.e2e.helpers import sign_up
from tests.e2e.test_kinds_browser import (
    SCREEN,
    assert_not_reloaded,
    live_phones,
    make_poll,
)
from tests.live.servers import Server

TEST_BUDGET = 60.0

expect.set_options(timeout=ACTION_TIMEOUT_MS)


def question(page: Page, text: str) -> Locator:
    return page.locator("#results .qa-question", has_text=text)


def toggle(page: Page, text: str) -> Locator:
    return question(page, text).locator("button.qa-upvote")


def delete(page: Page, text: str) -> Locator:
    return question(page, text).locator("button.qa-delete")


async def ask(page: Page, text: str) -> None:
    await page.fill("#qa-text", text)
    await page.locator("#ask").click()
    await expect(question(page, text)).to_have_count(1)
    # The live update may show it before the ask's own answer swaps in a new, empty form:
    # typing the next question into the old one would be lost with it.
    await expect(page.locator("#qa-text")).to_have_value("")


async def test_each_viewer_sees_their_own_upvotes_and_questions_after_live_updates_and_sorts_now(
    live_server: Server, contexts: NewContext, problems: Problems
) -> None:
    async with asyncio.timeout(TEST_BUDGET):
        owner = await (await contexts("A", viewport=SCREEN)).new_page()
        await sign_up(owner, "Ada")
        poll_id = await make_poll(owner, "Questions for the panel", "qa")
        for text in ("First?", "Second?", "Third?"):
            await ask(owner, text)
        phones = await live_phones(contexts, poll_id)
        bea, cy = phones

        await toggle(bea, "First?").click()
        await expect(toggle(bea, "First?")).to_have_attribute("aria-pressed", "true")
        # Cy's upvote reaches Bea as the shared fragment: her own upvote stays pressed.
        await expect(question(cy, "First?").locator(".qa-count")).to_have_text("1 upvote")
        await expect(toggle(cy, "First?")).to_have_attribute("aria-pressed", "false")
        await toggle(cy, "Second?").click()
        await expect(toggle(cy, "Second?")).to_have_attribute("aria-pressed", "true")
        await expect(question(bea, "Second?").locator(".qa-count")).to_have_text("1 upvote")
        await expect(toggle(bea, "First?")).to_have_attribute("aria-pressed", "true")
        await expect(toggle(bea, "Second?")).to_have_attribute("aria-pressed", "false")
        await expect(toggle(cy, "First?")).to_have_attribute("aria-pressed", "false")

        # Cy asks: a live update to Bea, whose marks hold; Cy's own question has no toggle.
        await ask(cy, "Fourth?")
        await expect(question(bea, "Fourth?")).to_have_count(1)
        await expect(toggle(bea, "First?")).to_have_attribute("aria-pressed", "true")
        await expect(toggle(bea, "Fourth?")).to_have_attribute("aria-pressed", "false")
        await expect(toggle(cy, "Fourth?")).to_be_hidden()
        await expect(toggle(cy, "Second?")).to_have_attribute("aria-pressed", "true")

        # An upvote too small to move the list: it stays in place until Bea sorts it.
        await toggle(bea, "Fourth?").click()
        await expect(toggle(bea, "Fourth?")).to_have_attribute("aria-pressed", "true")
        texts = bea.locator("#qa-questions .qa-question .qa-text")
        await expect(texts).to_have_text(["First?", "Second?", "Third?", "Fourth?"])
        await expect(cy.locator("#results .qa-unsettled")).to_be_visible()
        await bea.locator("#qa-sort-now").click()
        await expect(texts).to_have_text(["First?", "Second?", "Fourth?", "Third?"])
        await expect(toggle(bea, "First?")).to_have_attribute("aria-pressed", "true")
        await expect(toggle(bea, "Fourth?")).to_have_attribute("aria-pressed", "true")
        # On Bea's screen only: Cy's list is as every screen shares it.
        await expect(cy.locator("#qa-questions .qa-question .qa-text")).to_have_text(
            ["First?", "Second?", "Third?", "Fourth?"]
        )
        # Cy's list is now the shared fragment (Bea's upvote came live): her own question
        # still offers "Delete my question", nobody else's does, and it works from there.
        await expect(question(cy, "Fourth?").locator(".qa-count")).to_have_text("1 upvote")
        await expect(delete(cy, "Fourth?")).to_be_visible()
        await expect(delete(cy, "First?")).to_be_hidden()
        await expect(delete(bea, "Fourth?")).to_be_hidden()
        await delete(cy, "Fourth?").click()
        await expect(question(bea, "Fourth?")).to_have_count(0)
        await expect(question(cy, "Fourth?")).to_have_count(0)
        for page in phones:
            await assert_not_reloaded(page)
    if problems.entries:
        pytest.fail("the browser console reported problems:\n" + problems.summary(), pytrace=False)


async def test_live_updates_wait_while_a_finger_is_on_the_list(
    live_server: Server, contexts: NewContext, problems: Problems
) -> None:
    """static/js/qa.js holds the live updates from touchstart on the list to touchend
    (static/js/live.js keeps them, in order, and counts them in data-live-held): the
    question under the finger does not move, and the list catches up when it lifts, or
    once the hold's cap has passed."""
    async with asyncio.timeout(TEST_BUDGET):
        owner = await (await contexts("A", viewport=SCREEN)).new_page()
        await sign_up(owner, "Ada")
        poll_id = await make_poll(owner, "Questions for the panel", "qa")
        await ask(owner, "First?")
        bea, cy = await live_phones(contexts, poll_id)
        texts = bea.locator("#qa-questions .qa-question .qa-text")
        live = bea.locator("[ws-connect]")

        finger = question(bea, "First?").locator(".qa-text")

        async def hold_for(ms: int) -> None:  # the longest live.js holds (4 s by default)
            await live.evaluate("(root, ms) => root.setAttribute('data-live-hold-ms', ms)", ms)

        # Held for as long as the finger is down (well inside a long cap, on a busy machine).
        await hold_for(120_000)
        await finger.dispatch_event("touchstart")
        await ask(cy, "Second?")
        await expect(live).to_have_attribute("data-live-held", re.compile(r"^[1-9]"))
        await expect(texts).to_have_text(["First?"])
        await finger.dispatch_event("touchend")
        await expect(texts).to_have_text(["First?", "Second?"])
        await expect(live).not_to_have_attribute("data-live-held", re.compile(".*"))
        # A real tap on an upvote while an update waits: the tap counts, then it goes in.
        await finger.dispatch_event("touchstart")
        await ask(owner, "Extra?")
        await expect(live).to_have_attribute("data-live-held", re.compile(r"^[1-9]"))
        await toggle(bea, "First?").tap()
        await expect(toggle(bea, "First?")).to_have_attribute("aria-pressed", "true")
        await expect(texts).to_have_text(["First?", "Second?", "Extra?"])
        await expect(live).not_to_have_attribute("data-live-held", re.compile(".*"))
        # A finger that stays down holds them no longer than the cap.
        await hold_for(200)
        await finger.dispatch_event("touchstart")
        held = bea.locator("html")
        await expect(held).to_have_attribute("data-live-hold", "")
        await ask(owner, "Third?")
        await expect(texts).to_have_text(["First?", "Second?", "Extra?", "Third?"])
        await expect(held).not_to_have_attribute("data-live-hold", re.compile(".*"))
        await finger.dispatch_event("touchend")
        await assert_not_reloaded(bea)
    if problems.entries:
        pytest.fail("the browser console reported problems:\n" + problems.summary(), pytrace=False)
