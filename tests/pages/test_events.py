"""Event pages: create and manage, the audience page with and without JavaScript, the big
screen and the remote, and who may use them."""

from __future__ import annotations

import re
import urllib.parse
from urllib.parse import urlencode

from quart import Quart

from tests.pages.helpers import Browser, Page, path_of, signed_up
from webapp.tables import Event, EventQuestion, Poll, Vote


async def new_event(owner: Browser, title: str = "Keynote", mode: str = "presenter") -> int:
    page = await owner.post("/events", {"title": title, "mode": mode})
    assert page.status == 303, page.text
    return int(path_of(page.location).rsplit("/", 1)[1])


async def add_question(owner: Browser, event_id: int, question: str) -> int:
    page = await owner.post(
        f"/events/{event_id}/questions",
        {"question": question, "options": "Yes\nNo\n\n", "choice": "single", "voting": "guests"},
    )
    assert page.status == 303, page.text
    rows = await EventQuestion.select(EventQuestion.poll).where(EventQuestion.event == event_id)
    return max(int(row["poll"]) for row in rows)


async def code_of(event_id: int) -> str:
    row = await Event.select(Event.join_code).where(Event.id == event_id).first()
    assert row is not None
    return str(row["join_code"])


def votes_for(page: Page, poll_id: int, back: str) -> bool:
    """The page has this poll's vote forms, which bring a plain form back to `back`."""
    forms = page.dom.find_all("form", data_tap="vote")
    return bool(forms) and all(
        urllib.parse.unquote(form.attrs["action"]) == f"/polls/{poll_id}/vote?next={back}"
        for form in forms
    )


async def test_create_an_event_and_add_questions(app: Quart) -> None:
    owner = await signed_up(app, "Speaker")
    event_id = await new_event(owner)
    first = await add_question(owner, event_id, "Tea or coffee?")
    second = await add_question(owner, event_id, "Cats or dogs?")

    page = await owner.get(f"/events/{event_id}")

    assert page.status == 200
    assert "Tea or coffee?" in page.text and "Cats or dogs?" in page.text
    assert await code_of(event_id) in page.text
    assert await Poll.count().where(Poll.id.is_in([first, second])) == 2
    listing = await owner.get("/events")
    assert "Keynote" in listing.text


async def test_bad_forms_are_refused_by_field_and_write_nothing(app: Quart) -> None:
    owner = await signed_up(app, "Speaker")
    page = await owner.post("/events", {"title": "   "})
    assert page.status == 422 and page.field_error("title")
    event_id = await new_event(owner)
    page = await owner.post(f"/events/{event_id}/questions", {"question": "Q?", "options": "One"})
    assert page.status == 422
    page = await owner.post(
        f"/events/{event_id}/settings",
        {"title": "T", "mode": "presenter", "opens_at": "soon", "closes_at": ""},
    )
    assert page.status == 422
    page = await owner.post(f"/events/{event_id}/delete", {})
    assert page.status == 422
    assert await Event.count() == 1 and await Poll.count() == 0


async def test_forms_need_their_csrf_token(app: Quart) -> None:
    owner = await signed_up(app, "Speaker")
    page = await owner.post("/events", {"title": "T"}, csrf=False)
    assert page.status == 403
    assert await Event.count() == 0


async def test_only_the_owner_manages_presents_and_drives(app: Quart) -> None:
    owner = await signed_up(app, "Speaker")
    other = await signed_up(app, "Other")
    event_id = await new_event(owner)
    poll_id = await add_question(owner, event_id, "Q?")
    for path in (
        f"/events/{event_id}",
        f"/events/{event_id}/present",
        f"/events/{event_id}/remote",
    ):
        assert (await other.get(path)).status == 403, path
        anonymous = await Browser(app).get(path)
        assert anonymous.status == 303 and "/signin" in anonymous.location
    for path, fields in (
        (f"/events/{event_id}/current", {"move": "next"}),
        (f"/events/{event_id}/questions/{poll_id}/remove", {}),
        (f"/events/{event_id}/delete", {"confirm": "yes"}),
    ):
        assert (await other.post(path, fields)).status == 403, path
    assert await EventQuestion.count() == 1
    assert (await owner.get("/events/999999")).status == 404


