"""CSRF on every state-changing page request, and the security headers and markup of the pages
(a strict Content-Security-Policy, so no inline scripts, handlers or styles)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from quart import Quart

from tests.conftest import TEST_SETTINGS
from tests.pages.helpers import (
    FORM,
    PASSWORD,
    Browser,
    Page,
    api_poll,
    api_token,
    bearer,
    option_ids,
    signed_up,
)
from webapp import create_app, invites
from webapp.tables import (
    AuthToken,
    Event,
    EventQuestion,
    InviteCode,
    Poll,
    PollOption,
    User,
    Vote,
)

# --- CSRF ----------------------------------------------------------------------------------------


async def db_state() -> dict[str, list[dict[str, Any]]]:
    """Every row the pages can change, to show that a refused request changed nothing."""
    return {
        "users": list(await User.select().order_by(User.id)),
        "tokens": list(await AuthToken.select().order_by(AuthToken.id)),
        "polls": list(await Poll.select().order_by(Poll.id)),
        "options": list(await PollOption.select().order_by(PollOption.id)),
        "votes": list(
            await Vote.select(Vote.user, Vote.option, Vote.poll)
            .order_by(Vote.user)
            .order_by(Vote.option)
        ),
        "invite codes": list(await InviteCode.select().order_by(InviteCode.id)),
        "events": list(await Event.select().order_by(Event.id)),
        "event questions": list(await EventQuestion.select().order_by(EventQuestion.id)),
    }


@dataclass
class Request:
    browser: Browser
    path: str
    fields: list[tuple[str, str]]


Setup = Callable[[Quart], Awaitable[Request]]


async def _creator_with_poll(app: Quart, **settings: Any) -> tuple[Browser, int]:
    creator = await signed_up(app, "Creator")
    return creator, await creator.create_poll(**settings)


async def signup(app: Quart) -> Request:
    visitor = Browser(app)
    await visitor.csrf()
    fields = [("name", "Eve"), ("email", "eve@example.org"), ("password", PASSWORD)]
    return Request(visitor, "/signup", fields)


async def signin(app: Quart) -> Request:
    await signed_up(app, "Ann")
    visitor = Browser(app)
    await visitor.csrf()
    return Request(visitor, "/signin", [("email", "ann@example.org"), ("password", PASSWORD)])


async def signout(app: Quart) -> Request:
    return Request(await signed_up(app, "Ann"), "/signout", [])


async def guest_join(app: Quart) -> Request:
    _, poll_id = await _creator_with_poll(app, guests=True)
    visitor = Browser(app)
    await visitor.get(f"/polls/{poll_id}")
    return Request(visitor, f"/guest?{urlencode({'next': f'/polls/{poll_id}'})}", [("name", "Gus")])


async def create_poll(app: Quart) -> Request:
    member = await signed_up(app, "Ann")
    fields = [("question", "Forged?"), ("options", "a"), ("options", "b"), ("action", "publish")]
    return Request(member, "/polls", fields)


async def edit_poll(app: Quart) -> Request:
    creator, poll_id = await _creator_with_poll(app, action="draft")
    fields = [("question", "Forged?"), ("options", "a"), ("options", "b"), ("action", "draft")]
    return Request(creator, f"/polls/{poll_id}/edit", fields)


async def vote(app: Quart) -> Request:
    creator, poll_id = await _creator_with_poll(app)
    option = (await option_ids(poll_id))[1]
    return Request(creator, f"/polls/{poll_id}/vote", [("option_id", str(option))])


async def withdraw(app: Quart) -> Request:
    creator, poll_id = await _creator_with_poll(app)
    await creator.vote(poll_id, (await option_ids(poll_id))[0])
    return Request(creator, f"/polls/{poll_id}/withdraw", [])


async def publish(app: Quart) -> Request:
    creator, poll_id = await _creator_with_poll(app, action="draft")
    return Request(creator, f"/polls/{poll_id}/publish", [])


async def close(app: Quart) -> Request:
    creator, poll_id = await _creator_with_poll(app)
    return Request(creator, f"/polls/{poll_id}/close", [])


async def reopen(app: Quart) -> Request:
    creator, poll_id = await _creator_with_poll(app)
    await creator.post(f"/polls/{poll_id}/close")
    return Request(creator, f"/polls/{poll_id}/reopen", [])


async def results_hidden(app: Quart) -> Request:
    creator, poll_id = await _creator_with_poll(app)
    return Request(creator, f"/polls/{poll_id}/results-hidden", [("hidden", "1")])


async def redeem_invite(app: Quart) -> Request:
    _, poll_id = await _creator_with_poll(app, voting="invite_codes")
    (code,) = await invites.issue_codes(poll_id, 1, 1)
    visitor = Browser(app)
    await visitor.get(f"/polls/{poll_id}")
    return Request(visitor, f"/polls/{poll_id}/invite", [("code", code)])


async def issue_invite_codes(app: Quart) -> Request:
    creator, poll_id = await _creator_with_poll(app, voting="invite_codes")
    return Request(creator, f"/polls/{poll_id}/invite-codes", [("count", "3")])


async def network_cap(app: Quart) -> Request:
    creator, poll_id = await _creator_with_poll(app, guests=True)
    return Request(creator, f"/polls/{poll_id}/network-cap", [("guest_network_cap", "7")])


async def delete(app: Quart) -> Request:
    creator, poll_id = await _creator_with_poll(app)
    return Request(creator, f"/polls/{poll_id}/delete", [])


async def set_schedule(app: Quart) -> Request:
    creator, poll_id = await _creator_with_poll(app)
    return Request(creator, f"/polls/{poll_id}/schedule", [("closes_at", "2999-01-01T00:00")])


async def reset(app: Quart) -> Request:
    creator, poll_id = await _creator_with_poll(app)
    await creator.vote(poll_id, (await option_ids(poll_id))[0])
    return Request(creator, f"/polls/{poll_id}/reset", [("confirm", "yes")])


async def duplicate(app: Quart) -> Request:
    creator, poll_id = await _creator_with_poll(app)
    return Request(creator, f"/polls/{poll_id}/duplicate", [])


async def _creator_with_event(app: Quart, *, current: bool = True) -> tuple[Browser, int, int]:
    """An event of two of its creator's polls; the first one current unless not `current`."""
    creator, first = await _creator_with_poll(app)
    second = await creator.create_poll(question="Second?")
    page = await creator.post("/events", [("title", "Keynote")])
    assert page.status == 303, page.text
    event_id = int(page.location.rstrip("/").rsplit("/", 1)[1])
    for poll_id in (first, second):
        page = await creator.post(f"/events/{event_id}/questions", [("poll_id", str(poll_id))])
        assert page.status == 303, page.text
    if current:
        page = await creator.post(f"/events/{event_id}/current", [("move", "next")])
        assert page.status == 303, page.text
    return creator, event_id, first


