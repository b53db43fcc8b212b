"""A live page on a bad network: it says when it is not live, comes back by itself with the
current counts, loses no tap and counts none twice; and it serves keyboard and screen-reader
users (focus, a polite summary, the results in view after a vote).

The browser reaches the server through tests/e2e/network.py, which can reset every
connection (a hard drop) or let them all go quiet (a silent drop), or is taken offline by
Playwright (the browser's own `offline` and `online` events). The server sends a heartbeat
every second (conftest.HEARTBEAT_S). Nothing here measures time: each step waits, up to a
generous deadline, for what the page must end up showing.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, Request, Route, ViewportSize, expect

from tests.e2e.conftest import ACTION_TIMEOUT_MS, NewContext, Problems
from tests.e2e.helpers import expect_tally, sign_up, wait_live
from tests.e2e.network import network_to
from tests.helpers import until
from tests.live.servers import HOST, Server
from tests.live.test_servers import Api, User, api_for

PHONE: ViewportSize = {"width": 390, "height": 844}
WIDE: ViewportSize = {"width": 1280, "height": 900}
# Deadlines, not measurements: the page comes back within about 2 s, but this machine is busy.
RECOVERY_MS = 15_000
SUMMARY_MS = 12_000  # the summary speaks at most every 4 s
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
NOT_LIVE = re.compile(r"^(reconnecting|offline)$")

expect.set_options(timeout=ACTION_TIMEOUT_MS)


@pytest.fixture
async def api(live_server: Server) -> AsyncIterator[Api]:
    async with api_for(live_server) as client:
        yield client


async def new_poll(api: Api, owner: User, options: list[str], **settings: Any) -> dict[str, Any]:
    body = {"question": "Best editor?", "options": options, "is_published": True, **settings}
    response = await api.http.post("/api/v1/polls", json=body, headers=owner.auth)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def counts(http: httpx.AsyncClient, poll: dict[str, Any]) -> dict[str, int]:
    """Votes per option text, and the totals, from the JSON API."""
    response = await http.get(f"/api/v1/polls/{poll['id']}/results")
    assert response.status_code == 200, response.text
    results = response.json()
    texts = {option["id"]: option["text"] for option in poll["options"]}
    tally = {texts[option["id"]]: option["votes"] for option in results["options"]}
    return {**tally, "total": results["total_votes"], "voters": results["voters"]}


def choice(page: Page, text: str) -> Any:
    return page.locator("#vote .choice", has_text=text)


async def before_content(page: Page, selector: str, prop: str) -> str:
    return str(
        await page.locator(selector).evaluate(
            "(el, prop) => getComputedStyle(el, '::before')[prop]", prop
        )
    )


async def pulse_becomes(page: Page, name: str) -> None:
    """Wait until the status dot's animation is this one (the status line may be swapped
    in anew by the stream's first message)."""

    async def shows() -> bool:
        return await before_content(page, "#poll-status", "animationName") == name

    await until(shows, f"the status dot's animation is {name}", within=ACTION_TIMEOUT_MS / 1000)


# --- reconnecting -----------------------------------------------------------------------------


async def test_after_a_hard_drop_the_page_says_so_and_comes_back_with_the_counts_and_the_tap(
    live_server: Server, contexts: NewContext, problems: Problems, api: Api
) -> None:
    problems.expect_network_errors()
    owner, *others = await api.users(3)
    poll = await new_poll(api, owner, ["vim", "emacs", "nano"])
    async with network_to(HOST, live_server.port) as network:
        context = await contexts("voter", base_url=network.base_url, viewport=PHONE)
        page = await context.new_page()
        await sign_up(page, "Vee")
        await page.goto(f"/polls/{poll['id']}")
        await wait_live(page)
        root = page.locator("[ws-connect]")
        await pulse_becomes(page, "live-pulse")

        await network.drop_hard()
        await expect(root).to_have_attribute("data-live", NOT_LIVE)
        await expect(page.locator("#connection")).to_contain_text("out of date")
        # The open poll's dot no longer pulses over counts that may be stale.
        await pulse_becomes(page, "none")

        # Meanwhile two others vote, and this voter taps "emacs": it waits, and says so.
        await api.votes([(others[0], 0), (others[1], 0)], poll)
        await choice(page, "emacs").click()
        await expect(choice(page, "emacs")).to_have_class(re.compile(r"\bpending\b"))
        await expect(choice(page, "emacs")).to_contain_text("Not sent yet")
        await expect(page.locator("#vote-announcer")).to_contain_text("not sent yet")
        assert (await counts(api.http, poll))["emacs"] == 0

        await network.restore()
        await wait_live(page, RECOVERY_MS)
        await expect(choice(page, "emacs")).to_have_attribute(
            "aria-pressed", "true", timeout=RECOVERY_MS
        )
        await expect(page.locator("#vote .pending")).to_have_count(0)
        await expect(page.locator("#vote-announcer")).to_contain_text("is in")
        await expect_tally(
            page, "3 votes from 3 voters", {"vim": (2, 67), "emacs": (1, 33), "nano": (0, 0)}
        )
    assert await counts(api.http, poll) == dict(vim=2, emacs=1, nano=0, total=3, voters=3)
    if problems.entries:
        pytest.fail("the browser console reported problems:\n" + problems.summary())


