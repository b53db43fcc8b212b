"""The poll lifecycle of #14 on the pages, without JavaScript: the schedule in the poll form and
on the owner's poll page, the live status turning by itself, reset with its confirmation step,
duplicate, and the CSV/JSON downloads."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from quart import Quart

from tests.clocks import T0, FakeClock, install
from tests.pages.helpers import (
    Browser,
    api_token,
    counts,
    next_html,
    option_ids,
    path_of,
    poll_row,
    signed_up,
    votes_in,
)
from webapp import schedule


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    return install(monkeypatch)


async def scheduled_poll(browser: Browser, opens: str = "", closes: str = "") -> int:
    fields = [("question", "Lunch?"), ("options", "soup"), ("options", "salad")]
    fields += [("choice", "single"), ("results_visibility", "always"), ("voting", "accounts")]
    fields += [("opens_at", opens), ("closes_at", closes), ("action", "publish")]
    page = await browser.post("/polls", fields)
    assert page.status == 303, page.text
    return int(path_of(page.location).rsplit("/", 1)[1])


# --- the schedule ---------------------------------------------------------------------------


async def test_the_form_takes_a_schedule_in_utc_and_the_page_says_when_voting_opens(
    app: Quart, fake_clock: FakeClock
) -> None:
    alice, bob = await signed_up(app, "Alice"), await signed_up(app, "Bob")
    poll_id = await scheduled_poll(alice, "2030-01-31T18:30", "2030-01-31T19:00")
    row = await poll_row(poll_id)
    assert row is not None and row["opens_at"] == T0 + timedelta(minutes=30)
    page = await bob.get(f"/polls/{poll_id}")
    status = page.dom.get("poll-status")
    assert "is-scheduled" in status.classes
    assert "2030-01-31 18:30 UTC" in status.text
    assert all(
        button.attrs.get("disabled") is not None
        for button in page.dom.find_all("button", cls="choice")
    )
    refused = await bob.vote(poll_id, (await option_ids(poll_id))[0])
    assert refused.status == 409 and await votes_in(poll_id) == []

    fake_clock.move(30 * 60)
    page = await bob.get(f"/polls/{poll_id}")
    assert "is-open" in page.dom.get("poll-status").classes
    assert "until 2030-01-31 19:00 UTC" in page.dom.get("poll-status").text
    assert (await bob.vote(poll_id, (await option_ids(poll_id))[0])).status == 303
    fake_clock.move(30 * 60)
    page = await bob.get(f"/polls/{poll_id}")
    assert "is-closed" in page.dom.get("poll-status").classes


@pytest.mark.parametrize(
    ("opens", "closes", "field"),
    [
        ("2030-01-31T19:00", "2030-01-31T18:00", "closes_at"),
        ("", "2030-01-31T17:00", "closes_at"),  # passed
        ("tomorrow", "", "opens_at"),
    ],
)
async def test_a_bad_schedule_shows_the_form_again_with_the_error_on_its_field(
    app: Quart, fake_clock: FakeClock, opens: str, closes: str, field: str
) -> None:
    alice = await signed_up(app, "Alice")
    fields = [("question", "Lunch?"), ("options", "soup"), ("options", "salad")]
    fields += [("opens_at", opens), ("closes_at", closes), ("action", "publish")]
    page = await alice.post("/polls", fields)
    assert page.status == 422, page.text
    assert page.field_error(field)
    assert page.input_value(field) == (opens if field == "opens_at" else closes)
    assert page.input_value("question") == "Lunch?"


async def test_the_owner_sets_a_countdown_on_a_live_poll_and_others_cannot(
    app: Quart, fake_clock: FakeClock
) -> None:
    alice, bob = await signed_up(app, "Alice"), await signed_up(app, "Bob")
    poll_id = await alice.create_poll()
    form = (await alice.get(f"/polls/{poll_id}")).dom.get("schedule")
    assert form.attrs["action"] == f"/polls/{poll_id}/schedule"
    assert (await bob.get(f"/polls/{poll_id}")).dom.by_id("schedule") is None
    fields = {"opens_at": "", "closes_at": "2030-01-31T18:01:30"}
    assert (await bob.post(f"/polls/{poll_id}/schedule", fields)).status == 403
    page = await alice.post(f"/polls/{poll_id}/schedule", fields)
    assert page.status == 303
    row = await poll_row(poll_id)
    assert row is not None and row["closes_at"] == T0 + timedelta(seconds=90)
    page = await alice.get(f"/polls/{poll_id}")
    assert page.input_value("closes_at") == "2030-01-31T18:01:30"
    bad = await alice.post(f"/polls/{poll_id}/schedule", {"closes_at": "2030-01-31T17:00"})
    assert bad.status == 422 and bad.field_error("closes_at")
    cleared = await alice.post(f"/polls/{poll_id}/schedule", {"opens_at": "", "closes_at": ""})
    assert cleared.status == 303
    row = await poll_row(poll_id)
    assert row is not None and row["closes_at"] is None


async def test_viewers_see_the_status_close_live_when_closes_at_passes(
    app: Quart, fake_clock: FakeClock
) -> None:
    """No vote, no reload: the scheduler's closing reaches the open page's stream."""
    alice = await signed_up(app, "Alice")
    poll_id = await scheduled_poll(alice, "", "2030-01-31T18:00:10")
    async with app.test_client().websocket(f"/api/v1/polls/{poll_id}/live?format=html") as ws:
        assert "is-open" in (await next_html(ws, "poll-status")).classes
        fake_clock.move(10)
        await schedule.run_due()
        status = await next_html(ws, "poll-status")
    assert "is-closed" in status.classes and status.text == "Voting is closed."


async def test_viewers_see_voting_open_live_when_opens_at_passes(
    app: Quart, fake_clock: FakeClock
) -> None:
    alice = await signed_up(app, "Alice")
    poll_id = await scheduled_poll(alice, "2030-01-31T18:00:10", "")
    async with app.test_client().websocket(f"/api/v1/polls/{poll_id}/live?format=html") as ws:
        assert "is-scheduled" in (await next_html(ws, "poll-status")).classes
        fake_clock.move(10)
        assert await schedule.run_due() == [poll_id]
        status = await next_html(ws, "poll-status")
    assert "is-open" in status.classes and status.text == "Open for votes."


# --- reset ----------------------------------------------------------------------------------


async def test_reset_asks_for_confirmation_then_zeroes_the_counts(app: Quart) -> None:
    alice, bob = await signed_up(app, "Alice"), await signed_up(app, "Bob")
    poll_id = await alice.create_poll()
    await bob.vote(poll_id, (await option_ids(poll_id))[0])
    link = (await alice.get(f"/polls/{poll_id}")).dom.find("a", href=f"/polls/{poll_id}/reset")
    assert link is not None
    confirm = await alice.get(f"/polls/{poll_id}/reset")
    assert confirm.status == 200 and "1 voter" in confirm.text
    assert confirm.dom.find("form", method="post", action=f"/polls/{poll_id}/reset") is not None
    # A POST without the confirmation field only shows the question again.
    unconfirmed = await alice.post(f"/polls/{poll_id}/reset")
    assert unconfirmed.status == 200 and await counts(poll_id) == [1, 0, 0]
    assert (await bob.get(f"/polls/{poll_id}/reset")).status == 403
    assert (await bob.post(f"/polls/{poll_id}/reset", {"confirm": "yes"})).status == 403
    assert await counts(poll_id) == [1, 0, 0]

    done = await alice.post(f"/polls/{poll_id}/reset", {"confirm": "yes"})
    assert done.status == 303 and path_of(done.location) == f"/polls/{poll_id}"
    assert await counts(poll_id) == [0, 0, 0] and await votes_in(poll_id) == []
    assert (await bob.vote(poll_id, (await option_ids(poll_id))[1])).status == 303
    assert await counts(poll_id) == [0, 1, 0]


async def test_reset_needs_the_csrf_token_and_a_member(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    poll_id = await alice.create_poll()
    assert (
        await alice.post(f"/polls/{poll_id}/reset", {"confirm": "yes"}, csrf=False)
    ).status == 403
    anonymous = Browser(app)
    page = await anonymous.post(f"/polls/{poll_id}/reset", {"confirm": "yes"})
    assert page.status == 303 and path_of(page.location).startswith("/signin")


# --- duplicate ------------------------------------------------------------------------------


async def test_duplicate_opens_a_draft_copy_for_editing(app: Quart) -> None:
    alice, bob = await signed_up(app, "Alice"), await signed_up(app, "Bob")
    poll_id = await alice.create_poll("Again?", ["yes", "no"], multiple=True)
    await bob.vote(poll_id, (await option_ids(poll_id))[0])
    page = await alice.post(f"/polls/{poll_id}/duplicate")
    assert page.status == 303
    copy_id = int(path_of(page.location).split("/")[2])
    assert path_of(page.location) == f"/polls/{copy_id}/edit" and copy_id != poll_id
    copy = await poll_row(copy_id)
    assert copy is not None and copy["is_published"] is False and copy["allows_multiple"]
    assert await counts(copy_id) == [0, 0]
    form = await alice.get(page.location)
    assert form.input_value("question") == "Again?"
    assert (await bob.post(f"/polls/{poll_id}/duplicate")).status == 403


# --- export ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["csv", "json"])
async def test_the_owner_downloads_the_results_and_nobody_else_can(app: Quart, kind: str) -> None:
    alice, bob = await signed_up(app, "Alice"), await signed_up(app, "Bob")
    poll_id = await alice.create_poll("=1+1", ["-x", "y"])
    await bob.vote(poll_id, (await option_ids(poll_id))[0])
    owner_page = await alice.get(f"/polls/{poll_id}")
    link = owner_page.dom.find("a", href=f"/polls/{poll_id}/export.{kind}")
    assert link is not None and "download" in link.attrs
    page = await alice.get(f"/polls/{poll_id}/export.{kind}")
    assert page.status == 200
    disposition = page.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=") and disposition.endswith(f'.{kind}"')
    assert "bob" not in page.text.lower()
    if kind == "csv":
        rows = list(csv.DictReader(io.StringIO(page.text)))
        assert [(r["option"], r["votes"], r["percent"]) for r in rows] == [
            ("'-x", "1", "100"),
            ("y", "0", "0"),
        ]
        assert rows[0]["question"] == "'=1+1"
    else:
        body = json.loads(page.text)
        assert body["question"] == "=1+1" and body["ballots"]["account"] == 1
    assert (await bob.get(f"/polls/{poll_id}/export.{kind}")).status == 403
    assert (await bob.get(f"/polls/{poll_id}")).dom.find(
        "a", href=f"/polls/{poll_id}/export.{kind}"
    ) is None


async def test_the_api_and_the_page_export_the_same_figures(app: Quart) -> None:
    alice = await signed_up(app, "Alice")
    poll_id = await alice.create_poll()
    token = await api_token(app, "alice@example.org")
    api = await app.test_client().get(
        f"/api/v1/polls/{poll_id}/export", headers={"Authorization": f"Bearer {token}"}
    )
    page = await alice.get(f"/polls/{poll_id}/export.json")
    mine, theirs = await api.get_json(), json.loads(page.text)
    mine.pop("exported_at"), theirs.pop("exported_at")
    assert mine == theirs