async def test_the_audience_page_shows_the_current_question_without_javascript(
    app: Quart,
) -> None:
    owner = await signed_up(app, "Speaker")
    event_id = await new_event(owner)
    first = await add_question(owner, event_id, "Tea or coffee?")
    await add_question(owner, event_id, "Cats or dogs?")
    code = await code_of(event_id)
    phone = Browser(app, "192.0.2.50")

    waiting = await phone.get(f"/e/{code}")
    assert waiting.status == 200 and "Waiting for the presenter" in waiting.text
    assert waiting.dom.get("event-current").attrs["data-current-poll"] == "0"

    page = await owner.post(f"/events/{event_id}/current", {"move": "next", "return_to": "remote"})
    assert page.status == 303 and path_of(page.location) == f"/events/{event_id}/remote"

    shown = await phone.get(f"/e/{code}")
    assert shown.dom.get("event-current").attrs["data-current-poll"] == str(first)
    assert "Tea or coffee?" in shown.dom.get("event-current").text
    # The vote forms are the poll's own: a guest joins and votes as on a poll page.
    assert votes_for(shown, first, f"/e/{code}")
    assert shown.dom.get("vote") is not None and shown.dom.get("results") is not None


async def test_a_vote_without_javascript_comes_back_to_the_event(app: Quart) -> None:
    owner = await signed_up(app, "Speaker")
    event_id = await new_event(owner)
    poll_id = await add_question(owner, event_id, "Tea or coffee?")
    await owner.post(f"/events/{event_id}/current", {"poll_id": str(poll_id)})
    code = await code_of(event_id)
    phone = Browser(app, "192.0.2.52")
    await phone.get(f"/e/{code}")
    joined = await phone.post(f"/guest?{urlencode({'next': f'/e/{code}'})}", {"name": "Gus"})
    assert joined.status == 303 and path_of(joined.location) == f"/e/{code}"

    page = await phone.get(f"/e/{code}")
    form = page.dom.find("form", data_tap="vote")
    assert form is not None
    fields = {i.attrs["name"]: i.attrs.get("value", "") for i in form.find_all("input")}
    voted = await phone.post(form.attrs["action"], fields)

    assert voted.status == 303 and voted.location.endswith(f"/e/{code}")
    assert await Vote.count().where(Vote.poll == poll_id) == 1
    shown = await phone.get(voted.location)
    assert shown.dom.find("button", aria_pressed="true") is not None


async def test_self_paced_audience_move_on_their_own(app: Quart) -> None:
    owner = await signed_up(app, "Speaker")
    event_id = await new_event(owner, mode="self_paced")
    first = await add_question(owner, event_id, "First?")
    second = await add_question(owner, event_id, "Second?")
    code = await code_of(event_id)
    phone = Browser(app, "192.0.2.51")

    page = await phone.get(f"/e/{code}")
    assert "First?" in page.dom.get("event-current").text
    assert votes_for(page, first, f"/e/{code}")
    following = page.dom.find("a", rel="next")
    assert following is not None
    page = await phone.get(following.attrs["href"])
    assert "Second?" in page.dom.get("event-current").text
    assert votes_for(page, second, f"/e/{code}?q=2")
    assert page.dom.find("a", rel="next") is None and page.dom.find("a", rel="prev") is not None
    done = await phone.get(f"/e/{code}?{urlencode({'q': '9'})}")
    assert "last question" in done.text


async def test_the_big_screen_and_the_remote(app: Quart) -> None:
    owner = await signed_up(app, "Speaker")
    event_id = await new_event(owner)
    poll_id = await add_question(owner, event_id, "Tea or coffee?")
    await owner.post(f"/events/{event_id}/current", {"poll_id": str(poll_id)})
    code = await code_of(event_id)

    screen = await owner.get(f"/events/{event_id}/present")
    assert screen.status == 200
    assert code in screen.text and screen.dom.find(cls="qr") is not None
    assert screen.dom.get("control-next") is not None
    bare = await owner.get(f"/events/{event_id}/present?controls=off")
    assert bare.dom.by_id("control-next") is None
    remote = await owner.get(f"/events/{event_id}/remote")
    assert remote.dom.get("control-next") is not None
    assert remote.dom.get("control-close") is not None

    page = await owner.post(
        f"/events/{event_id}/results-hidden", {"hidden": "1", "return_to": "remote"}
    )
    assert page.status == 303
    assert await Poll.exists().where(Poll.id == poll_id, Poll.results_hidden == True)  # noqa: E712
    await owner.post(f"/events/{event_id}/close", {"return_to": "remote"})
    row = await Poll.select(Poll.closed_at).where(Poll.id == poll_id).first()
    assert row is not None and row["closed_at"] is not None