async def test_a_silent_drop_is_noticed_by_the_missing_heartbeats_and_the_page_reconnects(
    live_server: Server, contexts: NewContext, problems: Problems, api: Api
) -> None:
    problems.expect_network_errors()
    owner, voter = await api.users(2)
    poll = await new_poll(api, owner, ["vim", "emacs", "nano"])
    async with network_to(HOST, live_server.port) as network:
        context = await contexts("viewer", base_url=network.base_url)
        page = await context.new_page()
        await page.goto(f"/polls/{poll['id']}")
        await wait_live(page)
        opened = await page.evaluate("window.__wsOpen")

        await network.drop_silently()  # no close, no reset: the heartbeats just stop coming
        await api.vote(voter, poll, 1)
        root = page.locator("[ws-connect]")
        await expect(root).to_have_attribute("data-live", NOT_LIVE, timeout=RECOVERY_MS)

        await network.restore()
        await wait_live(page, RECOVERY_MS)
        assert await page.evaluate("window.__wsOpen") > opened
        # The new connection's first message is a full snapshot: exactly the current counts.
        await expect_tally(page, "1 vote from 1 voter", {"emacs": (1, 100), "vim": (0, 0)})
    if problems.entries:
        pytest.fail("the browser console reported problems:\n" + problems.summary())


# --- no lost tap, no double vote --------------------------------------------------------------


async def test_taps_made_offline_wait_visibly_and_count_once_each_when_the_network_returns(
    contexts: NewContext, problems: Problems, api: Api
) -> None:
    problems.expect_network_errors()
    owner = await api.user()
    # Several choices: a tap toggles, so one sent twice would take the vote back.
    poll = await new_poll(api, owner, ["vim", "emacs", "nano"], allows_multiple=True)
    context = await contexts("voter")
    page = await context.new_page()
    await sign_up(page, "Olive")
    keys: list[str | None] = []

    def on_request(request: Request) -> None:
        if request.method == "POST" and request.url.endswith("/vote"):
            keys.append(request.headers.get("idempotency-key"))

    page.on("request", on_request)
    await page.goto(f"/polls/{poll['id']}")
    await wait_live(page)

    await context.set_offline(True)
    await expect(page.locator("[ws-connect]")).to_have_attribute("data-live", "offline")
    await expect(page.locator("#connection")).to_contain_text("Offline")
    for text in ("vim", "emacs"):
        await choice(page, text).click()
        await expect(choice(page, text)).to_have_class(re.compile(r"\bpending\b"))
        await expect(choice(page, text)).to_contain_text("Not sent yet")
    await expect(page.locator("#vote-announcer")).to_contain_text("not sent yet")
    assert (await counts(api.http, poll))["total"] == 0

    await context.set_offline(False)
    await wait_live(page, RECOVERY_MS)
    for text in ("vim", "emacs"):
        await expect(choice(page, text)).to_have_attribute(
            "aria-pressed", "true", timeout=RECOVERY_MS
        )
    await expect(page.locator("#vote .pending")).to_have_count(0)
    await expect(page.locator("#results .totals")).to_contain_text("2 votes from 1 voter")
    assert await counts(api.http, poll) == dict(vim=1, emacs=1, nano=0, total=2, voters=1)
    assert len(keys) == 2 and all(key and UUID.match(key) for key in keys), keys
    assert keys[0] != keys[1], "each tap has a key of its own"
    if problems.entries:
        pytest.fail("the browser console reported problems:\n" + problems.summary())


async def test_a_vote_whose_answer_was_lost_is_sent_again_with_its_key_and_counted_once(
    contexts: NewContext, problems: Problems, api: Api
) -> None:
    problems.expect_network_errors()
    owner = await api.user()
    poll = await new_poll(api, owner, ["vim", "emacs", "nano"], allows_multiple=True)
    context = await contexts("voter")
    page = await context.new_page()
    await sign_up(page, "Rhea")
    keys: list[str | None] = []

    async def lose_the_first_answer(route: Route) -> None:
        keys.append(route.request.headers.get("idempotency-key"))
        if len(keys) == 1:
            taken = await route.fetch()  # the server takes the vote...
            assert 'aria-pressed="true"' in await taken.text(), "the first attempt counted"
            await route.abort("connectionreset")  # ...and the browser never hears back
        else:
            await route.continue_()

    await page.route(re.compile(r"/polls/\d+/vote$"), lose_the_first_answer)
    await page.goto(f"/polls/{poll['id']}")
    await wait_live(page)
    await choice(page, "vim").click()
    await expect(choice(page, "vim")).to_have_attribute("aria-pressed", "true", timeout=RECOVERY_MS)
    assert len(keys) == 2 and keys[0] == keys[1] and UUID.match(keys[0] or ""), keys
    assert await counts(api.http, poll) == dict(vim=1, emacs=0, nano=0, total=1, voters=1)
    if problems.entries:
        pytest.fail("the browser console reported problems:\n" + problems.summary())


