"""An event in real browsers: a presenter's big screen, the presenter's remote and two phones.

The speaker builds an event of three questions on its page; the big screen and two phones
(guests, one of them with a clock an hour fast) follow the remote: each advance shows the
next question on every device without a reload, and the votes on each question count
exactly. A countdown closes the third question on every device, the server refusing a vote
after it; a reset shows zero everywhere; then the event turns self-paced and a phone moves
through the questions on its own. The console must stay clean throughout.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, ViewportSize, expect

from tests.e2e.conftest import ACTION_TIMEOUT_MS, NewContext, Problems
from tests.e2e.helpers import expect_tally, sign_up, wait_live
from tests.live.servers import Server

PHONE: ViewportSize = {"width": 390, "height": 844}
SCREEN: ViewportSize = {"width": 1920, "height": 1080}
QUESTIONS = [
    ("How did you get here?", ["Train", "Bike"]),
    ("Tabs or spaces?", ["Tabs", "Spaces"]),
    ("Coffee or tea?", ["Coffee", "Tea"]),
]
COUNTDOWN_S = 6
TEST_BUDGET = 120.0
# A phone whose clock is an hour fast: its countdown must still agree with the others'.
FAST_CLOCK = """
(() => {
  const realNow = Date.now.bind(Date);
  Date.now = () => realNow() + 3600 * 1000;
})();
"""

expect.set_options(timeout=ACTION_TIMEOUT_MS)


async def new_page(context: BrowserContext, viewport: ViewportSize) -> Page:
    page = await context.new_page()
    await page.set_viewport_size(viewport)
    return page


async def mark(page: Page) -> None:
    await page.evaluate("window.__marker = 1")


async def assert_not_reloaded(page: Page) -> None:
    assert await page.evaluate("window.__marker") == 1, f"{page.url} was reloaded"


async def remote_press(remote: Page, control: str) -> None:
    """A remote control posts its form and comes back to the remote."""
    async with remote.expect_navigation(url=re.compile(r"/remote$")):
        await remote.locator(f"#{control}").click()
    await wait_live(remote)


async def shows_question(page: Page, text: str) -> None:
    await expect(page.locator("#event-current .event-question")).to_have_text(text)


async def vote_on(phone: Page, option: str) -> None:
    choice = phone.locator("#vote .choice", has_text=option)
    await expect(choice).to_be_enabled()
    await choice.click()
    await expect(choice).to_have_attribute("aria-pressed", "true")


async def build_event(page: Page) -> tuple[int, str]:
    await page.goto("/events")
    await page.fill("#event-title", "Shipping on Fridays")
    async with page.expect_navigation(url=re.compile(r"/events/\d+$")):
        await page.get_by_role("button", name="Create event").click()
    event_id = int(page.url.rsplit("/", 1)[1])
    for question, options in QUESTIONS:
        await page.fill("#q-question", question)
        await page.fill("#q-options", "\n".join(options))
        async with page.expect_navigation(url=re.compile(r"/events/\d+$")):
            await page.get_by_role("button", name="Add question").click()
    await expect(page.locator(".event-questions > li")).to_have_count(len(QUESTIONS))
    code = (await page.locator(".meta .code").inner_text()).strip()
    assert re.fullmatch(r"[A-Z0-9]{7}", code), code
    return event_id, code


async def reconnect(page: Page) -> None:
    """The page's stream drops and comes back (as when a phone wakes), and a message arrives."""
    before = await page.evaluate("[window.__wsOpen, window.__wsMessages]")
    await page.evaluate(
        "window.dispatchEvent(new Event('offline')); window.dispatchEvent(new Event('online'))"
    )
    await page.wait_for_function(
        "([opened, seen]) => window.__wsOpen > opened && window.__wsMessages > seen",
        arg=before,
        timeout=ACTION_TIMEOUT_MS,
    )
    await wait_live(page)


async def phone_joins(context: BrowserContext, code: str, name: str) -> Page:
    phone = await context.new_page()
    await phone.goto(f"/j/{code}")
    await expect(phone).to_have_url(re.compile(rf"/e/{code}$"))
    await wait_live(phone)
    await phone.fill("#guest-name", name)
    # A reconnection's first message repeats the question the page shows: the form stays as
    # the person left it (their name typed), not swapped for a fresh one.
    await reconnect(phone)
    await expect(phone.locator("#guest-name")).to_have_value(name)
    async with phone.expect_navigation(url=re.compile(rf"/e/{code}$")):
        await phone.get_by_role("button", name="Join as guest").click()
    await wait_live(phone)
    await mark(phone)
    return phone


async def server_now_ms(page: Page) -> Any:
    return await page.evaluate("window.livepolls.serverNow()")


async def test_a_remote_drives_the_big_screen_and_two_phones(
    live_server: Server, contexts: NewContext, problems: Problems, artifacts: Path
) -> None:
    started = time.monotonic()
    async with asyncio.timeout(TEST_BUDGET):
        await _scenario(live_server, contexts, problems, artifacts)
    print(f"event scenario took {time.monotonic() - started:.1f}s")
    if problems.entries:
        pytest.fail("the browser console reported problems:\n" + problems.summary(), pytrace=False)


