"""Question types in a real browser (#15): a presenter makes the poll through the form, two
phones respond, and the presenter view follows live, without reloading.

One scenario per type (rating scale, word cloud, open text, Q&A; the ranking has its own,
tests/e2e/test_ranking_browser.py); the console must stay clean throughout.
"""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Page, ViewportSize, expect

from tests.e2e.conftest import ACTION_TIMEOUT_MS, NewContext, Problems
from tests.e2e.helpers import sign_up, wait_live
from tests.live.servers import Server

PHONE: ViewportSize = {"width": 390, "height": 844}
SCREEN: ViewportSize = {"width": 1920, "height": 1080}
TEST_BUDGET = 60.0

expect.set_options(timeout=ACTION_TIMEOUT_MS)


def assert_console_clean(problems: Problems) -> None:
    if problems.entries:
        pytest.fail("the browser console reported problems:\n" + problems.summary(), pytrace=False)


async def mark(page: Page) -> None:
    await page.evaluate("window.__marker = 1")


async def assert_not_reloaded(page: Page) -> None:
    assert await page.evaluate("window.__marker") == 1, f"{page.url} was reloaded"


async def make_poll(page: Page, question: str, kind: str) -> int:
    """Fill the new-poll form for a type (only its settings show) and publish."""
    await page.goto("/polls/new")
    await page.fill("#question", question)
    await page.select_option("#kind", kind)
    await expect(page.locator("fieldset[data-kind='choice ranking']")).to_be_hidden()
    if kind == "scale":
        await expect(page.locator("fieldset[data-kind='scale']")).to_be_visible()
        await page.fill("#scale_points", "5")
        await page.fill("#scale_low", "Poor")
        await page.fill("#scale_high", "Great")
    else:
        await expect(page.locator("fieldset[data-kind='scale']")).to_be_hidden()
    async with page.expect_navigation(url=re.compile(r"/polls/\d+$")):
        await page.get_by_role("button", name="Publish").click()
    match = re.search(r"/polls/(\d+)$", page.url)
    assert match, page.url
    return int(match.group(1))


async def rate(page: Page, value: int) -> None:
    await page.locator(f"#vote label.scale-point:has(input[value='{value}'])").click()
    await page.get_by_role("button", name=re.compile(r"^(Rate|Change my rating)$")).click()
    await expect(page.locator("#vote .your-rating")).to_contain_text(str(value))


async def presenter_and_phones(
    contexts: NewContext, question: str, kind: str
) -> tuple[Page, list[Page]]:
    """The owner makes the poll through the form and opens the presenter view; two phones
    sign up and open the poll; all of them live."""
    owner = await (await contexts("A", viewport=SCREEN)).new_page()
    await sign_up(owner, "Ada")
    poll_id = await make_poll(owner, question, kind)
    present = await owner.context.new_page()
    await present.goto(f"/polls/{poll_id}/present")
    await wait_live(present)
    await mark(present)
    return present, await live_phones(contexts, poll_id)


async def live_phones(contexts: NewContext, poll_id: int) -> list[Page]:
    """Two phones (Bea, Cy) sign up and open the poll, live and marked (`mark`)."""
    phones = []
    for name in ("Bea", "Cy"):
        context = await contexts(name, viewport=PHONE, has_touch=True, is_mobile=True)
        phone = await context.new_page()
        await sign_up(phone, name)
        await phone.goto(f"/polls/{poll_id}")
        await wait_live(phone)
        await mark(phone)
        phones.append(phone)
    return phones