async def create_event(app: Quart) -> Request:
    return Request(await signed_up(app, "Ann"), "/events", [("title", "Forged?")])


async def event_settings(app: Quart) -> Request:
    creator, event_id, _ = await _creator_with_event(app)
    fields = [("title", "Forged?"), ("mode", "self_paced"), ("opens_at", ""), ("closes_at", "")]
    return Request(creator, f"/events/{event_id}/settings", fields)


async def event_add_question(app: Quart) -> Request:
    creator, event_id, _ = await _creator_with_event(app)
    poll_id = await creator.create_poll(question="Third?")
    return Request(creator, f"/events/{event_id}/questions", [("poll_id", str(poll_id))])


async def event_move_question(app: Quart) -> Request:
    creator, event_id, first = await _creator_with_event(app)
    return Request(creator, f"/events/{event_id}/questions/{first}/move", [("direction", "down")])


async def event_remove_question(app: Quart) -> Request:
    creator, event_id, first = await _creator_with_event(app)
    return Request(creator, f"/events/{event_id}/questions/{first}/remove", [])


async def event_current(app: Quart) -> Request:
    creator, event_id, _ = await _creator_with_event(app)
    return Request(creator, f"/events/{event_id}/current", [("move", "next")])


async def event_results_hidden(app: Quart) -> Request:
    creator, event_id, _ = await _creator_with_event(app)
    return Request(creator, f"/events/{event_id}/results-hidden", [("hidden", "1")])


