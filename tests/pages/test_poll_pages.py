"""The poll pages: home and join codes, the poll form, voting, the creator's controls,
guests, and the presenter view."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from quart import Quart

from tests.pages.helpers import (
    Browser,
    Element,
    Page,
    api_poll,
    counts,
    guests,
    option_ids,
    path_of,
    poll_count,
    poll_row,
    query_of,
    signed_up,
    user_count,
    votes_in,
)
from webapp.tables import Poll, PollOption, Vote

JOIN_CODE = re.compile(r"[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{6}")


def assert_redirected_to_poll(page: Page, poll_id: int) -> None:
    assert page.status == 303, page.text
    assert path_of(page.location) == f"/polls/{poll_id}"


def assert_sent_to_sign_in(page: Page, back_to: str) -> None:
    assert page.status == 303, page.text
    assert path_of(page.location).startswith("/signin?")
    assert query_of(page.location)["next"] == [back_to]


def poll_links(section: Element) -> list[str]:
    """The questions listed in a section, in order."""
    links = [item.find("a") for item in section.find_all("li", cls="poll-item")]
    return [link.text for link in links if link is not None]


def section(page: Page, title_id: str) -> Element | None:
    return page.dom.find("section", aria_labelledby=title_id)


def option_inputs(page: Page) -> list[str]:
    options = page.dom.get("options")
    return [e.attrs.get("value", "") for e in options.find_all("input", name="options")]


def form_settings(page: Page) -> dict[str, Any]:
    """The poll form's settings as the page shows them."""
    checked = page.dom.find("input", name="choice", checked="")
    voting = page.dom.get("main").find("input", name="voting", checked="")
    selected = page.dom.get("results_visibility").find("option", selected="")
    return {
        "choice": checked.attrs["value"] if checked else None,
        "voting": voting.attrs["value"] if voting else None,
        "results_visibility": selected.attrs["value"] if selected else None,
    }


# --- home --------------------------------------------------------------------------------------


