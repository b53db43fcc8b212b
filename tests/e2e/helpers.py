"""What the browser tests share: signing up, waiting for the live stream, reading the bars."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.e2e.conftest import ACTION_TIMEOUT_MS

PASSWORD = "correct horse battery"


async def sign_up(page: Page, name: str) -> None:
    await page.goto("/signup")
    await page.fill("#name", name)
    await page.fill("#email", f"{name.lower()}@example.org")
    await page.fill("#password", PASSWORD)
    async with page.expect_navigation():
        await page.get_by_role("button", name="Sign up").click()
    await expect(page).to_have_url(re.compile(r"/$"))
    await expect(page.locator(".site-header .who")).to_have_text(name)


async def wait_live(page: Page, within_ms: float = ACTION_TIMEOUT_MS) -> None:
    """The page's live stream is open and has swapped in a message: the page says "Live"."""
    await page.wait_for_function(
        "() => window.__wsOpen > 0 && window.__wsMessages > 0", timeout=within_ms
    )
    await expect(page.locator("[ws-connect]")).to_have_attribute(
        "data-live", "live", timeout=within_ms
    )
    await expect(page.locator("#connection")).to_have_text("Live", timeout=within_ms)


def figures(votes: int, percent: int) -> str:
    return f"{votes} {'vote' if votes == 1 else 'votes'} · {percent}%"


async def expect_tally(
    page: Page,
    totals: str,
    per_option: dict[str, tuple[int, int]],
    within_ms: float = ACTION_TIMEOUT_MS,
) -> None:
    """#results shows these totals, and each option its figures and bar width."""
    results = page.locator("#results")
    await expect(results.locator(".totals")).to_contain_text(totals, timeout=within_ms)
    for text, (votes, percent) in per_option.items():
        row = results.locator(".bar-row", has_text=text)
        await expect(row.locator(".bar-figures")).to_have_text(
            figures(votes, percent), timeout=within_ms
        )
        await expect(row.locator("rect.bar-fill")).to_have_attribute(
            "width", str(percent), timeout=within_ms
        )