async def event_close(app: Quart) -> Request:
    creator, event_id, _ = await _creator_with_event(app)
    return Request(creator, f"/events/{event_id}/close", [])


async def event_countdown(app: Quart) -> Request:
    creator, event_id, _ = await _creator_with_event(app)
    return Request(creator, f"/events/{event_id}/countdown", [("seconds", "30")])


async def event_duplicate(app: Quart) -> Request:
    creator, event_id, _ = await _creator_with_event(app, current=False)
    return Request(creator, f"/events/{event_id}/duplicate", [])


async def event_reset(app: Quart) -> Request:
    creator, event_id, first = await _creator_with_event(app)
    await creator.vote(first, (await option_ids(first))[0])
    return Request(creator, f"/events/{event_id}/reset", [("confirm", "yes")])


async def event_delete(app: Quart) -> Request:
    creator, event_id, _ = await _creator_with_event(app, current=False)
    return Request(creator, f"/events/{event_id}/delete", [("confirm", "yes")])


async def _kind_poll(app: Quart, kind: str, **settings: Any) -> tuple[Browser, int]:
    """A creator (signed in on the pages) and a published poll of another kind (#15)."""
    creator = await signed_up(app, "Creator")
    token = await api_token(app, "creator@example.org")
    settings.setdefault("options", None)
    poll = await api_poll(app, token, kind=kind, **settings)
    return creator, int(poll["id"])


async def _voter_on(app: Quart, poll_id: int, path: str, fields: list[tuple[str, str]]) -> Browser:
    """A second person, signed in, who has already sent this form once."""
    voter = await signed_up(app, "Voter")
    page = await voter.post(f"/polls/{poll_id}/{path}", fields)
    assert page.status == 303, page.text
    return voter


SCALE = {"points": 5, "low_label": "Low", "high_label": "High"}


async def respond(app: Quart) -> Request:
    _, poll_id = await _kind_poll(app, "scale", scale=SCALE)
    return Request(await signed_up(app, "Voter"), f"/polls/{poll_id}/respond", [("rating", "3")])


async def withdraw_response(app: Quart) -> Request:
    _, poll_id = await _kind_poll(app, "scale", scale=SCALE)
    voter = await _voter_on(app, poll_id, "respond", [("rating", "3")])
    return Request(voter, f"/polls/{poll_id}/respond/withdraw", [])


async def add_word(app: Quart) -> Request:
    _, poll_id = await _kind_poll(app, "word_cloud")
    return Request(await signed_up(app, "Voter"), f"/polls/{poll_id}/words", [("answer", "Tea")])


async def _word_poll_with_answer(app: Quart) -> tuple[Browser, Browser, int]:
    creator, poll_id = await _kind_poll(app, "word_cloud")
    voter = await _voter_on(app, poll_id, "words", [("answer", "Tea")])
    return creator, voter, poll_id


async def remove_word(app: Quart) -> Request:
    _, voter, poll_id = await _word_poll_with_answer(app)
    return Request(voter, f"/polls/{poll_id}/words/1/remove", [])


async def hide_word(app: Quart) -> Request:
    creator, _, poll_id = await _word_poll_with_answer(app)
    return Request(creator, f"/polls/{poll_id}/words/hide", [("key", "tea"), ("hidden", "1")])


async def _question_asked(app: Quart) -> tuple[Browser, Browser, int, int]:
    creator, poll_id = await _kind_poll(app, "qa")
    asker = await _voter_on(app, poll_id, "qa", [("text", "Why?")])
    (row,) = await Poll.raw("SELECT id FROM qa_question WHERE poll = {}", poll_id)
    return creator, asker, poll_id, int(row["id"])


async def ask(app: Quart) -> Request:
    _, poll_id = await _kind_poll(app, "qa")
    return Request(await signed_up(app, "Voter"), f"/polls/{poll_id}/qa", [("text", "How?")])


