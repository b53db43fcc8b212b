"""Edges an independent review found (#14): positions far apart still reorder, schedule times
at the ends of the calendar are a 422 (PostgreSQL kept them as infinities, then failed on every
read), and an out-of-range poll id in the add-question form is refused like any unknown poll."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.api.problems import assert_validation_problem
from tests.api.test_events import EVENTS, add_new_question, make_event
from tests.conftest import MakeMember, MakePoll
from tests.pages.helpers import signed_up
from webapp.tables import EventQuestion, Poll

if TYPE_CHECKING:
    from quart import Quart
    from quart.typing import TestClientProtocol


async def test_questions_whose_positions_drifted_apart_still_reorder(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    alice = await make_member("alice")
    event = await make_event(client, alice)
    for text in ("One?", "Two?", "Three?"):
        event = await add_new_question(client, alice, event["id"], text)
    a, b, c = (q["poll_id"] for q in event["questions"])
    # Adding and removing questions leaves gaps: here as wide as any fixed shift could be.
    for poll_id, position in ((a, 0), (b, 1000), (c, 2000)):
        await EventQuestion.update({EventQuestion.position: position}).where(
            EventQuestion.poll == poll_id
        )

    response = await client.put(
        f"{EVENTS}/{event['id']}/questions", json={"poll_ids": [c, b, a]}, headers=alice.auth
    )

    assert response.status_code == 200, await response.get_data(as_text=True)
    assert [q["poll_id"] for q in (await response.get_json())["questions"]] == [c, b, a]
    rows = await EventQuestion.select(EventQuestion.poll, EventQuestion.position).order_by(
        EventQuestion.position
    )
    assert [(row["poll"], row["position"]) for row in rows] == [(c, 0), (b, 1), (a, 2)]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("opens_at", "0001-01-01T00:00:00Z"),
        ("closes_at", "9999-12-31T23:59:59.999999Z"),
        ("closes_at", "1999-12-31T23:59:59Z"),
        ("opens_at", "3000-01-01T00:00:00Z"),
    ],
)
async def test_a_schedule_outside_the_years_2000_to_2999_is_a_422(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll, field: str, value: str
) -> None:
    alice = await make_member("alice")
    poll = await make_poll(alice)

    response = await client.patch(
        f"/api/v1/polls/{poll['id']}", json={field: value}, headers=alice.auth
    )

    await assert_validation_problem(response, field)
    row = await Poll.select(Poll.opens_at, Poll.closes_at).where(Poll.id == poll["id"]).first()
    assert row == {"opens_at": None, "closes_at": None}
    assert (await client.get(f"/api/v1/polls/{poll['id']}")).status_code == 200


async def test_an_out_of_range_poll_id_in_the_add_question_form_is_refused(app: Quart) -> None:
    owner = await signed_up(app, "Speaker")
    page = await owner.post("/events", {"title": "Keynote", "mode": "presenter"})
    event_id = int(page.location.rsplit("/", 1)[1])

    page = await owner.post(f"/events/{event_id}/questions", {"poll_id": "9999999999"})

    assert page.status == 403, page.text
    assert await EventQuestion.count() == 0


async def test_a_question_whose_schedule_cannot_fit_the_event_window_is_closed(
    client: TestClientProtocol, make_member: MakeMember, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An event change that its questions' schedules cannot follow still stands, and those
    questions close: no 422 for a change already made, and no vote outside the window."""
    from datetime import timedelta

    from tests import clocks
    from tests.api.test_events import put_up
    from tests.helpers import vote

    fake = clocks.install(monkeypatch)
    alice, bob = await make_member("alice"), await make_member("bob")
    event = await make_event(
        client, alice, closes_at=(clocks.T0 + timedelta(minutes=10)).isoformat()
    )
    fake.move(60 * 60)  # the event's window closed an hour ago
    late = await client.post(
        f"{EVENTS}/{event['id']}/polls",
        json={"question": "Late?", "options": ["Yes", "No"], "is_published": True},
        headers=alice.auth,
    )
    assert late.status_code == 201, await late.get_data(as_text=True)
    poll_id = (await late.get_json())["questions"][-1]["poll_id"]
    poll = await (await client.get(f"/api/v1/polls/{poll_id}")).get_json()
    assert poll["state"] == "closed"
    await put_up(client, alice, event["id"], poll_id)
    assert (await vote(client, bob, poll_id, poll["options"][0]["id"])).status_code == 409

    # A question that opens after the event's new close: the edit stands, the question closes.
    other = await make_event(client, alice)
    other = await add_new_question(client, alice, other["id"], "Tomorrow?")
    later = other["questions"][0]["poll_id"]
    opens = (clocks.T0 + timedelta(hours=3)).isoformat()
    response = await client.patch(
        f"/api/v1/polls/{later}", json={"opens_at": opens}, headers=alice.auth
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    closes = (clocks.T0 + timedelta(hours=2)).isoformat()
    response = await client.patch(
        f"{EVENTS}/{other['id']}", json={"closes_at": closes}, headers=alice.auth
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    assert (await response.get_json())["closes_at"] is not None
    poll = await (await client.get(f"/api/v1/polls/{later}")).get_json()
    assert poll["state"] == "closed"
