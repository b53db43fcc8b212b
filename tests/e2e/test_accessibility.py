"""axe-core finds nothing wrong on any page: signed out and signed in, voter, presenter and
owner, every form with and without errors, the error pages, the live page while offline with
a tap waiting, in the light and the dark colour scheme; and the API docs (Swagger UI, light
only: it has no dark scheme) as they are used, by keyboard.

The pages come from the app's URL map: every GET route outside the JSON API is either
checked here or listed in NOT_PAGES with the reason, and every page template is rendered by
some check, so a new page cannot be missed. axe-core (tests/e2e/vendor/axe-core, see its
VERSION) is injected by Playwright as an init script, in these tests only: the app never
serves it.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.conftest import TEST_SETTINGS
from tests.e2e.conftest import ACTION_TIMEOUT_MS, NewContext, Problems
from tests.e2e.helpers import PASSWORD, sign_up, wait_live
from tests.live.servers import Server
from webapp import create_app
from webapp.resources import TEMPLATES

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
# GET routes that are not pages a person reads (checked as part of a page, or not HTML).
NOT_PAGES = {
    "static": "files",
    "openapi": "JSON",
    "health.healthz": "JSON for load balancers",
    "health.readyz": "JSON for load balancers",
    "metrics.get_metrics": "Prometheus text",
    "live.poll_live": "the WebSocket",
    "integrity.download_invite_codes": "CSV",
    "polls.vote_block": "a fragment of the poll page, checked there",
    "polls.option_input": "a fragment of the poll form, checked there",
    "polls.nothing": "an empty answer",
    "live.event_live": "the WebSocket",
    "events.vote_block": "a fragment of the event's audience page, checked there",
    "events.export": "CSV and JSON downloads",
    "polls.export": "CSV and JSON downloads",
}
NOT_PAGE_TEMPLATES = {
    "base.html",
    "_macros.html",
    "events/_current.html",
    "events/_live.html",
    "events/_deleted.html",
    "events/_controls.html",
    "polls/_schedule_fields.html",
}
DOCS = ("docs.get_docs", "docs.html")

expect.set_options(timeout=ACTION_TIMEOUT_MS)


@dataclass
class Audit:
    """What axe said about each page, and which routes and templates were checked."""

    violations: list[str] = field(default_factory=list)
    endpoints: set[str] = field(default_factory=set)
    templates: set[str] = field(default_factory=set)
    checked: int = 0

    async def check(self, page: Page, label: str, endpoint: str, template: str) -> None:
        self.endpoints.add(endpoint)
        self.templates.add(template)
        self.checked += 1
        found = await page.evaluate(
            """async () => {
              const report = await window.axe.run(document, { resultTypes: ["violations"] });
              return report.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 4).map((n) => [n.target.join(" "), n.failureSummary]),
                count: v.nodes.length,
              }));
            }"""
        )
        for violation in found:
            nodes = "\n".join(f"      {where}: {why}" for where, why in violation["nodes"])
            self.violations.append(
                f"{label} ({page.url}): {violation['id']} [{violation['impact']}] "
                f"{violation['help']} ({violation['count']} elements)\n{nodes}"
            )


def page_routes() -> set[str]:
    """Every GET endpoint of the app outside the JSON API."""
    app = create_app(TEST_SETTINGS)
    return {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or set()) and not rule.endpoint.startswith("api.")
    }


def page_templates() -> set[str]:
    """Every template that is a whole page (not a partial, the base or the macros)."""
    return {
        path.relative_to(TEMPLATES).as_posix()
        for path in TEMPLATES.rglob("*.html")
        if not path.relative_to(TEMPLATES).as_posix().startswith("_partials/")
    } - NOT_PAGE_TEMPLATES


@pytest.fixture
async def http(live_server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server.base_url, trust_env=False) as client:
        yield client


async def token_for(http: httpx.AsyncClient, name: str) -> dict[str, str]:
    body = {"email": f"{name.lower()}@example.org", "password": PASSWORD}
    response = await http.post("/api/v1/auth/tokens", json=body)
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def make_poll(http: httpx.AsyncClient, auth: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"question": "Which talk first?", "options": ["Databases", "Design", "Security"]}
    response = await http.post("/api/v1/polls", json={**body, **fields}, headers=auth)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def audit_docs(audit: Audit, page: Page, scheme: str) -> None:
    """Swagger UI as it is used, by keyboard: an operation opened and tried out, a schema
    opened, the authorization dialog."""
    await page.goto("/docs")
    await expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    await audit.check(page, f"API docs [{scheme}]", *DOCS)
    path = page.locator('.opblock-summary-path[data-path="/api/v1/polls/{poll_id}/votes"]')
    operation = page.locator(".opblock.opblock-post", has=path)
    await operation.locator(".opblock-summary-control").focus()
    await page.keyboard.press("Enter")
    try_out = operation.get_by_role("button", name="Try it out")
    await try_out.focus()
    await page.keyboard.press("Enter")
    await expect(operation.locator("textarea.body-param__text")).to_be_visible()
    schema = page.locator(".models .json-schema-2020-12-accordion").first
    await schema.focus()
    await page.keyboard.press("Enter")
    await expect(schema).to_have_attribute("aria-expanded", "true")
    await audit.check(page, f"API docs, an operation tried out [{scheme}]", *DOCS)
    await page.locator(".auth-wrapper .btn.authorize").focus()
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Available authorizations")
    await expect(dialog).to_be_visible()
    await audit.check(page, f"API docs, authorization dialog [{scheme}]", *DOCS)
    await dialog.get_by_role("button", name="Close").first.focus()
    await page.keyboard.press("Enter")
    await expect(dialog).to_have_count(0)
    # Then everything open at once: every operation tried out, every schema to the bottom.
    await page.evaluate(OPEN_EVERYTHING)
    await audit.check(page, f"API docs, everything open [{scheme}]", *DOCS)


OPEN_EVERYTHING = """async () => {
  const settle = () => new Promise((done) => setTimeout(done, 200));
  const clickAll = async (selector) => {
    for (const element of document.querySelectorAll(selector)) element.click();
    await settle();
  };
  await clickAll(".opblock:not(.is-open) .opblock-summary-control");
  await clickAll(".try-out__btn:not(.cancel)");
  for (let depth = 0; depth < 4; depth++) {
    await clickAll(".json-schema-2020-12-accordion[aria-expanded=false]");
  }
}"""


# (endpoint, template) of the pages checked more than once.
HOME = ("home.index", "home.html")
SHOW = ("polls.show_poll", "polls/show.html")
FORM = ("polls.new_poll", "polls/form.html")


async def audit_pages(
    audit: Audit, contexts: NewContext, http: httpx.AsyncClient, scheme: str
) -> None:
    async def new_page(name: str) -> tuple[BrowserContext, Page]:
        context = await contexts(f"{name}-{scheme}", color_scheme=scheme)
        await context.add_init_script(path=str(AXE))
        return context, await context.new_page()

    async def check(page: Page, label: str, endpoint: str, template: str) -> None:
        await audit.check(page, f"{label} [{scheme}]", endpoint, template)

    async def visit(page: Page, url: str, label: str, endpoint: str, template: str) -> None:
        await page.goto(url)
        if await page.locator("[ws-connect]").count():
            await wait_live(page)
        await check(page, label, endpoint, template)

    async def send_back(page: Page, button: str, label: str, endpoint: str, template: str) -> None:
        """Submit the form as it is (empty): it comes back with its errors."""
        await page.get_by_role("button", name=button).click()
        await expect(page.locator(".field-error").first).to_be_visible()
        await check(page, label, endpoint, template)

    # Signed out.
    _, anonymous = await new_page("anonymous")
    await visit(anonymous, "/", "home, signed out", *HOME)
    signin, signup = ("auth.signin", "auth/signin.html"), ("auth.signup", "auth/signup.html")
    await visit(anonymous, "/signin", "sign-in form", *signin)
    await send_back(anonymous, "Sign in", "sign-in form with errors", *signin)
    await visit(anonymous, "/signup", "sign-up form", *signup)
    await send_back(anonymous, "Sign up", "sign-up form with errors", *signup)
    await visit(anonymous, "/join?code=ZZZZZZ", "unknown code", "home.join", "home_join_error.html")
    await visit(anonymous, "/polls/424242", "error page (404)", "polls.show_poll", "error.html")
    if scheme == "light":  # Swagger UI has no dark scheme, nor does the page ask for one
        await audit_docs(audit, anonymous, scheme)

    # The owner: signed up in the browser, polls made through the API.
    _, owner = await new_page("owner")
    name = f"Ada{scheme.capitalize()}"
    await sign_up(owner, name)
    auth = await token_for(http, name)
    draft = await make_poll(http, auth, question="A draft")
    guests = await make_poll(http, auth, is_published=True, voting="guests")
    invited = await make_poll(http, auth, is_published=True, voting="invite_codes")
    after_vote = await make_poll(
        http, auth, is_published=True, results_visibility="after_vote", allows_multiple=True
    )
    closed = await make_poll(http, auth, is_published=True)
    scheduled = await make_poll(http, auth, is_published=True, opens_at="2999-01-01T00:00:00Z")
    scale = {"points": 5, "low_label": "Poor", "high_label": "Great"}
    rating = await make_poll(http, auth, is_published=True, kind="scale", options=None, scale=scale)
    words = await make_poll(http, auth, is_published=True, kind="word_cloud", options=None)
    answers = await make_poll(
        http, auth, is_published=True, kind="open_text", options=None, premoderated=True
    )
    qa = await make_poll(
        http, auth, is_published=True, kind="qa", options=None, allows_anonymous=True
    )
    closing = await http.patch(f"/api/v1/polls/{closed['id']}", json={"closed": True}, headers=auth)
    assert closing.status_code == 200, closing.text
    codes = f"/api/v1/polls/{invited['id']}/invite-codes"
    issued = await http.post(codes, json={"count": 3}, headers=auth)
    assert issued.status_code in (200, 201), issued.text

    await visit(owner, "/", "home, your polls", *HOME)
    await visit(owner, "/polls/new", "new poll form", *FORM)
    await owner.get_by_role("button", name="Add option").click()
    await send_back(owner, "Publish", "poll form with errors", "polls.create_poll", FORM[1])
    await visit(owner, f"/polls/{draft['id']}", "owner's draft", *SHOW)
    await visit(owner, f"/polls/{draft['id']}/edit", "edit draft", "polls.edit_poll", FORM[1])
    for poll, label in ((guests, "guests"), (invited, "invite-code"), (after_vote, "after-vote")):
        await visit(owner, f"/polls/{poll['id']}", f"owner's {label} poll", *SHOW)
    pages = [
        ("present", "presenter view", "present.present_poll", "polls/present.html"),
        ("integrity", "integrity report", "integrity.show_integrity", "polls/integrity.html"),
        ("delete", "delete confirmation", "polls.delete", "polls/delete.html"),
        ("reset", "reset confirmation", "polls.reset", "polls/reset.html"),
    ]
    for path, label, endpoint, template in pages:
        await visit(owner, f"/polls/{guests['id']}/{path}", label, endpoint, template)
    # The other question types (#15): the owner's page and the presenter view of each.
    kinds = ((rating, "rating scale"), (words, "word cloud"), (answers, "open text"), (qa, "Q&A"))
    for poll, label in kinds:
        await visit(owner, f"/polls/{poll['id']}", f"owner's {label}", *SHOW)
        present = ("present.present_poll", "polls/present.html")
        await visit(owner, f"/polls/{poll['id']}/present", f"presenter view, {label}", *present)

    # An event (#14): the owner's pages, then the audience's, signed out and as a voter.
    made = await http.post("/api/v1/events", json={"title": "A talk"}, headers=auth)
    assert made.status_code == 201, made.text
    event = made.json()
    body = {"question": "Ready?", "options": ["Yes", "No"], "is_published": True}
    body["voting"] = "guests"
    added = await http.post(f"/api/v1/events/{event['id']}/polls", json=body, headers=auth)
    assert added.status_code == 201, added.text
    moved = await http.put(
        f"/api/v1/events/{event['id']}/current", json={"move": "next"}, headers=auth
    )
    assert moved.status_code == 200, moved.text
    events_path = f"/events/{event['id']}"
    await visit(owner, "/events", "your events", "events.list_events", "events/index.html")
    await visit(owner, events_path, "an event's page", "events.manage", "events/manage.html")
    for path, label, endpoint, template in (
        ("present", "event on the big screen", "events.present", "events/present.html"),
        ("remote", "event remote", "events.remote", "events/remote.html"),
    ):
        await visit(owner, f"{events_path}/{path}", label, endpoint, template)
    audience = ("events.audience", "events/show.html")
    await visit(anonymous, f"/e/{event['join_code']}", "event audience, signed out", *audience)

    # Signed out again, on polls that ask for something: a guest name, an invite code.
    code = guests["join_code"]
    await visit(anonymous, f"/j/{code}", "guest poll, signed out", "home.join_short", SHOW[1])
    await visit(anonymous, f"/polls/{invited['id']}", "invite-code poll, signed out", *SHOW)
    await visit(anonymous, f"/polls/{after_vote['id']}", "hidden results, signed out", *SHOW)
    await anonymous.goto(f"/polls/{guests['id']}")
    await anonymous.locator(".guest-form").evaluate("form => form.submit()")  # no name
    await expect(anonymous.locator(".field-error")).to_be_visible()
    await check(anonymous, "guest form with errors", "auth.join_as_guest", "auth/guest.html")

    # A voter: voted, offline with a tap waiting, on a closed poll.
    voter_context, voter = await new_page("voter")
    await sign_up(voter, f"Bea{scheme.capitalize()}")
    await visit(voter, "/", "home, signed in", *HOME)
    await visit(voter, f"/polls/{guests['id']}", "voter's poll", *SHOW)
    chosen = voter.locator("#vote .choice").nth(1)
    await chosen.click()
    await expect(chosen).to_have_attribute("aria-pressed", "true")
    await check(voter, "voter's poll after voting", *SHOW)
    await voter_context.set_offline(True)
    await expect(voter.locator("[ws-connect]")).to_have_attribute("data-live", "offline")
    waiting = voter.locator("#vote .choice").nth(2)
    await waiting.click()
    await expect(waiting).to_contain_text("Not sent yet")
    await check(voter, "voter's poll offline, a tap waiting", *SHOW)
    await voter_context.set_offline(False)
    await expect(waiting).to_have_attribute("aria-pressed", "true", timeout=15_000)
    await visit(voter, f"/polls/{rating['id']}", "voter's rating scale", *SHOW)
    await voter.locator("#vote label.scale-point:has(input[value='4'])").click()
    await voter.get_by_role("button", name="Rate").click()
    await expect(voter.locator("#vote .your-rating")).to_contain_text("4")
    await check(voter, "voter's rating scale after rating", *SHOW)
    await visit(voter, f"/polls/{words['id']}", "voter's word cloud", *SHOW)
    await voter.fill("#word-answer", "Coffee")
    await voter.locator("#add-word").click()
    await expect(voter.locator("#vote .my-word")).to_have_text(["Coffee"])
    await check(voter, "voter's word cloud after an answer", *SHOW)
    await visit(voter, f"/polls/{answers['id']}", "voter's open text", *SHOW)
    await voter.fill("#open-text-answer", "More demos")
    await voter.locator("#answer").click()
    await expect(voter.locator("#vote .your-answer")).to_be_visible()
    await check(voter, "voter's open text, answer awaiting approval", *SHOW)
    await visit(voter, f"/polls/{qa['id']}", "voter's Q&A", *SHOW)
    await voter.fill("#qa-text", "When is lunch?")
    await voter.locator("#ask").click()
    await expect(voter.locator("#results .qa-question")).to_have_count(1)
    await check(voter, "voter's Q&A after asking", *SHOW)
    qa_list = ("qa.list_questions", "polls/qa_questions.html")
    await visit(voter, f"/polls/{qa['id']}/qa/questions?sort=upvotes", "Q&A list page", *qa_list)
    # The owner's moderation queues, now that there is something in them.
    for poll, label in ((words, "word cloud"), (answers, "open text"), (qa, "Q&A")):
        await visit(owner, f"/polls/{poll['id']}", f"owner's {label} with responses", *SHOW)
    await visit(voter, f"/polls/{closed['id']}", "closed poll", *SHOW)
    await visit(voter, f"/polls/{scheduled['id']}", "scheduled poll", *SHOW)
    await visit(voter, f"/e/{event['join_code']}", "event audience, a voter", *audience)


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_axe_finds_no_violations_on_any_page(
    scheme: str,
    contexts: NewContext,
    problems: Problems,
    http: httpx.AsyncClient,
) -> None:
    problems.expect_network_errors()  # the offline step
    problems.expect_error_pages()  # the 404s and the forms sent back with errors
    audit = Audit()
    await audit_pages(audit, contexts, http, scheme)

    light_only = {"docs.get_docs"} if scheme == "dark" else set()
    missing = page_routes() - audit.endpoints - set(NOT_PAGES) - light_only
    assert not missing, f"pages nobody checks: add them here or to NOT_PAGES: {sorted(missing)}"
    unrendered = page_templates() - audit.templates - ({"docs.html"} if light_only else set())
    assert not unrendered, f"page templates never checked: {sorted(unrendered)}"
    print(f"axe checked {audit.checked} pages [{scheme}]")
    found = "\n".join(audit.violations)
    assert not audit.violations, f"axe found {len(audit.violations)} violations:\n{found}"
    if problems.entries:
        pytest.fail("the browser console reported problems:\n" + problems.summary())


def test_the_page_list_is_the_apps_own() -> None:
    """NOT_PAGES names only routes that exist (a renamed route is not silently skipped)."""
    assert set(NOT_PAGES) <= page_routes(), json.dumps(sorted(set(NOT_PAGES) - page_routes()))
    assert re.search(r"axe v\d", AXE.read_text()[:200])