async def upvote(app: Quart) -> Request:
    _, _, poll_id, question = await _question_asked(app)
    other = await signed_up(app, "Other")
    return Request(other, f"/polls/{poll_id}/qa/{question}/upvote", [])


async def withdraw_upvote(app: Quart) -> Request:
    _, _, poll_id, question = await _question_asked(app)
    other = await signed_up(app, "Other")
    page = await other.post(f"/polls/{poll_id}/qa/{question}/upvote", [])
    assert page.status == 303, page.text
    return Request(other, f"/polls/{poll_id}/qa/{question}/upvote/withdraw", [])


async def delete_question(app: Quart) -> Request:
    _, asker, poll_id, question = await _question_asked(app)
    return Request(asker, f"/polls/{poll_id}/qa/{question}/delete", [])


async def mark_question(app: Quart) -> Request:
    creator, _, poll_id, question = await _question_asked(app)
    return Request(creator, f"/polls/{poll_id}/qa/{question}/mark", [("mark", "answered")])


async def _answer_given(app: Quart, **settings: Any) -> tuple[Browser, int, int]:
    creator, poll_id = await _kind_poll(app, "open_text", **settings)
    await _voter_on(app, poll_id, "respond", [("text", "Loved it")])
    (row,) = await Poll.raw("SELECT id FROM text_answer WHERE poll = {}", poll_id)
    return creator, poll_id, int(row["id"])


async def show_answer(app: Quart) -> Request:
    creator, poll_id, answer = await _answer_given(app, premoderated=True)
    return Request(creator, f"/polls/{poll_id}/answers/{answer}/show", [])


async def hide_answer(app: Quart) -> Request:
    creator, poll_id, answer = await _answer_given(app)
    return Request(creator, f"/polls/{poll_id}/answers/{answer}/hide", [])


async def set_premoderated(app: Quart) -> Request:
    creator, poll_id = await _kind_poll(app, "open_text")
    return Request(creator, f"/polls/{poll_id}/premoderated", [("premoderated", "1")])


# One case per state-changing page route, by endpoint: the request a real visitor would make,
# so that with the token it goes through and changes something.
STATE_CHANGES: dict[str, Setup] = {
    "auth.signup": signup,
    "auth.signin": signin,
    "auth.signout": signout,
    "auth.join_as_guest": guest_join,
    "polls.create_poll": create_poll,
    "polls.edit_poll": edit_poll,
    "polls.vote": vote,
    "polls.withdraw": withdraw,
    "polls.publish": publish,
    "polls.close": close,
    "polls.reopen": reopen,
    "polls.set_results_hidden": results_hidden,
    "integrity.redeem_invite": redeem_invite,
    "integrity.issue_invite_codes": issue_invite_codes,
    "polls.set_network_cap": network_cap,
    "polls.delete": delete,
    "polls.set_schedule": set_schedule,
    "polls.reset": reset,
    "polls.duplicate": duplicate,
    "events.create_event": create_event,
    "events.save_settings": event_settings,
    "events.add_question": event_add_question,
    "events.move_question": event_move_question,
    "events.remove_question": event_remove_question,
    "events.set_current": event_current,
    "events.set_results_hidden": event_results_hidden,
    "events.close_current": event_close,
    "events.countdown": event_countdown,
    "events.duplicate": event_duplicate,
    "events.reset": event_reset,
    "events.delete_event": event_delete,
    "polls.respond": respond,
    "polls.withdraw_response": withdraw_response,
    "words.add_word": add_word,
    "words.remove_word": remove_word,
    "words.hide": hide_word,
    "qa.ask": ask,
    "qa.upvote": upvote,
    "qa.withdraw_upvote": withdraw_upvote,
    "qa.delete": delete_question,
    "qa.mark": mark_question,
    "answers.show_answer": show_answer,
    "answers.hide_answer": hide_answer,
    "answers.set_premoderated": set_premoderated,
}
# Page routes that legitimately take no CSRF token, each with the reason: none today.
CSRF_EXEMPT: dict[str, str] = {}
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def state_changing_page_routes() -> dict[str, str]:
    """Endpoint -> rule of every page route the app's URL map lets change state: all but the
    JSON API (bearer tokens, no cookie), static files and websockets."""
    routes: dict[str, str] = {}
    for rule in create_app(TEST_SETTINGS).url_map.iter_rules():
        if rule.websocket or rule.endpoint == "static" or rule.rule.startswith("/api/"):
            continue
        if (rule.methods or set()) & UNSAFE_METHODS:
            assert rule.methods is not None and not rule.methods & (UNSAFE_METHODS - {"POST"}), (
                f"{rule.rule}: the cases below submit forms (POST) only"
            )
            routes[rule.endpoint] = rule.rule
    return routes


