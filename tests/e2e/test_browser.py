"""One live poll in a real browser: a presenter, a member and a guest on a real server.

Context A (presenter) signs up, builds a poll through the form (one option field added by htmx)
and publishes it; context B (member) opens it by its join code and votes; context C (guest)
follows the /j/CODE link, joins with a display name and votes. A's poll page and presenter
view must follow every change over the live WebSocket without reloading; the presenter's keys
hide and reveal the results (voters see it live) and close voting (B sees it live, and a late
vote is refused). Screenshots go to test-artifacts/; the console must stay clean throughout.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, ViewportSize, expect

from tests.e2e.conftest import ACTION_TIMEOUT_MS, NewContext, Problems
from tests.e2e.helpers import expect_tally, sign_up, wait_live
from tests.live.servers import Server

QUESTION = "Which colour for the new logo?"
OPTIONS = ["Red", "Green", "Blue"]
FOURTH = "Purple"
PHONE: ViewportSize = {"width": 390, "height": 844}
SCREEN: ViewportSize = {"width": 1920, "height": 1080}
TEST_BUDGET = 60.0  # seconds for the whole scenario

expect.set_options(timeout=ACTION_TIMEOUT_MS)


# --- helpers ----------------------------------------------------------------------------------


async def mark(page: Page) -> None:
    """Leave a JS variable behind: it survives swaps, not a reload or navigation."""
    await page.evaluate("window.__marker = 1")


async def assert_not_reloaded(page: Page) -> None:
    assert await page.evaluate("window.__marker") == 1, f"{page.url} was reloaded or navigated"


async def vote_for(page: Page, option: str) -> None:
    choice = page.locator("#vote .choice", has_text=option)
    await choice.click()
    await expect(choice).to_have_class(re.compile(r"\bchosen\b"))
    await expect(choice).to_have_attribute("aria-pressed", "true")


async def press_shortcut(page: Page, key: str) -> None:
    """A presenter key clicks its control, which posts a form and comes back to the view."""
    await page.locator("body").focus()
    async with page.expect_navigation(url=re.compile(r"/present$")):
        await page.keyboard.press(key)
    await page.wait_for_load_state("load")


async def new_page(context: BrowserContext, viewport: ViewportSize) -> Page:
    page = await context.new_page()
    await page.set_viewport_size(viewport)
    return page


# --- the scenario -----------------------------------------------------------------------------


async def test_presenter_member_and_guest_watch_a_poll_live(
    live_server: Server, contexts: NewContext, problems: Problems, artifacts: Path
) -> None:
    started = time.monotonic()
    async with asyncio.timeout(TEST_BUDGET):
        await _scenario(live_server, contexts, artifacts)
    elapsed = time.monotonic() - started
    print(f"e2e scenario took {elapsed:.1f}s")
    if problems.entries:
        pytest.fail("the browser console reported problems:\n" + problems.summary(), pytrace=False)


async def _scenario(server: Server, contexts: NewContext, artifacts: Path) -> None:
    # 1. A signs up and builds the poll through the form.
    context_a = await contexts("A", viewport=SCREEN)
    poll_page = await new_page(context_a, PHONE)
    await sign_up(poll_page, "Ada")
    await poll_page.goto("/polls/new")
    await poll_page.fill("#question", QUESTION)
    fields = poll_page.locator("#options input[name=options]")
    add_option = poll_page.get_by_role("button", name="Add option")
    await mark(poll_page)
    for index, text in enumerate(OPTIONS):
        if await fields.count() <= index:
            await add_option.click()
            await expect(fields).to_have_count(index + 1)
        await fields.nth(index).fill(text)
    before = await fields.count()  # blank fields left over are dropped by the server
    await add_option.click()  # htmx appends one field; no form round trip
    await expect(fields).to_have_count(before + 1)
    await assert_not_reloaded(poll_page)
    await expect(fields.nth(before)).to_have_value("")
    await fields.nth(before).fill(FOURTH)
    await poll_page.locator("input[name=voting][value=guests]").check()
    async with poll_page.expect_navigation(url=re.compile(r"/polls/\d+$")):
        await poll_page.get_by_role("button", name="Publish").click()
    match = re.search(r"/polls/(\d+)$", poll_page.url)
    assert match, poll_page.url
    poll_id = int(match.group(1))
    await expect(poll_page.locator("h1")).to_have_text(QUESTION)
    await expect(poll_page.locator("#poll-status")).to_have_text("Open for votes.")
    code = (await poll_page.locator(".poll-header .code").inner_text()).strip()
    assert re.fullmatch(r"[A-Z0-9]{4,12}", code), code
    await expect(poll_page.locator("#vote .choice")).to_have_text(
        [*OPTIONS, FOURTH], use_inner_text=True
    )
    await expect(poll_page.locator("#results .totals")).to_contain_text("0 votes from 0 voters")

    # 5 (first part). The presenter view: QR code, join code and link, live viewers.
    present = await new_page(context_a, SCREEN)
    await present.goto(f"/polls/{poll_id}/present")
    await expect(present.locator(".qr svg")).to_be_visible()
    assert await present.locator(".qr svg path, .qr svg rect").count() > 0, "empty QR code"
    await expect(present.locator(".join-code .code")).to_have_text(code)
    await expect(present.locator(".join-url")).to_contain_text(f"{server.base_url}/j/{code}")
    await wait_live(present)
    await wait_live(poll_page)
    await mark(present)
    await mark(poll_page)

    # 2. B signs up, opens the poll by typing its code on the home page, and votes.
    context_b = await contexts("B", viewport=PHONE, has_touch=True, is_mobile=True)
    voter = await context_b.new_page()
    await sign_up(voter, "Bea")
    await voter.fill("#join-code", code)
    async with voter.expect_navigation(url=re.compile(rf"/polls/{poll_id}$")):
        await voter.get_by_role("button", name="Open").click()
    await expect(voter.locator("h1")).to_have_text(QUESTION)
    await wait_live(voter)
    await mark(voter)
    await vote_for(voter, "Green")
    await expect_tally(voter, "1 vote from 1 voter", {"Green": (1, 100), "Red": (0, 0)})

    # 4. A's poll page and the presenter view follow without reloading.
    one_vote = {"Green": (1, 100), "Blue": (0, 0), "Red": (0, 0), FOURTH: (0, 0)}
    await expect_tally(poll_page, "1 vote from 1 voter", one_vote)
    await expect_tally(present, "1 vote from 1 voter", one_vote)

    # 3. C follows the short link, joins as a guest and votes.
    context_c = await contexts("C", viewport=PHONE, has_touch=True, is_mobile=True)
    guest = await context_c.new_page()
    await guest.goto(f"/j/{code}")
    await expect(guest).to_have_url(re.compile(rf"/polls/{poll_id}$"))
    await expect(guest.locator("#vote .choice").first).to_be_disabled()
    await guest.fill("#guest-name", "Cy")
    async with guest.expect_navigation(url=re.compile(rf"/polls/{poll_id}$")):
        await guest.get_by_role("button", name="Join as guest").click()
    await expect(guest.locator(".site-header .who")).to_have_text("Cy (guest)")
    await wait_live(guest)
    await vote_for(guest, "Blue")

    two_votes = {"Green": (1, 50), "Blue": (1, 50), "Red": (0, 0), FOURTH: (0, 0)}
    for page in (poll_page, present, voter, guest):
        await expect_tally(page, "2 votes from 2 voters", two_votes)
    for page in (poll_page, present, voter):
        await assert_not_reloaded(page)

    # 5. The viewer count is pushed to the presenter (four pages are watching).
    viewers = present.locator("#viewer-count")
    await expect(viewers).to_have_text(re.compile(r"^\s*[1-9]\d*\s*$"))
    assert int(await viewers.inner_text()) > 0

    # 7. Screenshots: the poll page on a phone, the presenter view on a 1080p screen.
    await voter.screenshot(
        path=str(artifacts / "poll-page-phone.png"), full_page=True, animations="disabled"
    )
    await present.screenshot(path=str(artifacts / "presenter-1080p.png"), animations="disabled")

    # 5. R hides the results everywhere; R again reveals them.
    await press_shortcut(present, "r")
    await expect(present.locator("#results .results-hidden")).to_be_visible()
    await expect(present.locator("#results .bars")).to_have_count(0)
    await expect(present.locator("[data-shortcut=r]")).to_have_text("Reveal results")
    await expect(voter.locator("#results .results-hidden")).to_be_visible()
    await expect(voter.locator("#results .results-hidden")).to_contain_text("hidden")
    await expect(voter.locator("#results .bars")).to_have_count(0)
    await assert_not_reloaded(voter)

    await press_shortcut(present, "r")
    await expect(present.locator("#results .results-hidden")).to_have_count(0)
    await expect(present.locator("[data-shortcut=r]")).to_have_text("Hide results")
    await expect_tally(present, "2 votes from 2 voters", two_votes)
    await expect(voter.locator("#results .results-hidden")).to_have_count(0)
    await expect_tally(voter, "2 votes from 2 voters", two_votes)
    await assert_not_reloaded(voter)

    # 6. C closes voting: B sees it live, a late vote is refused, the counts stay.
    await wait_live(present)
    await press_shortcut(present, "c")
    await expect(present.locator("#poll-status")).to_have_text("Voting is closed.")
    await expect(present.locator("[data-shortcut=c]")).to_have_count(0)
    for page in (voter, poll_page):
        await expect(page.locator("#poll-status")).to_have_text("Voting is closed.")
        await expect(page.locator("#poll-status")).to_have_class(re.compile(r"\bis-closed\b"))
        await assert_not_reloaded(page)

    # The voting block follows live: its buttons are disabled without a reload.
    live_choices = voter.locator("#vote .choice")
    for index in range(len(OPTIONS) + 1):
        await expect(live_choices.nth(index)).to_be_disabled()
    await assert_not_reloaded(voter)

    # A stale form submitted anyway (an old tab, a quick thumb) is refused by the server.
    late = voter.locator("#vote .choice", has_text="Red")
    await late.evaluate("button => button.form.requestSubmit()")
    await expect(voter.locator("#vote .alert")).to_contain_text("closed")
    await expect(voter.locator("#vote .choice", has_text="Red")).not_to_have_class(
        re.compile(r"\bchosen\b")
    )
    for page in (voter, poll_page):
        await expect_tally(page, "2 votes from 2 voters · final", two_votes)

    await voter.reload()
    choices = voter.locator("#vote .choice")
    await expect(choices).to_have_count(len(OPTIONS) + 1)
    for index in range(len(OPTIONS) + 1):
        await expect(choices.nth(index)).to_be_disabled()
    await expect(voter.locator("#vote .choice", has_text="Green")).to_have_class(
        re.compile(r"\bchosen\b")
    )
    await expect(voter.locator("#vote")).to_contain_text("Voting is closed.")
    await expect_tally(voter, "2 votes from 2 voters · final", two_votes)
    await expect_tally(present, "2 votes from 2 voters · final", two_votes)