# --- keyboard, screen readers, small and large screens ---------------------------------------


async def test_keyboard_focus_stays_on_the_option_just_chosen(
    contexts: NewContext, problems: Problems, api: Api
) -> None:
    owner = await api.user()
    poll = await new_poll(api, owner, ["vim", "emacs", "nano"])
    context = await contexts("keyboard")
    page = await context.new_page()
    await sign_up(page, "Kay")
    await page.goto(f"/polls/{poll['id']}")
    await wait_live(page)

    await choice(page, "emacs").focus()
    await page.keyboard.press("Enter")
    await expect(choice(page, "emacs")).to_have_attribute("aria-pressed", "true")
    await expect(choice(page, "emacs")).to_be_focused()

    await page.keyboard.press("Shift+Tab")  # back to vim, then Space to choose it instead
    await expect(choice(page, "vim")).to_be_focused()
    await page.keyboard.press("Space")
    await expect(choice(page, "vim")).to_have_attribute("aria-pressed", "true")
    await expect(choice(page, "emacs")).to_have_attribute("aria-pressed", "false")
    await expect(choice(page, "vim")).to_be_focused()

    withdraw = page.get_by_role("button", name="Withdraw my vote")
    await withdraw.focus()
    await page.keyboard.press("Enter")
    await expect(withdraw).to_have_count(0)
    await expect(choice(page, "vim")).to_have_attribute("aria-pressed", "false")
    await expect(choice(page, "vim")).to_be_focused()  # the first option, not the page body
    if problems.entries:
        pytest.fail("the browser console reported problems:\n" + problems.summary())


async def test_the_results_are_summarised_politely_instead_of_read_again_whole(
    contexts: NewContext, problems: Problems, api: Api
) -> None:
    owner, *voters = await api.users(4)
    poll = await new_poll(api, owner, ["vim", "emacs", "nano"])
    context = await contexts("reader")
    page = await context.new_page()
    await page.goto(f"/polls/{poll['id']}")
    await wait_live(page)

    summary = page.locator("#results-summary")
    await expect(summary).to_have_attribute("role", "status")
    await expect(summary).to_have_attribute("aria-live", "polite")
    await expect(summary).to_have_class(re.compile(r"\bvisually-hidden\b"))
    await expect(page.locator("#connection")).to_have_attribute("role", "status")
    # The results block itself is not a live region any more, before or after an update.
    assert await page.locator("#results").get_attribute("aria-live") is None

    await api.vote(voters[0], poll, 0)
    await expect(summary).to_have_text("vim leads with 1 of 1 vote.", timeout=SUMMARY_MS)
    assert await page.locator("#results").get_attribute("aria-live") is None
    await api.votes([(voters[1], 1), (voters[2], 1)], poll)
    await expect(summary).to_have_text("emacs leads with 2 of 3 votes.", timeout=SUMMARY_MS)
    await api.patch(owner, poll, results_hidden=True)
    await expect(summary).to_have_text("3 responses so far.", timeout=SUMMARY_MS)
    if problems.entries:
        pytest.fail("the browser console reported problems:\n" + problems.summary())


async def test_the_results_come_into_view_after_a_vote_on_a_phone_and_sit_beside_the_choices(
    contexts: NewContext, problems: Problems, api: Api
) -> None:
    owner = await api.user()
    options = [f"Option {n}" for n in range(1, 9)]
    poll = await new_poll(api, owner, options)
    context = await contexts("phone", viewport=PHONE, has_touch=True, is_mobile=True)
    page = await context.new_page()
    await sign_up(page, "Pia")
    await page.goto(f"/polls/{poll['id']}")
    await wait_live(page)
    below_the_fold = "() => document.getElementById('results').getBoundingClientRect().top"
    assert await page.evaluate(below_the_fold) > PHONE["height"], "the results start in view"

    await choice(page, "Option 2").tap()
    await expect(choice(page, "Option 2")).to_have_attribute("aria-pressed", "true")
    await page.wait_for_function(
        "() => { const top = document.getElementById('results').getBoundingClientRect().top;"
        " return top >= 0 && top < window.innerHeight / 2; }"
    )
    await expect(choice(page, "Option 2")).to_be_focused()

    wide = await context.new_page()
    await wide.set_viewport_size(WIDE)
    await wide.goto(f"/polls/{poll['id']}")
    await wait_live(wide)
    vote_box = await wide.locator("#vote").bounding_box()
    results_box = await wide.locator("#results").bounding_box()
    assert vote_box and results_box
    assert results_box["x"] >= vote_box["x"] + vote_box["width"], (vote_box, results_box)
    assert results_box["y"] < vote_box["y"] + vote_box["height"], (vote_box, results_box)
    if problems.entries:
        pytest.fail("the browser console reported problems:\n" + problems.summary())