FORM_ROUTES = state_changing_page_routes()
GUARDED = sorted(set(FORM_ROUTES) - set(CSRF_EXEMPT))


async def any_form(app: Quart, endpoint: str) -> Request:
    """A route with no case of its own yet: its creator posting no fields to one of their
    polls. Enough to show the token is checked; the case of its own shows what it changes."""
    creator, poll_id = await _creator_with_poll(app)
    path = re.sub(r"<(?:\w+:)?poll_id>", str(poll_id), FORM_ROUTES[endpoint])
    assert "<" not in path, f"{endpoint}: give it a case of its own in STATE_CHANGES"
    return Request(creator, path, [])


async def case_for(app: Quart, endpoint: str) -> Request:
    setup = STATE_CHANGES.get(endpoint)
    return await setup(app) if setup else await any_form(app, endpoint)


def test_every_state_changing_page_route_has_a_csrf_case() -> None:
    """The URL map, not a list kept by hand, says which routes need the token: a new form
    route is refused below without a token at once, and needs a case showing it goes through."""
    assert FORM_ROUTES, "no state-changing page route found in the URL map"
    missing = sorted(set(GUARDED) - set(STATE_CHANGES))
    assert missing == [], f"add a case to STATE_CHANGES for {missing}"
    stale = sorted(set(STATE_CHANGES) - set(FORM_ROUTES))
    assert stale == [], f"no such state-changing route any more: {stale}"
    assert not set(CSRF_EXEMPT) & set(STATE_CHANGES)


@pytest.mark.parametrize("htmx", [False, True], ids=["form", "htmx"])
@pytest.mark.parametrize("token", ["missing", "wrong", "empty", "another session's"])
@pytest.mark.parametrize("endpoint", GUARDED)
async def test_a_state_change_without_the_right_csrf_token_is_refused_and_changes_nothing(
    app: Quart, endpoint: str, token: str, htmx: bool
) -> None:
    request = await case_for(app, endpoint)
    signed_in_as = (await request.browser.get("/")).signed_in_as()
    choices: dict[str, bool | str] = {
        "missing": False,
        "wrong": "not-the-token",
        "empty": "",
        "another session's": await Browser(app).csrf(),
    }
    sent = choices[token]
    before = await db_state()
    for header in (False, True):
        page = await request.browser.post(
            request.path, request.fields, csrf=sent, csrf_header=header, htmx=htmx
        )
        assert page.status == 403, (header, page.text)
        assert await db_state() == before
    assert (await request.browser.get("/")).signed_in_as() == signed_in_as


@pytest.mark.parametrize("where", ["field", "header"])
@pytest.mark.parametrize("endpoint", GUARDED)
async def test_a_state_change_with_the_csrf_token_goes_through(
    app: Quart, endpoint: str, where: str
) -> None:
    if endpoint not in STATE_CHANGES:
        pytest.fail(f"{endpoint}: add a case to STATE_CHANGES")
    request = await STATE_CHANGES[endpoint](app)
    before = await db_state()
    page = await request.browser.post(request.path, request.fields, csrf_header=where == "header")
    assert page.status in (200, 303), page.text
    assert await db_state() != before


async def test_the_csrf_refusal_is_an_html_error_page(app: Quart) -> None:
    page = await (await signup(app)).browser.post("/signup", [("name", "Eve")], csrf=False)
    assert page.status == 403
    assert page.is_full_page
    assert "text/html" in page.headers["Content-Type"]


