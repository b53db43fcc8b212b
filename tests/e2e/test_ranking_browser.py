"""A ranking in a real browser (#15): made through the form, one phone orders the options
from the keyboard (Move up / Move down), another by dragging, and the presenter view
follows live without reloading. static/js/ranking.js keeps the hidden selects in step, so
what is sent is the order shown."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from playwright.async_api import Page, ViewportSize, expect

from tests.e2e.conftest import ACTION_TIMEOUT_MS, NewContext, Problems
from tests.e2e.helpers import sign_up, wait_live
from tests.e2e.test_accessibility import AXE, Audit
from tests.live.servers import Server

PHONE: ViewportSize = {"width": 390, "height": 844}
SCREEN: ViewportSize = {"width": 1920, "height": 1080}
TEST_BUDGET = 60.0
OPTIONS = ("Tea", "Coffee", "Water")

expect.set_options(timeout=ACTION_TIMEOUT_MS)


async def make_ranking(page: Page) -> int:
    await page.goto("/polls/new")
    await page.fill("#question", "Which first?")
    await page.select_option("#kind", "ranking")
    await expect(page.locator("fieldset[data-kind='choice ranking']")).to_be_visible()
    inputs = page.locator("#options input[name='options']")
    for index, text in enumerate(OPTIONS):
        await inputs.nth(index).fill(text)
    async with page.expect_navigation(url=re.compile(r"/polls/\d+$")):
        await page.get_by_role("button", name="Publish").click()
    match = re.search(r"/polls/(\d+)$", page.url)
    assert match, page.url
    return int(match.group(1))


async def expect_order(page: Page, texts: list[str]) -> None:
    await expect(page.locator("#vote .ranking-item .ranking-text")).to_have_text(texts)


async def test_two_phones_rank_by_keyboard_and_by_drag_and_the_presenter_follows(
    live_server: Server, contexts: NewContext, problems: Problems
) -> None:
    async with asyncio.timeout(TEST_BUDGET):
        owner = await (await contexts("A", viewport=SCREEN)).new_page()
        await sign_up(owner, "Ada")
        poll_id = await make_ranking(owner)
        present = await owner.context.new_page()
        await present.goto(f"/polls/{poll_id}/present")
        await wait_live(present)
        await present.evaluate("window.__marker = 1")
        await expect(present.locator("#results .totals")).to_contain_text("0 rankings")

        # From the keyboard: Water up twice, its focus kept on the item as it moves.
        keys = await (await contexts("Bea", viewport=PHONE)).new_page()
        await sign_up(keys, "Bea")
        await keys.goto(f"/polls/{poll_id}")
        await wait_live(keys)
        await expect(keys.locator("#vote .ranking-selects")).to_be_hidden()
        await expect_order(keys, list(OPTIONS))
        await keys.get_by_role("button", name=re.compile(r"^Move up\W+Water$")).focus()
        await keys.keyboard.press("Enter")
        await expect(
            keys.get_by_role("button", name=re.compile(r"^Move up\W+Water$"))
        ).to_be_focused()
        await keys.keyboard.press("Enter")  # now first: its Move up is disabled
        await expect(
            keys.get_by_role("button", name=re.compile(r"^Move down\W+Water$"))
        ).to_be_focused()
        await expect_order(keys, ["Water", "Tea", "Coffee"])
        await expect(keys.locator("#vote-announcer")).to_contain_text("Water: place 1 of 3")
        await keys.get_by_role("button", name="Send my ranking").click()
        await expect(keys.locator("#vote .your-ranking")).to_contain_text("Water")
        await expect_order(keys, ["Water", "Tea", "Coffee"])  # set up again after the swap
        rows = present.locator("#results .bar-row .bar-text")
        await expect(rows.first).to_contain_text("Water")

        # By dragging: Coffee's handle taken above Tea.
        drag = await (await contexts("Cy", viewport=PHONE)).new_page()
        await sign_up(drag, "Cy")
        await drag.goto(f"/polls/{poll_id}")
        await wait_live(drag)
        items = drag.locator("#vote .ranking-item")
        handle = await items.nth(1).locator(".ranking-handle").bounding_box()
        target = await items.nth(0).bounding_box()
        assert handle and target
        await drag.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
        await drag.mouse.down()
        await drag.mouse.move(handle["x"] + 5, target["y"] + 2, steps=8)
        await drag.mouse.up()
        await expect_order(drag, ["Coffee", "Tea", "Water"])
        await drag.get_by_role("button", name="Send my ranking").click()
        await expect(drag.locator("#vote .your-ranking")).to_contain_text("Coffee")

        # Water 2 + 0, Coffee 0 + 2, Tea 1 + 1: a three-way tie at 2 points, listed by first
        # places (Water and Coffee one each, in the poll's order: Coffee, then Water), Tea last.
        await expect(present.locator("#results .totals")).to_contain_text("2 rankings")
        await expect(rows).to_have_count(3)
        figures = present.locator("#results .bar-figures")
        await expect(figures).to_contain_text(["2 points", "2 points", "2 points"])
        texts = await rows.all_inner_texts()
        assert [t.split(" (")[0].split(". ", 1)[1] for t in texts] == ["Coffee", "Water", "Tea"]
        await expect(present.locator("#results .ranking-tie")).to_have_count(3)
        await expect(present.locator("#results .ranking-explanation")).to_contain_text("points")
        assert await present.evaluate("window.__marker") == 1, "the presenter view reloaded"
    if problems.entries:
        pytest.fail("the browser console reported problems:\n" + problems.summary(), pytrace=False)


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_axe_finds_no_violations_on_a_rankings_pages(
    scheme: str, live_server: Server, contexts: NewContext, problems: Problems
) -> None:
    """The voter's block as the script makes it (before and after ranking, an item being
    dragged), the owner's page and the presenter view, light and dark."""
    audit = Audit()

    async def new_page(name: str, **options: Any) -> Page:
        context = await contexts(f"{name}-{scheme}", color_scheme=scheme, **options)
        await context.add_init_script(path=str(AXE))
        return await context.new_page()

    show = ("polls.show_poll", "polls/show.html")
    async with asyncio.timeout(TEST_BUDGET):
        owner = await new_page("owner", viewport=SCREEN)
        await sign_up(owner, f"Ada{scheme.capitalize()}")
        poll_id = await make_ranking(owner)
        await wait_live(owner)
        await audit.check(owner, f"owner's ranking [{scheme}]", *show)

        voter = await new_page("voter", viewport=PHONE)
        await sign_up(voter, f"Bea{scheme.capitalize()}")
        await voter.goto(f"/polls/{poll_id}")
        await wait_live(voter)
        await expect_order(voter, list(OPTIONS))
        await audit.check(voter, f"voter's ranking [{scheme}]", *show)
        handle = await voter.locator("#vote .ranking-handle").first.bounding_box()
        assert handle
        await voter.mouse.move(handle["x"] + 4, handle["y"] + 4)
        await voter.mouse.down()
        await expect(voter.locator("#vote .ranking-dragging")).to_have_count(1)
        await audit.check(voter, f"voter's ranking, dragging [{scheme}]", *show)
        await voter.mouse.up()
        await voter.get_by_role("button", name="Send my ranking").click()
        await expect(voter.locator("#vote .your-ranking")).to_be_visible()
        await audit.check(voter, f"voter's ranking after ranking [{scheme}]", *show)

        await owner.goto(f"/polls/{poll_id}/present")
        await wait_live(owner)
        await expect(owner.locator("#results .totals")).to_contain_text("1 ranking")
        await audit.check(
            owner,
            f"presenter view, ranking [{scheme}]",
            "present.present_poll",
            "polls/present.html",
        )
    found = "\n".join(audit.violations)
    assert not audit.violations, f"axe found {len(audit.violations)} violations:\n{found}"
    if problems.entries:
        pytest.fail("the browser console reported problems:\n" + problems.summary(), pytrace=False)
