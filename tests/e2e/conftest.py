"""End-to-end fixtures: a real `webapp.cli serve` process and a headless Chromium (Playwright).

The server runs on the test database (tests.conftest.DB_URL, PostgreSQL or SQLite) through
tests.live.servers, with cheap password hashing and a data folder of its own. The browser is
Debian's Chromium, driven by Playwright's async API on pytest-asyncio's session loop; nothing is
ever downloaded. Every browser context made by `contexts` records console errors, CSP
violations and uncaught page errors, so a test can insist there were none.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Page,
    async_playwright,
)

from tests.live.servers import Server, running_server

CHROMIUM = "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ACTION_TIMEOUT_MS = 5_000
HEARTBEAT_S = "1"
# The browser asks for /favicon.ico by itself; the app has none. Not a page's error.
IGNORED_SOURCE = re.compile(r"/favicon\.ico$")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# Runs in every page before its own scripts (injected by the browser, so CSP does not apply):
# counts the live stream's openings and swapped messages (static/js/live.js), and reports CSP
# violations to the console in a recognisable form (Chromium logs them too, but this one
# names the directive).
PAGE_PROBE = """
(() => {
  window.__wsOpen = 0;
  window.__wsMessages = 0;
  document.addEventListener("livepolls:open", () => { window.__wsOpen += 1; });
  document.addEventListener("livepolls:message", () => { window.__wsMessages += 1; });
  document.addEventListener("securitypolicyviolation", (event) => {
    console.error("CSP violation: " + event.violatedDirective + " blocked " + event.blockedURI);
  });
})();
"""


@pytest.fixture(scope="session")
async def live_server(
    migrated_database: None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Server]:
    """One server for the e2e tests; each test still starts from empty tables (clean_tables).

    Heartbeats every HEARTBEAT_S: pages take two missed ones for a dead connection, so a
    silent drop shows within seconds (tests/e2e/test_live_resilience.py)."""
    data_dir = tmp_path_factory.mktemp("livepolls-e2e-data")
    env = {"LIVEPOLLS_DATA_DIR": str(data_dir), "LIVEPOLLS_HEARTBEAT_S": HEARTBEAT_S}
    async with running_server(env=env) as server:
        yield server


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian's chromium package)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            with contextlib.suppress(Error):
                await browser.close()


# What the browser itself logs when the network is down on purpose (tests/e2e/network.py):
# failed loads and WebSocket connections, and connections dropped before they opened.
NETWORK_DOWN = re.compile(
    r"^(Failed to load resource: net::ERR_|WebSocket connection to '[^']*' failed)"
)

ERROR_STATUS = re.compile(r"^Failed to load resource: the server responded with a status of 4\d\d")


@dataclass
class Problems:
    """What the pages said went wrong: console errors and warnings, uncaught exceptions.

    A test that takes the network away on purpose says so with `expect_network_errors()`:
    the browser's own reports of failed connections are then not problems (anything else
    still is)."""

    entries: list[str] = field(default_factory=list)
    expected: list[re.Pattern[str]] = field(default_factory=list)

    def expect_network_errors(self) -> None:
        self.expected.append(NETWORK_DOWN)

    def expect_error_pages(self) -> None:
        """Pages answered with an error status on purpose (a 404, a form sent back)."""
        self.expected.append(ERROR_STATUS)

    def watch(self, name: str, page: Page) -> None:
        def on_console(message: ConsoleMessage) -> None:
            text = message.text
            source = message.location.get("url") or page.url
            if IGNORED_SOURCE.search(source) and text.startswith("Failed to load resource"):
                return
            if any(pattern.search(text) for pattern in self.expected):
                return
            if message.type == "error" or "Content Security Policy" in text:
                self.entries.append(f"[{name}] console.{message.type}: {text} ({source})")

        def on_page_error(error: Error) -> None:
            self.entries.append(f"[{name}] page error: {error} @ {page.url}")

        page.on("console", on_console)
        page.on("pageerror", on_page_error)

    def summary(self) -> str:
        """Each distinct problem once, with how often it came, in order of first appearance."""
        counts = Counter(self.entries)
        return "\n".join(f"{n} x {entry}" if n > 1 else entry for entry, n in counts.items())


NewContext = Callable[..., Awaitable[BrowserContext]]


@pytest.fixture
def problems() -> Problems:
    return Problems()


@pytest.fixture
async def contexts(
    browser: Browser, live_server: Server, problems: Problems
) -> AsyncIterator[NewContext]:
    """Make isolated browser contexts (separate cookies) on the live server; closed at the end."""
    made: list[BrowserContext] = []

    async def new_context(name: str, **options: Any) -> BrowserContext:
        options.setdefault("base_url", live_server.base_url)
        context = await browser.new_context(**options)
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.set_default_navigation_timeout(ACTION_TIMEOUT_MS)
        await context.add_init_script(PAGE_PROBE)
        counter = 0

        def on_page(page: Page) -> None:
            nonlocal counter
            counter += 1
            problems.watch(f"{name}#{counter}", page)

        context.on("page", on_page)
        made.append(context)
        return context

    yield new_context
    for context in made:
        with contextlib.suppress(Error):
            await context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