async def test_the_api_uses_bearer_tokens_and_needs_no_csrf_token(app: Quart) -> None:
    browser = await signed_up(app, "Ann")
    token = await api_token(app, "ann@example.org")
    body = {"question": "Via the API?", "options": ["a", "b"], "is_published": True}
    response = await browser.client.post("/api/v1/polls", json=body, headers=bearer(token))
    assert response.status_code == 201
    poll = await response.get_json()
    response = await browser.client.post(
        f"/api/v1/polls/{poll['id']}/votes",
        json={"option_id": poll["options"][0]["id"]},
        headers=bearer(token),
    )
    assert response.status_code == 201
    response = await browser.client.delete(f"/api/v1/polls/{poll['id']}", headers=bearer(token))
    assert response.status_code == 204


async def test_the_api_ignores_the_cookie_session(app: Quart) -> None:
    """So a forged cross-site request to the API cannot ride on the browser's cookie."""
    browser = await signed_up(app, "Ann")
    body = {"question": "Forged?", "options": ["a", "b"], "is_published": True}
    response = await browser.client.post("/api/v1/polls", json=body)
    assert response.status_code == 401
    response = await browser.client.post(
        "/api/v1/polls",
        data=urlencode({"question": "Forged?"}),
        headers={"Content-Type": FORM},
    )
    assert response.status_code in (401, 415, 422)
    assert await Poll.count() == 0


# --- security headers and markup ------------------------------------------------------------------


def csp(page: Page) -> dict[str, list[str]]:
    header = page.headers.get("Content-Security-Policy")
    assert header, "no Content-Security-Policy"
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


def assert_strict_headers(page: Page, *, inline_styles: bool = False) -> None:
    policy = csp(page)
    assert policy["script-src"] == ["'self'"], policy
    assert policy["default-src"] == ["'self'"], policy
    assert policy.get("object-src") == ["'none'"], policy
    assert policy.get("frame-ancestors") == ["'none'"], policy
    assert policy.get("base-uri") == ["'self'"], policy
    styles = policy.get("style-src", policy["default-src"])
    assert ("'unsafe-inline'" in styles) is inline_styles, policy
    for sources in policy.values():
        assert "'unsafe-eval'" not in sources and "*" not in sources, policy
    assert page.headers.get("X-Content-Type-Options") == "nosniff"
    assert page.headers.get("X-Frame-Options") == "DENY"
    assert page.headers.get("Referrer-Policy")


def inline_code(page: Page) -> list[str]:
    """Everything a strict CSP would block: inline scripts, handlers, styles."""
    found = []
    for element in page.dom.iter():
        if element.tag == "script" and ("src" not in element.attrs or element.text):
            found.append(f"inline <script>: {element.text[:60]!r}")
        if element.tag == "script" and not element.attrs.get("src", "/").startswith("/"):
            found.append(f"third-party script: {element.attrs['src']}")
        if element.tag == "style":
            found.append("inline <style> block")
        for name, value in element.attrs.items():
            if name.startswith("on") or name.startswith(("hx-on", "data-hx-on")):
                found.append(f"<{element.tag} {name}=...>")
            if name == "style":
                found.append(f"<{element.tag} style={value!r}>")
            if name in ("href", "src", "action") and value.strip().lower().startswith(
                "javascript:"
            ):
                found.append(f"<{element.tag} {name}={value!r}>")
    return found