async def test_reorder_and_remove_from_the_manage_page(app: Quart) -> None:
    owner = await signed_up(app, "Speaker")
    event_id = await new_event(owner)
    a = await add_question(owner, event_id, "A?")
    b = await add_question(owner, event_id, "B?")
    await owner.post(f"/events/{event_id}/questions/{b}/move", {"direction": "up"})
    rows = await EventQuestion.select(EventQuestion.poll).order_by(EventQuestion.position)
    assert [row["poll"] for row in rows] == [b, a]
    await owner.post(f"/events/{event_id}/questions/{b}/remove", {})
    rows = await EventQuestion.select(EventQuestion.poll)
    assert [row["poll"] for row in rows] == [a]


async def test_an_unknown_code_is_a_404(app: Quart) -> None:
    assert (await Browser(app).get("/e/NOPE123")).status == 404


async def test_downloads_and_duplicate_from_the_manage_page(app: Quart) -> None:
    owner = await signed_up(app, "Speaker")
    event_id = await new_event(owner)
    await add_question(owner, event_id, "=HYPERLINK(evil)")
    page = await owner.get(f"/events/{event_id}/export.csv")
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in page.headers["Content-Disposition"]
    lines = page.text.splitlines()
    assert lines[0].startswith("question_number,poll_id,question,option,votes,percent")
    assert re.match(r"1,\d+,'=HYPERLINK\(evil\),Yes,0,0", lines[1]), lines[1]
    page = await owner.get(f"/events/{event_id}/export.json")
    assert page.status == 200 and '"questions"' in page.text
    other = await signed_up(app, "Other")
    assert (await other.get(f"/events/{event_id}/export.csv")).status == 403

    page = await owner.post(f"/events/{event_id}/duplicate", {})
    assert page.status == 303
    assert await Event.count() == 2 and await Poll.count() == 2


async def test_countdown_and_reset_from_the_remote(app: Quart) -> None:
    from tests.pages.helpers import option_ids

    owner = await signed_up(app, "Speaker")
    event_id = await new_event(owner)
    poll_id = await add_question(owner, event_id, "Quick?")
    page = await owner.post(f"/events/{event_id}/countdown", {"seconds": "30"})
    assert page.status == 409  # no current question yet
    await owner.post(f"/events/{event_id}/current", {"poll_id": str(poll_id)})
    for bad in ("", "2", "abc", "99999"):
        page = await owner.post(f"/events/{event_id}/countdown", {"seconds": bad})
        assert page.status == 422, bad
    page = await owner.post(
        f"/events/{event_id}/countdown", {"seconds": "30", "return_to": "remote"}
    )
    assert page.status == 303
    row = await Poll.select(Poll.closes_at).where(Poll.id == poll_id).first()
    assert row is not None and row["closes_at"] is not None

    voter = await signed_up(app, "Voter")
    await voter.vote(poll_id, (await option_ids(poll_id))[0])
    assert (await owner.post(f"/events/{event_id}/reset", {})).status == 422
    assert await Poll.exists().where(Poll.id == poll_id, Poll.voters == 1)
    before = await Event.select(Event.seq).where(Event.id == event_id).first()
    page = await owner.post(f"/events/{event_id}/reset", {"confirm": "yes", "return_to": "remote"})
    assert page.status == 303
    assert await Poll.exists().where(Poll.id == poll_id, Poll.voters == 0)
    # A new event message: phones fetch their voting blocks again (their choices are gone).
    after = await Event.select(Event.seq).where(Event.id == event_id).first()
    assert before is not None and after is not None and after["seq"] > before["seq"]
    voted = await voter.get(f"/e/{await code_of(event_id)}")
    assert voted.dom.find("button", aria_pressed="true") is None
