"""The events API under /api/v1/events: create, read, list, edit, questions, current, delete."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest
from quart import Quart

from tests.api.problems import assert_problem, assert_validation_problem
from tests.conftest import MakeMember, MakePoll, Member
from webapp.tables import Event, EventQuestion, Poll

if TYPE_CHECKING:
    from quart.typing import TestClientProtocol

EVENTS = "/api/v1/events"


async def make_event(client: TestClientProtocol, member: Member, **body: Any) -> dict[str, Any]:
    response = await client.post(EVENTS, json={"title": "Keynote", **body}, headers=member.auth)
    assert response.status_code == 201, await response.get_data(as_text=True)
    return dict(await response.get_json())


async def add_new_question(
    client: TestClientProtocol, member: Member, event_id: int, question: str
) -> dict[str, Any]:
    response = await client.post(
        f"{EVENTS}/{event_id}/polls",
        json={"question": question, "options": ["Yes", "No"], "is_published": True},
        headers=member.auth,
    )
    assert response.status_code == 201, await response.get_data(as_text=True)
    return dict(await response.get_json())


async def put_up(client: TestClientProtocol, member: Member, event_id: int, poll_id: int) -> None:
    """Make the question current: in a presenter-paced event only it takes votes."""
    response = await client.put(
        f"{EVENTS}/{event_id}/current", json={"poll_id": poll_id}, headers=member.auth
    )
    assert response.status_code == 200, await response.get_data(as_text=True)


async def test_create_event_gives_a_join_code_unlike_any_polls(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    alice = await make_member("alice")
    poll = await make_poll(alice)

    event = await make_event(client, alice, poll_ids=[poll["id"]])

    assert event["title"] == "Keynote"
    assert event["mode"] == "presenter"
    assert event["owner"] == {"id": alice.id, "name": "alice"}
    assert len(event["join_code"]) == 7 and event["join_code"] != poll["join_code"]
    assert [q["poll_id"] for q in event["questions"]] == [poll["id"]]
    assert event["current_poll_id"] is None
    response = await client.get(f"{EVENTS}/{event['id']}")
    assert (await response.get_json())["join_code"] == event["join_code"]


async def test_bad_input_names_the_field_and_writes_nothing(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    alice = await make_member("alice")
    for body, field in (
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "T", "mode": "chaos"}, "mode"),
        ({"title": "T", "opens_at": "tomorrow"}, "opens_at"),
        ({"title": "T", "opens_at": "2026-01-01T10:00:00"}, "opens_at"),  # no offset
        ({"title": "T", "poll_ids": [0]}, "poll_ids.0"),
        ({"title": "T", "closes_at": "1999-12-31T23:00:00Z"}, "closes_at"),
    ):
        response = await client.post(EVENTS, json=body, headers=alice.auth)
        await assert_validation_problem(response, field)
    response = await client.post(
        EVENTS,
        json={
            "title": "T",
            "opens_at": "2026-01-02T10:00:00Z",
            "closes_at": "2026-01-01T10:00:00Z",
        },
        headers=alice.auth,
    )
    await assert_problem(response, 409)
    assert await Event.count() == 0


async def test_only_your_own_polls_and_each_in_one_event(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    alice, bob = await make_member("alice"), await make_member("bob")
    bobs = await make_poll(bob)
    response = await client.post(
        EVENTS, json={"title": "T", "poll_ids": [bobs["id"]]}, headers=alice.auth
    )
    await assert_problem(response, 403)
    response = await client.post(
        EVENTS, json={"title": "T", "poll_ids": [999_999]}, headers=alice.auth
    )
    await assert_problem(response, 403)

    mine = await make_poll(alice)
    first = await make_event(client, alice, poll_ids=[mine["id"]])
    second = await make_event(client, alice)
    response = await client.post(
        f"{EVENTS}/{second['id']}/questions", json={"poll_id": mine["id"]}, headers=alice.auth
    )
    await assert_problem(response, 409)
    response = await client.post(
        EVENTS, json={"title": "T", "poll_ids": [mine["id"]]}, headers=alice.auth
    )
    await assert_problem(response, 409)
    assert await EventQuestion.count() == 1
    assert await Event.count() == 2
    assert first["questions"][0]["poll_id"] == mine["id"]


async def test_non_owners_cannot_change_an_event(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    alice, bob = await make_member("alice"), await make_member("bob")
    event = await make_event(client, alice)
    question = await add_new_question(client, alice, event["id"], "Coffee?")
    poll_id = question["questions"][0]["poll_id"]
    url = f"{EVENTS}/{event['id']}"
    for method, path, body in (
        ("PATCH", url, {"title": "Mine now"}),
        ("PUT", f"{url}/current", {"poll_id": poll_id}),
        ("PUT", f"{url}/current", {"move": "next"}),
        ("PUT", f"{url}/questions", {"poll_ids": [poll_id]}),
        ("POST", f"{url}/polls", {"question": "Q?", "options": ["a", "b"]}),
        ("DELETE", f"{url}/questions/{poll_id}", None),
        ("DELETE", url, None),
    ):
        response = await client.open(path, method=method, json=body, headers=bob.auth)
        await assert_problem(response, 403)
        response = await client.open(path, method=method, json=body)
        await assert_problem(response, 401)
    response = await client.get(url)
    body = await response.get_json()
    assert body["title"] == "Keynote" and body["current_poll_id"] is None
    assert len(body["questions"]) == 1
    assert await Poll.count() == 1
    response = await client.put(f"{EVENTS}/999999/current", json={"move": "next"}, headers=bob.auth)
    await assert_problem(response, 404)


async def test_the_presenter_moves_through_the_questions(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    alice = await make_member("alice")
    event = await make_event(client, alice)
    for text in ("One?", "Two?", "Three?"):
        event = await add_new_question(client, alice, event["id"], text)
    ids = [q["poll_id"] for q in event["questions"]]
    url = f"{EVENTS}/{event['id']}/current"

    seen = []
    for _ in range(3):
        response = await client.put(url, json={"move": "next"}, headers=alice.auth)
        assert response.status_code == 200
        seen.append((await response.get_json())["current_poll_id"])
    assert seen == ids
    response = await client.put(url, json={"move": "next"}, headers=alice.auth)
    await assert_problem(response, 409)
    response = await client.put(url, json={"move": "previous"}, headers=alice.auth)
    assert (await response.get_json())["current_poll_id"] == ids[1]
    response = await client.put(url, json={"poll_id": ids[0]}, headers=alice.auth)
    body = await response.get_json()
    assert body["current_poll_id"] == ids[0]
    assert [q["is_current"] for q in body["questions"]] == [True, False, False]
    response = await client.put(url, json={"poll_id": None}, headers=alice.auth)
    assert (await response.get_json())["current_poll_id"] is None
    for bad in ({}, {"poll_id": ids[0], "move": "next"}, {"move": "sideways"}, {"move": None}):
        response = await client.put(url, json=bad, headers=alice.auth)
        await assert_problem(response, 422)
    response = await client.put(url, json={"poll_id": 999_999}, headers=alice.auth)
    await assert_problem(response, 404)
    assert await EventQuestion.count().where(EventQuestion.is_current == True) == 0  # noqa: E712


async def test_moving_to_a_draft_question_publishes_it(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    alice = await make_member("alice")
    draft = await make_poll(alice, is_published=False)
    event = await make_event(client, alice, poll_ids=[draft["id"]])
    response = await client.get(f"{EVENTS}/{event['id']}")
    assert (await response.get_json())["questions"] == []  # the audience sees no drafts

    response = await client.put(
        f"{EVENTS}/{event['id']}/current", json={"move": "next"}, headers=alice.auth
    )

    assert (await response.get_json())["current_poll_id"] == draft["id"]
    assert await Poll.exists().where(Poll.id == draft["id"], Poll.is_published == True)  # noqa: E712


async def test_reorder_and_remove(client: TestClientProtocol, make_member: MakeMember) -> None:
    alice = await make_member("alice")
    event = await make_event(client, alice)
    for text in ("One?", "Two?", "Three?"):
        event = await add_new_question(client, alice, event["id"], text)
    a, b, c = (q["poll_id"] for q in event["questions"])
    url = f"{EVENTS}/{event['id']}/questions"

    response = await client.put(url, json={"poll_ids": [c, a, b]}, headers=alice.auth)
    assert [q["poll_id"] for q in (await response.get_json())["questions"]] == [c, a, b]
    for wrong in ([a, b], [a, b, c, c], [a, b, 999_999]):
        response = await client.put(url, json={"poll_ids": wrong}, headers=alice.auth)
        assert response.status_code in (409, 422)
    response = await client.delete(f"{url}/{a}", headers=alice.auth)
    assert response.status_code == 204
    response = await client.delete(f"{url}/{a}", headers=alice.auth)
    await assert_problem(response, 404)
    response = await client.get(f"{EVENTS}/{event['id']}")
    assert [q["poll_id"] for q in (await response.get_json())["questions"]] == [c, b]
    assert await Poll.exists().where(Poll.id == a)  # the poll stays


async def test_two_reorders_at_once_keep_positions_unique(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    alice = await make_member("alice")
    event = await make_event(client, alice)
    for i in range(5):
        event = await add_new_question(client, alice, event["id"], f"Q{i}?")
    ids = [q["poll_id"] for q in event["questions"]]
    url = f"{EVENTS}/{event['id']}/questions"
    orders = [list(reversed(ids)), ids[2:] + ids[:2], ids[1:] + ids[:1], ids]

    responses = await asyncio.gather(
        *(client.put(url, json={"poll_ids": order}, headers=alice.auth) for order in orders)
    )

    assert [r.status_code for r in responses] == [200] * len(orders)
    rows = await EventQuestion.select(EventQuestion.poll, EventQuestion.position).order_by(
        EventQuestion.position
    )
    assert sorted(row["position"] for row in rows) == list(range(5))
    assert [row["poll"] for row in rows] in orders


async def test_edit_the_window_and_mode(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    alice = await make_member("alice")
    event = await make_event(client, alice, opens_at="2030-01-01T09:00:00+01:00")
    url = f"{EVENTS}/{event['id']}"
    assert event["opens_at"].startswith("2030-01-01T08:00:00")

    response = await client.patch(
        url, json={"mode": "self_paced", "closes_at": "2030-01-01T10:00:00Z"}, headers=alice.auth
    )
    body = await response.get_json()
    assert body["mode"] == "self_paced" and body["closes_at"].startswith("2030-01-01T10:00")
    response = await client.patch(
        url, json={"closes_at": "2029-01-01T10:00:00Z"}, headers=alice.auth
    )
    await assert_problem(response, 409)
    for bad in ({}, {"title": None}, {"mode": None}, {"title": "   "}):
        response = await client.patch(url, json=bad, headers=alice.auth)
        await assert_problem(response, 422)
    response = await client.patch(url, json={"opens_at": None}, headers=alice.auth)
    assert (await response.get_json())["opens_at"] is None


async def test_list_is_yours_only_with_a_cursor(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    alice, bob = await make_member("alice"), await make_member("bob")
    ids = [(await make_event(client, alice, title=f"E{i}"))["id"] for i in range(3)]
    await make_event(client, bob)

    response = await client.get(f"{EVENTS}?limit=2", headers=alice.auth)
    page = await response.get_json()
    assert [e["id"] for e in page["items"]] == [ids[2], ids[1]]
    response = await client.get(
        f"{EVENTS}?limit=2&cursor={page['next_cursor']}", headers=alice.auth
    )
    page = await response.get_json()
    assert [e["id"] for e in page["items"]] == [ids[0]] and page["next_cursor"] is None
    await assert_problem(await client.get(EVENTS), 401)


async def test_delete_keeps_the_polls(client: TestClientProtocol, make_member: MakeMember) -> None:
    alice = await make_member("alice")
    event = await make_event(client, alice)
    await add_new_question(client, alice, event["id"], "Stay?")
    response = await client.delete(f"{EVENTS}/{event['id']}", headers=alice.auth)
    assert response.status_code == 204
    await assert_problem(await client.get(f"{EVENTS}/{event['id']}"), 404)
    assert await Poll.count() == 1 and await EventQuestion.count() == 0


async def test_a_deleted_poll_leaves_its_event(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    alice = await make_member("alice")
    event = await make_event(client, alice)
    event = await add_new_question(client, alice, event["id"], "Gone?")
    poll_id = event["questions"][0]["poll_id"]
    await client.put(
        f"{EVENTS}/{event['id']}/current", json={"poll_id": poll_id}, headers=alice.auth
    )

    response = await client.delete(f"/api/v1/polls/{poll_id}", headers=alice.auth)

    assert response.status_code == 204
    body = await (await client.get(f"{EVENTS}/{event['id']}")).get_json()
    assert body["questions"] == [] and body["current_poll_id"] is None


@pytest.mark.limits(limit_poll_create="2/minute")
async def test_event_creation_is_rate_limited_like_polls(limited: Quart) -> None:
    client = limited.test_client()
    await client.post(
        "/api/v1/users", json={"name": "al", "email": "al@example.org", "password": "correct horse"}
    )
    response = await client.post(
        "/api/v1/auth/tokens", json={"email": "al@example.org", "password": "correct horse"}
    )
    auth = {"Authorization": f"Bearer {(await response.get_json())['token']}"}
    statuses = [
        (await client.post(EVENTS, json={"title": f"T{i}"}, headers=auth)).status_code
        for i in range(3)
    ]
    assert statuses == [201, 201, 429]
    assert await Event.count() == 2


async def test_duplicate_copies_the_questions_as_drafts(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    alice, bob = await make_member("alice"), await make_member("bob")
    event = await make_event(client, alice, mode="self_paced")
    for text in ("One?", "Two?"):
        event = await add_new_question(client, alice, event["id"], text)
    await assert_problem(
        await client.post(f"{EVENTS}/{event['id']}/copies", json={}, headers=bob.auth), 403
    )

    response = await client.post(f"{EVENTS}/{event['id']}/copies", json={}, headers=alice.auth)

    assert response.status_code == 201, await response.get_data(as_text=True)
    copy = await response.get_json()
    assert copy["title"] == "Keynote (copy)" and copy["mode"] == "self_paced"
    assert copy["join_code"] != event["join_code"]
    assert [q["question"] for q in copy["questions"]] == ["One?", "Two?"]
    assert [q["is_published"] for q in copy["questions"]] == [False, False]
    originals = {q["poll_id"] for q in event["questions"]}
    assert originals.isdisjoint(q["poll_id"] for q in copy["questions"])
    response = await client.post(
        f"{EVENTS}/{event['id']}/copies", json={"title": ""}, headers=alice.auth
    )
    await assert_validation_problem(response, "title")


async def test_export_counts_every_question_and_names_no_voter(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    from tests.helpers import vote

    alice, bob, carol = [await make_member(n) for n in ("alice", "bob", "carol")]
    event = await make_event(client, alice)
    for text in ("One?", "Two?"):
        event = await add_new_question(client, alice, event["id"], text)
    first = event["questions"][0]["poll_id"]
    await put_up(client, alice, event["id"], first)
    poll = await (await client.get(f"/api/v1/polls/{first}")).get_json()
    for voter in (bob, carol):
        assert (await vote(client, voter, first, poll["options"][0]["id"])).status_code == 201

    response = await client.get(f"{EVENTS}/{event['id']}/results-export", headers=alice.auth)

    assert response.status_code == 200
    body = await response.get_json()
    (one, two) = (q["poll"] for q in body["questions"])
    assert [q["number"] for q in body["questions"]] == [1, 2]
    assert [o["votes"] for o in one["options"]] == [2, 0]
    assert [o["percent"] for o in one["options"]] == [100, 0]
    assert one["voters"] == 2 and one["ballots"]["account"] == 2
    assert two["voters"] == 0 and two["poll_id"] == event["questions"][1]["poll_id"]
    text = await response.get_data(as_text=True)
    assert "example.org" not in text and "bob" not in text
    await assert_problem(
        await client.get(f"{EVENTS}/{event['id']}/results-export", headers=bob.auth), 403
    )


async def test_the_event_window_holds_its_questions(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.helpers import vote

    alice, bob = await make_member("alice"), await make_member("bob")
    opens = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    closes = opens + timedelta(hours=1)
    event = await make_event(
        client, alice, opens_at=opens.isoformat(), closes_at=closes.isoformat()
    )
    event = await add_new_question(client, alice, event["id"], "Later?")
    poll_id = event["questions"][0]["poll_id"]
    await put_up(client, alice, event["id"], poll_id)
    poll = await (await client.get(f"/api/v1/polls/{poll_id}")).get_json()
    assert datetime.fromisoformat(poll["opens_at"]) == opens
    assert datetime.fromisoformat(poll["closes_at"]) == closes
    refused = await vote(client, bob, poll_id, poll["options"][0]["id"])
    await assert_problem(refused, 409)

    response = await client.patch(
        f"{EVENTS}/{event['id']}", json={"opens_at": None}, headers=alice.auth
    )
    assert response.status_code == 200
    poll = await (await client.get(f"/api/v1/polls/{poll_id}")).get_json()
    assert poll["opens_at"] is None and poll["closes_at"] is not None
    assert (await vote(client, bob, poll_id, poll["options"][0]["id"])).status_code == 201
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    response = await client.patch(
        f"{EVENTS}/{event['id']}", json={"closes_at": past}, headers=alice.auth
    )
    await assert_problem(response, 409)


async def test_a_countdown_sets_the_current_questions_closes_at(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    from datetime import UTC, datetime, timedelta

    alice = await make_member("alice")
    event = await make_event(client, alice)
    event = await add_new_question(client, alice, event["id"], "Quick?")
    url = f"{EVENTS}/{event['id']}/countdown"
    await assert_problem(await client.post(url, json={"seconds": 30}, headers=alice.auth), 409)
    poll_id = event["questions"][0]["poll_id"]
    await client.put(
        f"{EVENTS}/{event['id']}/current", json={"poll_id": poll_id}, headers=alice.auth
    )
    for bad in ({"seconds": 4}, {"seconds": 3601}, {"seconds": "30"}, {}):
        await assert_problem(await client.post(url, json=bad, headers=alice.auth), 422)

    before = datetime.now(UTC)
    response = await client.post(url, json={"seconds": 30}, headers=alice.auth)

    assert response.status_code == 200
    current = (await response.get_json())["questions"][0]
    closes_at = datetime.fromisoformat(current["closes_at"])
    assert before + timedelta(seconds=29) < closes_at < datetime.now(UTC) + timedelta(seconds=31)


def _answer(spec: dict[str, Any], path: str) -> dict[str, Any]:
    """The schema a GET's 200 answers with (inline, or the component it names)."""
    content = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    return _component(spec, content["schema"])