async def _scenario(
    server: Server, contexts: NewContext, problems: Problems, artifacts: Path
) -> None:
    speaker = await contexts("speaker", viewport=SCREEN)
    manage = await new_page(speaker, SCREEN)
    await sign_up(manage, "Ada")
    event_id, code = await build_event(manage)

    screen = await new_page(speaker, SCREEN)
    await screen.goto(f"/events/{event_id}/present?controls=off")
    await expect(screen.locator(".join-code .code")).to_have_text(code)
    await expect(screen.locator(".qr svg")).to_be_visible()
    await wait_live(screen)
    await mark(screen)
    remote = await new_page(speaker, PHONE)
    await remote.goto(f"/events/{event_id}/remote")
    await wait_live(remote)

    # The first question opens; the phones join as guests from the event's own page.
    await remote_press(remote, "control-next")
    await shows_question(screen, QUESTIONS[0][0])
    context_one = await contexts("phone1", viewport=PHONE, has_touch=True, is_mobile=True)
    context_two = await contexts("phone2", viewport=PHONE, has_touch=True, is_mobile=True)
    await context_two.add_init_script(FAST_CLOCK)
    one = await phone_joins(context_one, code, "Pip")
    two = await phone_joins(context_two, code, "Quinn")
    phones = (one, two)

    # Three questions: each advance reaches every device, each vote counts once.
    votes = {0: ("Train", "Bike"), 1: ("Spaces", "Spaces"), 2: ("Coffee", "Tea")}
    tallies = {
        0: ("2 votes from 2 voters", {"Train": (1, 50), "Bike": (1, 50)}),
        1: ("2 votes from 2 voters", {"Spaces": (2, 100), "Tabs": (0, 0)}),
        2: ("2 votes from 2 voters", {"Coffee": (1, 50), "Tea": (1, 50)}),
    }
    for index, (question, _options) in enumerate(QUESTIONS):
        if index:
            await remote_press(remote, "control-next")
        for page in (screen, *phones):
            await shows_question(page, question)
        for phone, option in zip(phones, votes[index], strict=True):
            await vote_on(phone, option)
        totals, per_option = tallies[index]
        for page in (screen, remote, *phones):
            await expect_tally(page, totals, per_option)
    for page in (screen, *phones):
        await assert_not_reloaded(page)
    await one.screenshot(path=str(artifacts / "event-phone.png"), full_page=True)
    await screen.screenshot(path=str(artifacts / "event-presenter-1080p.png"))

    # A countdown on the third question: every device counts to the same moment on the
    # server's clock (the fast phone included), and the server closes voting at zero.
    await remote.fill("#countdown-remote", str(COUNTDOWN_S))
    await remote_press(remote, "control-countdown")
    for page in (screen, *phones):
        await expect(page.locator("#event-countdown")).to_be_visible()
        await expect(page.locator("#event-countdown")).to_contain_text("left to vote")
    clocks = [await server_now_ms(page) for page in (screen, one, two)]
    local = [await page.evaluate("Date.now()") for page in (screen, one, two)]
    assert local[2] - local[0] > 3_000_000, "the second phone's clock is not fast"
    # Read one after another: allow for the reads themselves, well under the 0.2 s asked.
    assert max(clocks) - min(clocks) < 200, clocks
    for page in (screen, remote, *phones):
        await expect(page.locator("#poll-status")).to_have_text(
            "Voting is closed.", timeout=(COUNTDOWN_S + 10) * 1000
        )
    for phone in phones:
        await expect(phone.locator("#vote .choice").first).to_be_disabled()
    problems.expect_error_pages()  # the late vote's 409, on purpose
    late = await one.evaluate(
        """async () => {
          const headers = JSON.parse(document.body.getAttribute("hx-headers"));
          const form = document.querySelector("#vote form[data-tap=vote]");
          const body = new URLSearchParams(new FormData(form));
          const answer = await fetch(form.action, {method: "POST", headers, body});
          return answer.status;
        }"""
    )
    assert late == 409, late
    await expect_tally(screen, *tallies[2])

    # A reset shows zero everywhere.
    await remote.locator("#reset-confirm").check()
    await remote_press(remote, "control-reset")
    for page in (screen, remote, *phones):
        await expect(page.locator("#results .totals")).to_contain_text("0 votes from 0 voters")
    for phone in phones:  # their choices went with the votes
        await expect(phone.locator("#vote .choice[aria-pressed=true]")).to_have_count(0)
        await expect(phone.locator("#vote .choice").first).to_be_visible()

    # Self-paced: the phone moves through the questions on its own.
    await manage.goto(f"/events/{event_id}")
    await manage.locator("input[name=mode][value=self_paced]").check()
    async with manage.expect_navigation(url=re.compile(r"/events/\d+$")):
        await manage.get_by_role("button", name="Save settings").click()
    await one.goto(f"/e/{code}")
    await shows_question(one, QUESTIONS[0][0])
    await wait_live(one)
    await expect_tally(one, *tallies[0])
    async with one.expect_navigation():
        await one.get_by_role("link", name="Next question").click()
    await shows_question(one, QUESTIONS[1][0])
    await expect_tally(one, *tallies[1])
    await expect(one.get_by_role("link", name="Previous question")).to_be_visible()