async def test_home_lists_published_polls_newest_first(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    for question in ("First?", "Second?", "Third?"):
        await alice.create_poll(question)
    page = await Browser(app).get("/")
    assert page.status == 200
    recent = section(page, "recent-title")
    assert recent is not None
    assert poll_links(recent) == ["Third?", "Second?", "First?"]


async def test_home_pages_through_older_polls_with_a_cursor(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    for number in range(1, 13):
        await alice.create_poll(f"Poll {number}?")
    visitor = Browser(app)
    first = await visitor.get("/")
    recent = section(first, "recent-title")
    assert recent is not None
    assert poll_links(recent) == [f"Poll {n}?" for n in range(12, 2, -1)]
    older = [a for a in first.dom.find_all("a") if a.text == "Older polls"]
    assert older, "no link to older polls"
    second = await visitor.get(older[0].attrs["href"])
    assert second.status == 200
    recent = section(second, "recent-title")
    assert recent is not None
    assert poll_links(recent) == ["Poll 2?", "Poll 1?"]
    links = {a.text: a.attrs["href"] for a in second.dom.find_all("a")}
    assert "Older polls" not in links
    assert links.get("Newest") == "/"


@pytest.mark.parametrize("cursor", ["abc", "0", "-5", "99999999999", ""])
async def test_a_bad_cursor_shows_the_first_page(app: Quart, cursor: str) -> None:
    alice = await signed_up(app, "Alice")
    await alice.create_poll("Only?")
    page = await Browser(app).get(f"/?cursor={cursor}")
    assert page.status == 200
    recent = section(page, "recent-title")
    assert recent is not None and poll_links(recent) == ["Only?"]


async def test_drafts_of_others_are_never_shown(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    bob = await signed_up(app, "Bob")
    draft = await alice.create_poll("Secret draft?", action="draft")
    await alice.create_poll("Public?")
    for viewer in (bob, Browser(app)):
        page = await viewer.get("/")
        assert "Secret draft?" not in page.text
        assert (await viewer.get(f"/polls/{draft}")).status == 404


async def test_your_polls_lists_the_members_drafts_and_published_polls(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    bob = await signed_up(app, "Bob")
    await alice.create_poll("Alice draft?", action="draft")
    await alice.create_poll("Alice live?")
    await bob.create_poll("Bob live?")
    page = await alice.get("/")
    mine = section(page, "mine-title")
    assert mine is not None
    assert poll_links(mine) == ["Alice live?", "Alice draft?"]
    draft_item = mine.find_all("li", cls="poll-item")[1]
    assert draft_item.find(cls="badge") is not None
    assert draft_item.find(cls="badge").text == "Draft"  # type: ignore[union-attr]
    recent = section(page, "recent-title")
    assert recent is not None and poll_links(recent) == ["Bob live?", "Alice live?"]


async def test_anonymous_visitors_have_no_your_polls_section(app: Quart) -> None:
    page = await Browser(app).get("/")
    assert section(page, "mine-title") is None
    assert page.dom.by_id("join-code") is not None


async def test_join_by_code_opens_the_poll_in_any_case(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    poll_id = await alice.create_poll()
    row = await poll_row(poll_id)
    assert row is not None
    code = row["join_code"]
    visitor = Browser(app)
    for typed in (code, code.lower(), f" {code[:3]}-{code[3:].lower()} "):
        page = await visitor.get(f"/join?code={typed}")
        assert_redirected_to_poll(page, poll_id)
    for typed in (code, code.lower()):
        assert_redirected_to_poll(await visitor.get(f"/j/{typed}"), poll_id)


async def test_an_unknown_join_code_shows_a_404_page_with_the_join_box(app: Quart) -> None:
    visitor = Browser(app)
    for path in ("/join?code=ZZZZZZ", "/j/ZZZZZZ", "/join?code="):
        page = await visitor.get(path)
        assert page.status == 404
        assert page.is_full_page
        assert page.dom.by_id("join-code") is not None


async def test_a_draft_has_no_join_code_until_it_is_published(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    poll_id = await alice.create_poll(action="draft")
    row = await poll_row(poll_id)
    assert row is not None and row["join_code"] is None
    page = await alice.get(f"/polls/{poll_id}")
    assert page.dom.find(cls="code") is None
    assert_redirected_to_poll(await alice.post(f"/polls/{poll_id}/publish"), poll_id)
    row = await poll_row(poll_id)
    assert row is not None and JOIN_CODE.fullmatch(row["join_code"])
    page = await alice.get(f"/polls/{poll_id}")
    code = page.dom.find("strong", cls="code")
    assert code is not None and code.text == row["join_code"]


async def test_join_codes_use_only_the_unambiguous_alphabet(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    for number in range(30):
        await alice.create_poll(f"Poll {number}?")
    codes = [row["join_code"] for row in await Poll.select(Poll.join_code)]
    assert len(codes) == 30 and len(set(codes)) == 30
    for code in codes:
        assert JOIN_CODE.fullmatch(code), code
        assert not set(code) & set("0O1IL")


# --- the poll form -------------------------------------------------------------------------------


async def test_the_new_poll_form_needs_a_signed_in_member(app: Quart) -> None:
    visitor = Browser(app)
    assert_sent_to_sign_in(await visitor.get("/polls/new"), "/polls/new")
    await visitor.sign_up("Ann", next="/polls/new")
    page = await visitor.get("/polls/new")
    assert page.status == 200
    assert page.dom.find("form", action="/polls") is not None


async def test_creating_a_poll_needs_a_signed_in_member(app: Quart) -> None:
    page = await Browser(app).submit_poll("Sneaky?", ["a", "b"])
    assert page.status == 303
    assert path_of(page.location).startswith("/signin")
    assert await poll_count() == 0


async def test_the_new_poll_form_offers_at_least_two_option_fields(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    page = await alice.get("/polls/new")
    assert len(option_inputs(page)) >= 2


async def test_save_draft_creates_an_unpublished_poll_with_its_settings(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    poll_id = await alice.create_poll(
        "Lunch?",
        ["Pizza", "Salad", "", "Soup"],
        action="draft",
        multiple=True,
        guests=True,
        visibility="after_close",
    )
    row = await poll_row(poll_id)
    assert row is not None
    assert row["question"] == "Lunch?"
    assert row["is_published"] is False and row["join_code"] is None
    assert row["allows_multiple"] is True and row["voting"] == "guests"
    assert row["results_visibility"] == "after_close"
    texts = (
        await PollOption.select(PollOption.text)
        .where(PollOption.poll == poll_id)
        .order_by(PollOption.position)
    )
    assert [r["text"] for r in texts] == ["Pizza", "Salad", "Soup"]
    page = await alice.get(f"/polls/{poll_id}")
    assert page.dom.get("poll-status").text == "Draft: only you can see it."


async def test_publish_creates_an_open_poll_with_a_join_code(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    poll_id = await alice.create_poll("Lunch?", ["Pizza", "Salad"])
    row = await poll_row(poll_id)
    assert row is not None
    assert row["is_published"] is True and JOIN_CODE.fullmatch(row["join_code"])
    assert row["allows_multiple"] is False and row["voting"] == "accounts"
    assert row["results_visibility"] == "always"
    page = await Browser(app).get(f"/polls/{poll_id}")
    assert page.dom.get("poll-status").text == "Open for votes."


@pytest.mark.parametrize(
    ("question", "options", "field"),
    [
        ("", ["Pizza", "Salad"], "question"),
        ("   ", ["Pizza", "Salad"], "question"),
        ("Lunch?", ["Pizza"], "options"),
        ("Lunch?", ["Pizza", "", ""], "options"),
        ("Lunch?", ["Pizza", "pizza"], "options"),
        ("Lunch?", [f"Option {n}" for n in range(21)], "options"),
        ("Q" * 301, ["Pizza", "Salad"], "question"),
    ],
)
async def test_an_invalid_poll_re_renders_the_form_with_the_error_and_the_entered_values(
    app: Quart, question: str, options: list[str], field: str
) -> None:
    alice = await signed_up(app, "Alice")
    page = await alice.submit_poll(
        question, options, multiple=True, guests=True, visibility="after_vote"
    )
    assert page.status == 422
    error = page.dom.by_id(f"{field}-error")
    assert error is not None and error.text
    assert page.dom.get("question").attrs.get("value") == question
    entered = [text for text in options if text.strip()]
    assert option_inputs(page)[: len(entered)] == entered
    assert form_settings(page) == {
        "choice": "multiple",
        "voting": "guests",
        "results_visibility": "after_vote",
    }
    assert await poll_count() == 0


async def test_an_unknown_results_rule_is_refused(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    page = await alice.submit_poll("Lunch?", ["Pizza", "Salad"], visibility="whenever")
    assert page.status == 422
    assert await poll_count() == 0


@pytest.mark.parametrize(
    "submitted",
    [
        ["Red", "Green", "", ""],  # the new form's four fields, two filled
        ["Red", "", "Green", "Blue"],  # a gap is closed up, the count still grows by one
        ["Red", "Green", "Blue", "Pink"],  # all four filled
        ["Red", "Green", "", "", ""],  # "Add option" pressed twice without typing
    ],
    ids=["two-filled", "gap", "all-filled", "twice"],
)
async def test_add_option_without_javascript_re_renders_with_one_more_field(
    app: Quart, submitted: list[str]
) -> None:
    """Without JavaScript the button submits the form; the form comes back with the user's
    fields plus exactly one more, whatever they had typed."""
    alice = await signed_up(app, "Alice")
    page = await alice.submit_poll("Colour?", submitted, action="add_option")
    assert page.status == 200
    assert page.is_full_page
    fields = option_inputs(page)
    assert len(fields) == len(submitted) + 1
    entered = [text for text in submitted if text]
    assert fields[: len(entered)] == entered
    assert page.dom.get("question").attrs.get("value") == "Colour?"
    assert await poll_count() == 0


async def test_the_option_fragment_is_one_option_input(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    page = await alice.get("/polls/option", htmx=True)
    assert page.status == 200
    assert not page.is_full_page
    rows = page.dom.find_all("li", cls="option-row")
    assert len(rows) == 1
    inputs = page.dom.find_all("input")
    assert len(inputs) == 1 and inputs[0].attrs["name"] == "options"
    assert inputs[0].attrs.get("value") == ""


async def test_the_creator_edits_a_draft(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    poll_id = await alice.create_poll("Lunch?", ["Pizza", "Salad"], action="draft")
    form = await alice.get(f"/polls/{poll_id}/edit")
    assert form.status == 200
    assert form.dom.get("question").attrs["value"] == "Lunch?"
    assert option_inputs(form)[:2] == ["Pizza", "Salad"]
    page = await alice.submit_poll(
        "Dinner?", ["Curry", "Stew", "Tacos"], action="draft", path=f"/polls/{poll_id}/edit"
    )
    assert_redirected_to_poll(page, poll_id)
    row = await poll_row(poll_id)
    assert row is not None and row["question"] == "Dinner?" and row["is_published"] is False
    texts = (
        await PollOption.select(PollOption.text)
        .where(PollOption.poll == poll_id)
        .order_by(PollOption.position)
    )
    assert [r["text"] for r in texts] == ["Curry", "Stew", "Tacos"]
    page = await alice.submit_poll(
        "Dinner?", ["Curry", "Stew"], action="publish", path=f"/polls/{poll_id}/edit"
    )
    assert_redirected_to_poll(page, poll_id)
    row = await poll_row(poll_id)
    assert row is not None and row["is_published"] is True and row["join_code"]


async def test_an_invalid_edit_re_renders_with_422_and_changes_nothing(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    poll_id = await alice.create_poll("Lunch?", ["Pizza", "Salad"], action="draft")
    page = await alice.submit_poll("", ["Curry"], action="draft", path=f"/polls/{poll_id}/edit")
    assert page.status == 422
    assert page.dom.by_id("question-error") is not None
    row = await poll_row(poll_id)
    assert row is not None and row["question"] == "Lunch?"


async def test_only_the_creator_may_edit(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    bob = await signed_up(app, "Bob")
    published = await alice.create_poll("Lunch?", ["Pizza", "Salad"])
    draft = await alice.create_poll("Draft?", ["Pizza", "Salad"], action="draft")
    assert (await bob.get(f"/polls/{published}/edit")).status == 403
    page = await bob.submit_poll("Hijacked?", ["x", "y"], path=f"/polls/{published}/edit")
    assert page.status == 403
    # Someone else's draft does not even exist for Bob.
    assert (await bob.get(f"/polls/{draft}/edit")).status == 404
    page = await bob.submit_poll("Hijacked?", ["x", "y"], path=f"/polls/{draft}/edit")
    assert page.status == 404
    assert_sent_to_sign_in(await Browser(app).get(f"/polls/{draft}/edit"), f"/polls/{draft}/edit")
    for poll_id in (published, draft):
        row = await poll_row(poll_id)
        assert row is not None and row["question"] != "Hijacked?"


async def test_a_published_poll_cannot_be_edited(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    poll_id = await alice.create_poll("Lunch?", ["Pizza", "Salad"])
    page = await alice.submit_poll(
        "Dinner?", ["Curry", "Stew"], action="draft", path=f"/polls/{poll_id}/edit"
    )
    assert page.status == 409
    assert page.is_full_page
    row = await poll_row(poll_id)
    assert row is not None and row["question"] == "Lunch?"
    assert (await alice.get(f"/polls/{poll_id}/edit")).status == 409


# --- the poll page and voting ---------------------------------------------------------------------


async def test_the_poll_page_has_the_vote_results_and_status_blocks(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    poll_id = await alice.create_poll()
    page = await Browser(app).get(f"/polls/{poll_id}")
    assert page.status == 200 and page.is_full_page
    for element_id in ("vote", "results", "poll-status"):
        assert page.dom.by_id(element_id) is not None
    assert page.choices() == [("vim", False), ("emacs", False), ("nano", False)]
    article = page.dom.find("article", cls="poll")
    assert article is not None
    assert article.attrs["ws-connect"] == f"/api/v1/polls/{poll_id}/live?format=html"


async def test_an_unknown_poll_is_a_404_page(app: Quart) -> None:
    page = await Browser(app).get("/polls/424242")
    assert page.status == 404 and page.is_full_page


async def test_an_htmx_vote_returns_the_vote_block_and_the_results_out_of_band(
    app: Quart,
) -> None:
    alice = await signed_up(app, "Alice")
    poll_id = await alice.create_poll()
    bob = await signed_up(app, "Bob")
    options = await option_ids(poll_id)
    page = await bob.vote(poll_id, options[1], htmx=True)
    assert page.status == 200
    assert not page.is_full_page
    top = page.dom.children
    assert [(e.tag, e.id) for e in top] == [("section", "vote"), ("section", "results")]
    assert top[1].attrs.get("hx-swap-oob") == "true"
    assert page.chosen() == ["emacs"]
    assert page.results_shown()
    assert await counts(poll_id) == [0, 1, 0]


async def test_a_plain_form_vote_redirects_to_the_poll_page(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    poll_id = await alice.create_poll()
    bob = await signed_up(app, "Bob")
    options = await option_ids(poll_id)
    assert_redirected_to_poll(await bob.vote(poll_id, options[0]), poll_id)
    page = await bob.get(f"/polls/{poll_id}")
    assert page.chosen() == ["vim"]
    assert page.dom.get("vote").find("form", action=f"/polls/{poll_id}/withdraw") is not None
    assert await counts(poll_id) == [1, 0, 0]


async def test_changing_the_vote_moves_the_mark(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    poll_id = await alice.create_poll()
    options = await option_ids(poll_id)
    await alice.vote(poll_id, options[0])
    page = await alice.vote(poll_id, options[2], htmx=True)
    assert page.chosen() == ["nano"]
    assert (await alice.get(f"/polls/{poll_id}")).chosen() == ["nano"]
    assert [option for _, option in await votes_in(poll_id)] == [options[2]]
    assert await counts(poll_id) == [0, 0, 1]


async def test_tapping_the_chosen_option_of_a_single_choice_poll_keeps_the_vote(
    app: Quart,
) -> None:
    alice = await signed_up(app, "Alice")
    poll_id = await alice.create_poll()
    options = await option_ids(poll_id)
    await alice.vote(poll_id, options[0])
    page = await alice.vote(poll_id, options[0], htmx=True)
    assert page.chosen() == ["vim"]
    assert await counts(poll_id) == [1, 0, 0]


async def test_tapping_a_chosen_option_of_a_multiple_choice_poll_withdraws_it(
    app: Quart,
) -> None:
    alice = await signed_up(app, "Alice")
    poll_id = await alice.create_poll(multiple=True)
    options = await option_ids(poll_id)
    await alice.vote(poll_id, options[0], htmx=True)
    page = await alice.vote(poll_id, options[2], htmx=True)
    assert page.chosen() == ["vim", "nano"]
    assert await counts(poll_id) == [1, 0, 1]
    page = await alice.vote(poll_id, options[0], htmx=True)
    assert page.chosen() == ["nano"]
    assert await counts(poll_id) == [0, 0, 1]
    row = await poll_row(poll_id)
    assert row is not None and row["voters"] == 1


async def test_the_withdraw_button_takes_back_every_vote(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    poll_id = await alice.create_poll(multiple=True)
    options = await option_ids(poll_id)
    await alice.vote(poll_id, options[0])
    await alice.vote(poll_id, options[1])
    page = await alice.post(f"/polls/{poll_id}/withdraw", htmx=True)
    assert page.status == 200
    assert page.chosen() == []
    assert page.dom.get("vote").find("form", action=f"/polls/{poll_id}/withdraw") is None
    assert await votes_in(poll_id) == []
    assert await counts(poll_id) == [0, 0, 0]
    await alice.vote(poll_id, options[2])
    assert_redirected_to_poll(await alice.post(f"/polls/{poll_id}/withdraw"), poll_id)
    assert await votes_in(poll_id) == []


async def test_voting_on_a_closed_poll_shows_voting_is_closed_and_changes_nothing(
    app: Quart,
) -> None:
    alice = await signed_up(app, "Alice")
    poll_id = await alice.create_poll()
    options = await option_ids(poll_id)
    bob = await signed_up(app, "Bob")
    await bob.vote(poll_id, options[0])
    assert_redirected_to_poll(await alice.post(f"/polls/{poll_id}/close"), poll_id)
    before = await votes_in(poll_id)

    page = await bob.vote(poll_id, options[1])
    assert page.status == 409 and page.is_full_page
    assert page.dom.get("poll-status").text == "Voting is closed."
    assert "Voting is closed." in page.dom.get("vote").text
    assert all("disabled" in b.attrs for b in page.dom.get("vote").find_all("button", cls="choice"))

    page = await bob.vote(poll_id, options[1], htmx=True)
    assert not page.is_full_page
    vote = page.dom.get("vote")
    assert vote.find(cls="alert") is not None
    assert "Voting is closed." in vote.text
    assert page.chosen() == ["vim"]

    page = await bob.post(f"/polls/{poll_id}/withdraw")
    assert page.status == 409
    assert await votes_in(poll_id) == before
    assert await counts(poll_id) == [1, 0, 0]


async def test_a_vote_for_another_polls_option_is_refused(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    first = await alice.create_poll("First?")
    second = await alice.create_poll("Second?")
    foreign = (await option_ids(second))[0]
    page = await alice.vote(first, foreign)
    assert page.status == 422
    for bogus in (str(foreign), "0", "abc", "99999999999"):
        page = await alice.post(f"/polls/{first}/vote", {"option_id": bogus}, htmx=True)
        assert page.dom.get("vote").find(cls="alert") is not None
    assert await votes_in(first) == [] and await votes_in(second) == []


async def test_anonymous_visitors_are_sent_to_sign_in_to_vote(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    poll_id = await alice.create_poll()
    visitor = Browser(app)
    page = await visitor.get(f"/polls/{poll_id}")
    assert all("disabled" in b.attrs for b in page.dom.get("vote").find_all("button", cls="choice"))
    page = await visitor.vote(poll_id, (await option_ids(poll_id))[0])
    assert page.status == 303 and path_of(page.location).startswith("/signin")
    assert await votes_in(poll_id) == []


async def test_the_creator_publishes_closes_and_reopens(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    poll_id = await alice.create_poll(action="draft")
    page = await alice.get(f"/polls/{poll_id}")
    assert page.dom.find("form", action=f"/polls/{poll_id}/publish") is not None

    assert_redirected_to_poll(await alice.post(f"/polls/{poll_id}/publish"), poll_id)
    row = await poll_row(poll_id)
    assert row is not None and row["is_published"] is True

    assert_redirected_to_poll(await alice.post(f"/polls/{poll_id}/close"), poll_id)
    row = await poll_row(poll_id)
    assert row is not None and row["closed_at"] is not None
    page = await alice.get(f"/polls/{poll_id}")
    assert page.dom.get("poll-status").text == "Voting is closed."
    assert page.dom.find("form", action=f"/polls/{poll_id}/reopen") is not None

    assert_redirected_to_poll(await alice.post(f"/polls/{poll_id}/reopen"), poll_id)
    row = await poll_row(poll_id)
    assert row is not None and row["closed_at"] is None
    assert (await alice.get(f"/polls/{poll_id}")).dom.get("poll-status").text == "Open for votes."


async def test_only_the_creator_sees_the_manage_controls(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    bob = await signed_up(app, "Bob")
    poll_id = await alice.create_poll()
    assert (await alice.get(f"/polls/{poll_id}")).dom.by_id("owner-title") is not None
    assert (await bob.get(f"/polls/{poll_id}")).dom.by_id("owner-title") is None
    assert (await Browser(app).get(f"/polls/{poll_id}")).dom.by_id("owner-title") is None


@pytest.mark.parametrize("action", ["close", "reopen", "publish", "results-hidden", "delete"])
async def test_others_may_not_change_someone_elses_poll(app: Quart, action: str) -> None:
    alice = await signed_up(app, "Alice")
    bob = await signed_up(app, "Bob")
    poll_id = await alice.create_poll()
    if action == "reopen":
        await alice.post(f"/polls/{poll_id}/close")
    before = await poll_row(poll_id)
    page = await bob.post(f"/polls/{poll_id}/{action}", {"hidden": "1"})
    assert page.status == 403
    assert page.is_full_page
    assert await poll_row(poll_id) == before
    anonymous = await Browser(app).post(f"/polls/{poll_id}/{action}", {"hidden": "1"})
    assert anonymous.status == 303 and path_of(anonymous.location).startswith("/signin")
    assert await poll_row(poll_id) == before


async def test_others_cannot_reach_someone_elses_draft(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    bob = await signed_up(app, "Bob")
    draft = await alice.create_poll(action="draft")
    for action in ("publish", "delete"):
        assert (await bob.post(f"/polls/{draft}/{action}")).status == 404
    row = await poll_row(draft)
    assert row is not None and row["is_published"] is False


async def test_delete_asks_for_confirmation_then_deletes_the_poll_and_its_votes(
    app: Quart,
) -> None:
    alice = await signed_up(app, "Alice")
    bob = await signed_up(app, "Bob")
    poll_id = await alice.create_poll("Doomed?")
    await bob.vote(poll_id, (await option_ids(poll_id))[0])

    confirm = await alice.get(f"/polls/{poll_id}/delete")
    assert confirm.status == 200
    assert "Doomed?" in confirm.text
    assert confirm.dom.find("form", method="post", action=f"/polls/{poll_id}/delete") is not None
    assert await poll_row(poll_id) is not None

    assert (await bob.get(f"/polls/{poll_id}/delete")).status == 403

    page = await alice.post(f"/polls/{poll_id}/delete")
    assert page.status == 303 and path_of(page.location) == "/"
    assert await poll_row(poll_id) is None
    assert await Vote.count().where(Vote.poll == poll_id) == 0
    assert await PollOption.count().where(PollOption.poll == poll_id) == 0
    assert (await alice.get(f"/polls/{poll_id}")).status == 404


# --- guests ---------------------------------------------------------------------------------------


async def guest_poll(app: Quart, *, allows_guests: bool = True, **settings: Any) -> int:
    owner = await signed_up(app, "Owner")
    return await owner.create_poll(guests=allows_guests, **settings)


async def test_an_anonymous_visitor_is_offered_the_guest_form_where_guests_may_vote(
    app: Quart,
) -> None:
    open_poll = await guest_poll(app)
    page = await Browser(app).get(f"/polls/{open_poll}")
    form = page.dom.get("vote").find("form", cls="guest-form")
    assert form is not None
    assert path_of(form.attrs["action"]).startswith("/guest?")
    assert query_of(form.attrs["action"])["next"] == [f"/polls/{open_poll}"]
    assert form.find("input", name="name") is not None


async def test_the_guest_form_is_not_offered_where_guests_may_not_vote(app: Quart) -> None:
    poll_id = await guest_poll(app, allows_guests=False)
    page = await Browser(app).get(f"/polls/{poll_id}")
    assert page.dom.get("vote").find("form", cls="guest-form") is None


async def test_a_guest_joins_with_a_name_and_votes_once(app: Quart) -> None:
    poll_id = await guest_poll(app)
    options = await option_ids(poll_id)
    guest = Browser(app)
    users_before = await user_count()
    page = await guest.join_as_guest("Gus", poll_id)
    assert_redirected_to_poll(page, poll_id)
    assert await user_count() == users_before + 1
    (row,) = await guests()
    assert row["name"] == "Gus" and row["is_guest"] is True
    assert (await guest.get(f"/polls/{poll_id}")).signed_in_as() == "Gus (guest)"

    assert (await guest.vote(poll_id, options[0], htmx=True)).chosen() == ["vim"]
    page = await guest.vote(poll_id, options[1], htmx=True)
    assert page.chosen() == ["emacs"]
    assert await votes_in(poll_id) == [(row["id"], options[1])]
    assert await counts(poll_id) == [0, 1, 0]


async def test_the_api_reports_a_guest_as_a_guest(app: Quart) -> None:
    poll_id = await guest_poll(app)
    await Browser(app).join_as_guest("Gus", poll_id)
    (row,) = await guests()
    response = await app.test_client().get(f"/api/v1/users/{row['id']}")
    assert response.status_code == 200
    body = await response.get_json()
    assert body["name"] == "Gus"
    assert body.get("is_guest") is True


async def test_a_guest_cannot_vote_where_guests_are_not_allowed(app: Quart) -> None:
    open_poll = await guest_poll(app)
    owner = Browser(app)
    await owner.sign_in("owner@example.org")
    closed_to_guests = await owner.create_poll("Members only?")
    options = await option_ids(closed_to_guests)
    guest = Browser(app)
    await guest.join_as_guest("Gus", open_poll)

    page = await guest.get(f"/polls/{closed_to_guests}")
    vote = page.dom.get("vote")
    assert "This poll takes votes from accounts only." in vote.text
    assert all("disabled" in b.attrs for b in vote.find_all("button", cls="choice"))

    page = await guest.vote(closed_to_guests, options[0])
    assert page.status == 403
    page = await guest.vote(closed_to_guests, options[0], htmx=True)
    assert page.dom.get("vote").find(cls="alert") is not None
    assert page.chosen() == []
    assert await votes_in(closed_to_guests) == []
    assert await counts(closed_to_guests) == [0, 0, 0]


@pytest.mark.parametrize("target", ["//evil.com", "https://evil.com", "/\\evil.com"])
async def test_joining_as_a_guest_never_redirects_off_the_site(app: Quart, target: str) -> None:
    await guest_poll(app)
    guest = Browser(app)
    page = await guest.post(f"/guest?{urlencode({'next': target})}", {"name": "Gus"})
    assert page.status == 303
    assert urlsplit(page.location).netloc in ("", "localhost")
    assert path_of(page.location) == "/"


async def test_a_guest_without_a_name_is_asked_again(app: Quart) -> None:
    poll_id = await guest_poll(app)
    users_before = await user_count()
    guest = Browser(app)
    page = await guest.join_as_guest("   ", poll_id)
    assert page.status == 422
    assert page.field_error("name")
    assert await user_count() == users_before
    assert guest.cookie("QUART_AUTH") is None


async def test_a_guest_cannot_create_polls_or_see_your_polls(app: Quart) -> None:
    poll_id = await guest_poll(app)
    guest = Browser(app)
    await guest.join_as_guest("Gus", poll_id)
    assert_sent_to_sign_in(await guest.get("/polls/new"), "/polls/new")
    page = await guest.submit_poll("Guest poll?", ["a", "b"])
    assert page.status == 303
    assert await Poll.count().where(Poll.question == "Guest poll?") == 0
    assert section(await guest.get("/"), "mine-title") is None


# --- the presenter view ---------------------------------------------------------------------------


async def test_the_presenter_view_shows_the_join_details_and_the_controls(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    poll_id = await alice.create_poll("Best editor?")
    row = await poll_row(poll_id)
    assert row is not None
    code = row["join_code"]
    page = await alice.get(f"/polls/{poll_id}/present")
    assert page.status == 200 and page.is_full_page
    dom = page.dom

    qr = dom.find(cls="qr")
    assert qr is not None and qr.find("svg") is not None
    join_url = dom.find(cls="join-url")
    assert join_url is not None
    url = join_url.find("strong").text  # type: ignore[union-attr]
    assert url.endswith(f"/j/{code}") and url.startswith("http")
    assert qr.attrs.get("aria-label") == f"QR code for {url}"
    join_code = dom.find(cls="join-code")
    assert join_code is not None and join_code.find("strong").text == code  # type: ignore[union-attr]

    assert dom.by_id("viewer-count") is not None
    assert dom.by_id("results") is not None and dom.by_id("poll-status") is not None
    layout = dom.find(cls="present-layout")
    assert layout is not None
    # The big screen streams what the audience sees, not what its creator may.
    assert layout.attrs["ws-connect"] == f"/api/v1/polls/{poll_id}/live?format=html&view=audience"

    hide = dom.find("button", data_shortcut="r")
    assert hide is not None and hide.text == "Hide results"
    hide_form = dom.find("form", action=f"/polls/{poll_id}/results-hidden")
    assert hide_form is not None
    assert hide_form.find("input", name="hidden", value="1") is not None
    close = dom.find("button", data_shortcut="c")
    assert close is not None and close.text == "Close voting"
    assert dom.find("form", action=f"/polls/{poll_id}/close") is not None
    assert dom.find("button", data_shortcut="f") is not None
    shortcuts = dom.find(cls="shortcuts")
    assert shortcuts is not None
    assert [k.text for k in shortcuts.find_all("kbd")] == ["R", "C", "F"]

    # The join link in the QR code works.
    assert_redirected_to_poll(await Browser(app).get(f"/j/{code}"), poll_id)


async def test_the_presenter_view_is_for_the_creator_only(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    bob = await signed_up(app, "Bob")
    poll_id = await alice.create_poll()
    page = await bob.get(f"/polls/{poll_id}/present")
    assert page.status == 403
    assert page.dom.find(cls="qr") is None
    assert_sent_to_sign_in(
        await Browser(app).get(f"/polls/{poll_id}/present"), f"/polls/{poll_id}/present"
    )


async def test_a_draft_has_no_join_details_on_the_presenter_view(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    poll_id = await alice.create_poll(action="draft")
    page = await alice.get(f"/polls/{poll_id}/present")
    assert page.status == 200
    assert page.dom.find(cls="qr") is None and page.dom.find("svg", cls="segno") is None


async def test_the_presenter_hides_and_reveals_the_results(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    poll_id = await alice.create_poll()
    present = f"/polls/{poll_id}/present"
    page = await alice.post(
        f"/polls/{poll_id}/results-hidden", {"hidden": "1", "return_to": "present"}
    )
    assert page.status == 303 and path_of(page.location) == present
    row = await poll_row(poll_id)
    assert row is not None and row["results_hidden"] is True

    page = await alice.get(present)
    reveal = page.dom.find("button", data_shortcut="r")
    assert reveal is not None and reveal.text == "Reveal results"
    form = page.dom.find("form", action=f"/polls/{poll_id}/results-hidden")
    assert form is not None and form.find("input", name="hidden", value="0") is not None
    assert not page.results_shown()

    page = await alice.post(
        f"/polls/{poll_id}/results-hidden", {"hidden": "0", "return_to": "present"}
    )
    assert page.status == 303 and path_of(page.location) == present
    row = await poll_row(poll_id)
    assert row is not None and row["results_hidden"] is False
    assert (await alice.get(present)).results_shown()


async def test_closing_from_the_presenter_view_returns_to_it(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    poll_id = await alice.create_poll()
    page = await alice.post(f"/polls/{poll_id}/close", {"return_to": "present"})
    assert page.status == 303 and path_of(page.location) == f"/polls/{poll_id}/present"
    row = await poll_row(poll_id)
    assert row is not None and row["closed_at"] is not None
    page = await alice.get(f"/polls/{poll_id}/present")
    assert page.dom.find("button", data_shortcut="c") is None
    assert page.dom.get("poll-status").text == "Voting is closed."


async def test_api_created_polls_appear_on_the_pages(app: Quart) -> None:
    browser = Browser(app)
    await browser.sign_up("Alice")
    response = await app.test_client().post(
        "/api/v1/auth/tokens",
        json={"email": "alice@example.org", "password": "correct horse battery"},
    )
    token = (await response.get_json())["token"]
    poll = await api_poll(app, token, question="From the API?")
    page = await browser.get(f"/polls/{poll['id']}")
    assert page.status == 200
    assert page.dom.find("h1").text == "From the API?"  # type: ignore[union-attr]


async def test_a_poll_page_reads_the_poll_row_once(
    app: Quart, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The poll, its results and the viewer's choices come from one read of the row."""
    from webapp import polls

    ann = await signed_up(app, "ann")
    poll_id = await ann.create_poll()
    (first, *_) = await option_ids(poll_id)
    assert (await ann.vote(poll_id, first)).status == 303
    reads: list[int] = []
    load_row = polls.load_row

    async def counted(poll: int, **kwargs: Any) -> dict[str, Any] | None:
        reads.append(poll)
        return await load_row(poll, **kwargs)

    monkeypatch.setattr(polls, "load_row", counted)
    page = await ann.get(f"/polls/{poll_id}")
    assert page.status == 200 and "Best editor?" in page.text
    assert reads == [poll_id]


async def test_pushed_fragments_and_pages_share_one_environment_and_its_limits(
    app: Quart,
) -> None:
    """The hub renders the pages' own partials through the pages' Jinja environment, with
    `url_for` from the app's URL map; form limits come from the server's own constants."""
    from webapp.passwords import MIN_LENGTH
    from webapp.tables import OPTION_MAX

    builder = app.extensions["live"].hub._messages
    assert builder._templates.linked_to is app.jinja_env
    status = builder._render(
        "_partials/status.html", poll={"id": 7, "is_published": True, "closed_at": None}
    )
    assert 'data-vote-block="/polls/7/vote-block"' in status
    ann = await signed_up(app, "ann")
    form = await ann.get("/polls/new")
    assert f'maxlength="{OPTION_MAX}"' in form.text
    signup = await Browser(app).get("/signup")
    assert f"At least {MIN_LENGTH} characters." in signup.text