async def every_page(app: Quart) -> dict[str, Page]:
    """One of each page and fragment, for each kind of visitor."""
    creator = await signed_up(app, "Creator")
    member = await signed_up(app, "Member")
    anonymous = Browser(app)
    open_poll = await creator.create_poll("Open?", guests=True)
    draft = await creator.create_poll("Draft?", action="draft")
    hidden = await creator.create_poll("Hidden?", visibility="after_vote")
    options = await option_ids(open_poll)
    await member.vote(open_poll, options[0])
    guest = Browser(app)
    await guest.join_as_guest("Gus", open_poll)
    pages = {
        "home (anonymous)": await anonymous.get("/"),
        "home (member)": await member.get("/"),
        "home (guest)": await guest.get("/"),
        "sign in": await anonymous.get("/signin"),
        "sign up": await anonymous.get("/signup"),
        "sign up with errors": await anonymous.sign_up("", "bad", password="x"),
        "sign in with errors": await anonymous.sign_in("who@example.org", "nope"),
        "guest name error": await anonymous.join_as_guest("", open_poll),
        "new poll": await creator.get("/polls/new"),
        "new poll with errors": await creator.submit_poll("", ["one"]),
        "add option": await creator.submit_poll("Q?", ["a", "b"], action="add_option"),
        "option fragment": await creator.get("/polls/option", htmx=True),
        "edit draft": await creator.get(f"/polls/{draft}/edit"),
        "poll (creator)": await creator.get(f"/polls/{open_poll}"),
        "poll (member)": await member.get(f"/polls/{open_poll}"),
        "poll (anonymous)": await anonymous.get(f"/polls/{open_poll}"),
        "poll (guest)": await guest.get(f"/polls/{open_poll}"),
        "poll (draft)": await creator.get(f"/polls/{draft}"),
        "poll (results hidden)": await member.get(f"/polls/{hidden}"),
        "vote fragment": await member.vote(open_poll, options[1], htmx=True),
        "present": await creator.get(f"/polls/{open_poll}/present"),
        "present (draft)": await creator.get(f"/polls/{draft}/present"),
        "delete confirmation": await creator.get(f"/polls/{open_poll}/delete"),
        "join code not found": await anonymous.get("/join?code=NOPE42"),
        "poll not found": await anonymous.get("/polls/424242"),
        "forbidden": await member.get(f"/polls/{open_poll}/present"),
        "csrf refusal": await member.post("/polls", [("question", "x")], csrf=False),
        "method not allowed": await member.get("/signout"),
    }
    await creator.post(f"/polls/{open_poll}/close")
    pages["poll (closed)"] = await member.get(f"/polls/{open_poll}")
    pages["vote refused (closed)"] = await member.vote(open_poll, options[0])
    return pages


async def test_every_page_has_the_strict_security_headers(app: Quart) -> None:
    for name, page in (await every_page(app)).items():
        try:
            assert_strict_headers(page)
        except AssertionError as error:
            raise AssertionError(f"{name}: {error}") from error


async def test_no_page_has_inline_scripts_handlers_or_styles(app: Quart) -> None:
    problems = {
        name: found
        for name, page in (await every_page(app)).items()
        if (found := inline_code(page))
    }
    assert problems == {}


async def test_pages_load_scripts_and_styles_from_this_site_only(app: Quart) -> None:
    page = await Browser(app).get("/")
    scripts = [e.attrs["src"] for e in page.dom.find_all("script")]
    assert scripts and all(src.startswith("/static/") for src in scripts)
    sheets = [e.attrs["href"] for e in page.dom.find_all("link", rel="stylesheet")]
    assert sheets and all(href.startswith("/static/") for href in sheets)
    for path in scripts + sheets:
        response = await Browser(app).client.get(path)
        assert response.status_code == 200, path


async def test_only_the_api_docs_page_allows_inline_styles(app: Quart) -> None:
    page = await Browser(app).get("/docs")
    assert page.status == 200
    assert_strict_headers(page, inline_styles=True)
    assert not [e for e in page.dom.find_all("script") if "src" not in e.attrs or e.text]
    for path in ("/", "/signin", "/docs/", "/docsx"):
        other = await Browser(app).get(path)
        assert_strict_headers(other)


async def test_the_presenter_qr_code_is_inline_svg_without_styles(app: Quart) -> None:
    creator, poll_id = await _creator_with_poll(app)
    page = await creator.get(f"/polls/{poll_id}/present")
    qr = page.dom.find(cls="qr")
    assert qr is not None
    svg = qr.find("svg")
    assert svg is not None
    assert not [e for e in [svg, *svg.iter()] if "style" in e.attrs or e.tag == "style"]
    assert page.dom.find("img") is None  # no image request for the code