def _component(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" not in schema:
        return schema
    return dict(spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])


async def test_the_export_schemas_do_not_replace_the_integrity_reports(
    client: TestClientProtocol,
) -> None:
    """Two models of one name share one OpenAPI component, and one of them is then described
    wrongly (the export's ballots by kind once replaced the integrity report's)."""
    spec = await (await client.get("/openapi.json")).get_json()
    exported = _answer(spec, f"{EVENTS}/{{event_id}}/results-export")
    question = _component(spec, exported["properties"]["questions"]["items"])
    poll = _component(spec, question["properties"]["poll"])
    ballots = _component(spec, poll["properties"]["ballots"])
    assert set(ballots["required"]) == {"account", "guest", "code"}
    report = _answer(spec, "/api/v1/polls/{poll_id}/integrity")
    integrity = _component(spec, report["properties"]["ballots"])
    assert "total" in integrity["properties"] and "account" not in integrity["properties"]


async def test_no_vote_outside_the_event_window_whatever_the_question_says(
    client: TestClientProtocol, make_member: MakeMember, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The vote path judges the event's window itself: the owner taking a question's own
    schedule off (or reopening it after the event closed) lets no vote in outside it."""
    from datetime import timedelta

    from tests import clocks
    from tests.helpers import vote, vote_rows, withdraw

    fake = clocks.install(monkeypatch)
    alice, bob, carol = [await make_member(name) for name in ("alice", "bob", "carol")]
    opens, closes = clocks.T0 + timedelta(hours=1), clocks.T0 + timedelta(hours=2)
    event = await make_event(
        client, alice, opens_at=opens.isoformat(), closes_at=closes.isoformat()
    )
    event = await add_new_question(client, alice, event["id"], "Ready?")
    poll_id = event["questions"][0]["poll_id"]
    await put_up(client, alice, event["id"], poll_id)
    cleared = await client.patch(
        f"/api/v1/polls/{poll_id}",
        json={"opens_at": None, "closes_at": None},
        headers=alice.auth,
    )
    assert cleared.status_code == 200, await cleared.get_data(as_text=True)
    poll = await cleared.get_json()
    assert poll["opens_at"] is None and poll["closes_at"] is None
    option = poll["options"][0]["id"]

    early = await vote(client, bob, poll_id, option)
    await assert_problem(early, 409)
    assert "event opens" in (await early.get_json())["detail"]

    fake.move(90 * 60)
    assert (await vote(client, bob, poll_id, option)).status_code == 201

    fake.move(31 * 60)
    late = await vote(client, carol, poll_id, option)
    await assert_problem(late, 409)
    assert "event has closed" in (await late.get_json())["detail"]
    await assert_problem(await withdraw(client, bob, poll_id), 409)
    assert [row["user"] for row in await vote_rows(poll_id)] == [bob.id]


async def test_a_presenter_paced_event_takes_votes_on_its_current_question_only(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    """Upcoming questions (and those the presenter moved on from) take no votes or
    withdrawals, whatever a client sends; self-paced events take them on every question."""
    from tests.helpers import vote, vote_rows

    alice, bob = await make_member("alice"), await make_member("bob")
    event = await make_event(client, alice)
    for text in ("One?", "Two?"):
        event = await add_new_question(client, alice, event["id"], text)
    one, two = (q["poll_id"] for q in event["questions"])
    polls = [await (await client.get(f"/api/v1/polls/{p}")).get_json() for p in (one, two)]
    a, b = (poll["options"][0]["id"] for poll in polls)

    early = await vote(client, bob, one, a)  # nothing is current yet
    await assert_problem(early, 409)
    assert "not on screen" in (await early.get_json())["detail"]
    await put_up(client, alice, event["id"], one)
    assert (await vote(client, bob, one, a)).status_code == 201
    await assert_problem(await vote(client, bob, two, b), 409)  # not yet up
    await put_up(client, alice, event["id"], two)
    assert (await vote(client, bob, two, b)).status_code == 201
    await assert_problem(await vote(client, alice, one, a), 409)  # moved on from
    withdrawn = await client.delete(f"/api/v1/polls/{one}/votes", headers=bob.auth)
    await assert_problem(withdrawn, 409)
    assert len(await vote_rows(one)) == 1 and len(await vote_rows(two)) == 1

    response = await client.patch(
        f"{EVENTS}/{event['id']}", json={"mode": "self_paced"}, headers=alice.auth
    )
    assert response.status_code == 200
    assert (await vote(client, alice, one, a)).status_code == 201