async def test_two_phones_give_words_and_the_presenter_view_follows(
    live_server: Server, contexts: NewContext, problems: Problems
) -> None:
    async with asyncio.timeout(TEST_BUDGET):
        present, phones = await presenter_and_phones(contexts, "One word for today?", "word_cloud")
        for phone, word in ((phones[0], "Coffee"), (phones[1], "coffee!")):
            await phone.fill("#word-answer", word)
            await phone.locator("#add-word").click()
            await expect(phone.locator("#vote .my-word")).to_have_text([word.rstrip("!")])
        cloud = present.locator("#results svg text", has_text="Coffee")
        await expect(cloud).to_have_count(1)  # one word, in its first spelling
        await expect(present.locator("#results .totals")).to_contain_text("2 answers, 1 different")
        await phones[1].fill("#word-answer", "Tea")
        await phones[1].locator("#add-word").click()
        await expect(present.locator("#results svg text", has_text="Tea")).to_have_count(1)
        await expect(phones[0].locator("#results svg text", has_text="Tea")).to_have_count(1)
        for page in (present, *phones):
            await assert_not_reloaded(page)
    assert_console_clean(problems)


async def test_two_phones_answer_and_the_presenter_view_lists_them(
    live_server: Server, contexts: NewContext, problems: Problems
) -> None:
    async with asyncio.timeout(TEST_BUDGET):
        present, phones = await presenter_and_phones(
            contexts, "What should we change?", "open_text"
        )
        for phone, text in ((phones[0], "More demos"), (phones[1], "Shorter breaks")):
            await phone.fill("#open-text-answer", text)
            await phone.locator("#answer").click()
            await expect(phone.locator("#vote .your-answer")).to_contain_text("shown")
            await expect(phone.locator("#open-text-answer")).to_have_value(text)
        answers = present.locator("#results .open-text-answer .open-text-body")
        await expect(answers).to_have_text(["Shorter breaks", "More demos"])  # newest first
        await expect(phones[0].locator("#results .open-text-answer")).to_have_count(2)
        for page in (present, *phones):
            await assert_not_reloaded(page)
    assert_console_clean(problems)


async def test_a_phone_asks_another_upvotes_and_the_presenter_view_follows(
    live_server: Server, contexts: NewContext, problems: Problems
) -> None:
    async with asyncio.timeout(TEST_BUDGET):
        present, phones = await presenter_and_phones(contexts, "Questions for the panel", "qa")
        await phones[0].fill("#qa-text", "When is lunch?")
        await phones[0].locator("#ask").click()
        question = present.locator("#results .qa-question", has_text="When is lunch?")
        await expect(question.locator(".qa-count")).to_have_text("0 upvotes")
        await expect(question.locator(".qa-asker")).to_have_text("Bea")
        theirs = phones[1].locator("#results .qa-question", has_text="When is lunch?")
        await theirs.locator(".qa-upvote").click()
        await expect(question.locator(".qa-count")).to_have_text("1 upvote")
        await expect(
            phones[0]
            .locator("#results .qa-question", has_text="When is lunch?")
            .locator(".qa-count")
        ).to_have_text("1 upvote")
        for page in (present, *phones):
            await assert_not_reloaded(page)
    assert_console_clean(problems)


async def test_two_phones_rate_and_the_presenter_view_follows(
    live_server: Server, contexts: NewContext, problems: Problems
) -> None:
    async with asyncio.timeout(TEST_BUDGET):
        present, phones = await presenter_and_phones(contexts, "How was the keynote?", "scale")
        await expect(present.locator("#results .scale-summary")).to_contain_text("Average –")
        await rate(phones[0], 5)
        await expect(present.locator("#results .scale-average")).to_have_text("5.00")
        await rate(phones[1], 2)
        await expect(present.locator("#results .scale-average")).to_have_text("3.50")
        await expect(present.locator("#results .scale-median")).to_have_text("3.5")
        await expect(present.locator("#results .totals")).to_contain_text("2 ratings")
        await expect(phones[0].locator("#results .totals")).to_contain_text("2 ratings")
        await rate(phones[0], 4)  # a change moves the count, not the total
        await expect(present.locator("#results .scale-average")).to_have_text("3.00")
        await expect(present.locator("#results .totals")).to_contain_text("2 ratings")
        for page in (present, *phones):
            await assert_not_reloaded(page)
    assert_console_clean(problems)
