"""Rating scales (#15): made, rated, changed, withdrawn and shown, on both databases.

The API (PUT/DELETE .../response, GET .../response/me, the results' `detail`), the rules
(one rating per person, 1 to the scale's points, a poll of another kind refused with 409),
visibility, reset and duplicate, and the database's own keys and CHECKs underneath.
"""

from __future__ import annotations

import asyncio
import csv
import io
import sqlite3
from typing import TYPE_CHECKING, Any

import asyncpg
import pytest

from tests.api.problems import assert_problem, assert_validation_problem
from tests.conftest import MakeMember, MakePoll
from tests.kinds.helpers import make_kind_poll, put_response, results
from webapp.tables import Poll

if TYPE_CHECKING:
    from quart.typing import TestClientProtocol

SCALE = {"scale": {"points": 5, "low_label": "Poor", "high_label": "Great"}}
INTEGRITY_ERRORS = (asyncpg.IntegrityConstraintViolationError, sqlite3.IntegrityError)


def histogram(body: dict[str, Any]) -> list[int]:
    return [bucket["count"] for bucket in body["detail"]["histogram"]]


async def rows(poll_id: int) -> list[dict[str, Any]]:
    return list(await Poll.raw('SELECT "user", rating FROM scale_rating WHERE poll = {}', poll_id))


async def test_a_scale_poll_is_made_with_its_settings_and_no_options(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member()
    poll = await make_kind_poll(client, ann, "scale", **SCALE)
    assert poll["kind"] == "scale"
    assert poll["scale"] == {"points": 5, "low_label": "Poor", "high_label": "Great"}
    assert poll["options"] == []
    assert poll["answers_per_person"] is None
    body = await results(client, poll["id"])
    assert body["kind"] == "scale"
    assert body["detail"]["responses"] == 0
    assert body["detail"]["average"] is None and body["detail"]["median"] is None
    assert histogram(body) == [0, 0, 0, 0, 0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "scale"}, "scale"),
        ({"kind": "scale", **SCALE, "options": ["a", "b"]}, "options"),
        ({"kind": "scale", **SCALE, "answers_per_person": 2}, "answers_per_person"),
        ({"kind": "scale", **SCALE, "allows_multiple": True}, "allows_multiple"),
        ({"kind": "scale", **SCALE, "premoderated": True}, "premoderated"),
        ({"kind": "choice", "options": ["a", "b"], **SCALE}, "scale"),
        ({"kind": "choice"}, "options"),
        (
            {"kind": "scale", "scale": {"points": 11, "low_label": "a", "high_label": "b"}},
            "scale.points",
        ),
        (
            {"kind": "scale", "scale": {"points": 5, "low_label": " ", "high_label": "b"}},
            "scale.low_label",
        ),
        (
            {"kind": "scale", "scale": {"points": "5", "low_label": "a", "high_label": "b"}},
            "scale.points",
        ),
        ({"kind": "quiz", "options": ["a", "b"]}, "kind"),
    ],
)
async def test_settings_that_do_not_fit_the_kind_are_a_422_naming_them(
    client: TestClientProtocol, make_member: MakeMember, body: dict[str, Any], field: str
) -> None:
    ann = await make_member()
    before = await Poll.count()
    response = await client.post(
        "/api/v1/polls", json={"question": "How was it?", **body}, headers=ann.auth
    )
    await assert_validation_problem(response, field)
    assert await Poll.count() == before


async def test_ratings_are_counted_changed_and_withdrawn(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob, cy = await make_member(), await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "scale", **SCALE)
    poll_id = poll["id"]

    first = await put_response(client, bob, poll_id, rating=4)
    assert first.status_code == 201, await first.get_data(as_text=True)
    assert histogram(await first.get_json()) == [0, 0, 0, 1, 0]
    again = await put_response(client, bob, poll_id, rating=4)
    assert again.status_code == 200
    assert (await results(client, poll_id))["seq"] == (await first.get_json())["seq"]

    await put_response(client, cy, poll_id, rating=1)
    changed = await put_response(client, bob, poll_id, rating=5)
    assert changed.status_code == 200
    body = await changed.get_json()
    assert histogram(body) == [1, 0, 0, 0, 1]
    assert body["detail"]["average"] == 3.0 and body["detail"]["median"] == 3.0
    assert body["responses"] == 2
    assert len(await rows(poll_id)) == 2

    mine = await client.get(f"/api/v1/polls/{poll_id}/response/me", headers=bob.auth)
    given = {name: value for name, value in (await mine.get_json()).items() if value is not None}
    assert given == {"poll_id": poll_id, "kind": "scale", "rating": 5}  # other kinds' null

    gone = await client.delete(f"/api/v1/polls/{poll_id}/response", headers=bob.auth)
    assert gone.status_code == 204
    body = await results(client, poll_id)
    assert histogram(body) == [1, 0, 0, 0, 0]
    assert body["responses"] == 1 and body["voters"] == 1
    mine = await client.get(f"/api/v1/polls/{poll_id}/response/me", headers=bob.auth)
    assert (await mine.get_json())["rating"] is None
    again = await client.delete(f"/api/v1/polls/{poll_id}/response", headers=bob.auth)
    assert again.status_code == 204
    assert (await results(client, poll_id))["responses"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rating": 6}, "rating"),
        ({"rating": 0}, "rating"),
        ({"rating": "3"}, "rating"),
        ({"rating": 2.5}, "rating"),
        ({}, "rating"),
        ({"rating": None}, "rating"),
        ({"text": "hello"}, "rating"),  # another kind's field: this kind's is wanted
    ],
)
async def test_a_bad_rating_is_a_422_naming_it_and_changes_nothing(
    client: TestClientProtocol, make_member: MakeMember, body: dict[str, Any], field: str
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "scale", **SCALE)
    await put_response(client, bob, poll["id"], rating=2)
    before = await results(client, poll["id"])
    response = await put_response(client, bob, poll["id"], **body)
    await assert_validation_problem(response, field)
    assert await results(client, poll["id"]) == before


async def test_each_kind_takes_only_its_own_responses(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann, bob = await make_member(), await make_member()
    scale = await make_kind_poll(client, ann, "scale", **SCALE)
    choice = await make_poll(ann)
    assert choice["kind"] == "choice" and choice["scale"] is None
    response = await client.post(
        f"/api/v1/polls/{scale['id']}/votes", json={"option_id": 1}, headers=bob.auth
    )
    await assert_problem(response, 409)
    assert "PUT .../response" in (await response.get_json())["detail"]
    response = await put_response(client, bob, choice["id"], rating=3)
    await assert_problem(response, 409)
    assert "POST .../votes" in (await response.get_json())["detail"]
    assert await rows(scale["id"]) == []


async def test_a_closed_or_draft_scale_takes_no_ratings(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "scale", **SCALE)
    closed = await client.patch(
        f"/api/v1/polls/{poll['id']}", json={"closed": True}, headers=ann.auth
    )
    assert closed.status_code == 200
    await assert_problem(await put_response(client, bob, poll["id"], rating=3), 409)
    draft = await make_kind_poll(client, ann, "scale", **SCALE, is_published=False)
    await assert_problem(await put_response(client, bob, draft["id"], rating=3), 404)
    assert await rows(poll["id"]) == [] and await rows(draft["id"]) == []


async def test_hidden_until_rated_then_shown(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "scale", **SCALE, results_visibility="after_vote")
    await put_response(client, ann, poll["id"], rating=3)
    before = await results(client, poll["id"], bob)
    assert before["visible"] is False and before["detail"] is None
    assert before["responses"] == 1
    anonymous = await results(client, poll["id"])
    assert anonymous["detail"] is None
    rated = await put_response(client, bob, poll["id"], rating=5)
    body = await rated.get_json()
    assert body["visible"] is True and histogram(body) == [0, 0, 1, 0, 1]
    assert (await results(client, poll["id"], bob))["detail"] is not None


async def test_reset_clears_ratings_and_duplicate_keeps_the_scale(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "scale", **SCALE)
    await put_response(client, bob, poll["id"], rating=2)
    reset = await client.post(
        f"/api/v1/polls/{poll['id']}/reset", json={"confirm": True}, headers=ann.auth
    )
    assert reset.status_code == 200, await reset.get_data(as_text=True)
    body = await results(client, poll["id"])
    assert histogram(body) == [0, 0, 0, 0, 0] and body["responses"] == 0
    assert await rows(poll["id"]) == []
    again = await put_response(client, bob, poll["id"], rating=2)
    assert again.status_code == 201

    copy = await client.post(f"/api/v1/polls/{poll['id']}/duplicate", json={}, headers=ann.auth)
    assert copy.status_code == 201, await copy.get_data(as_text=True)
    copied = await copy.get_json()
    assert copied["kind"] == "scale" and copied["scale"] == poll["scale"]


async def test_the_database_holds_one_rating_per_person_and_the_range(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "scale", **SCALE)
    await put_response(client, bob, poll["id"], rating=2)
    insert = 'INSERT INTO scale_rating (poll, "user", rating) VALUES ({}, {}, {})'
    with pytest.raises(INTEGRITY_ERRORS):
        await Poll.raw(insert, poll["id"], bob.id, 3)
    with pytest.raises(INTEGRITY_ERRORS):
        await Poll.raw(insert, poll["id"], ann.id, 11)
    with pytest.raises(INTEGRITY_ERRORS):
        await Poll.raw("UPDATE poll SET kind = 'quiz' WHERE id = {}", poll["id"])
    assert len(await rows(poll["id"])) == 1


async def test_ratings_sent_at_once_count_exactly(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    """Many people rating at once, and one person sending several ratings at once: every
    person counted once, in one row each, with the count per value equal to the rows."""
    ann = await make_member()
    poll = await make_kind_poll(client, ann, "scale", **SCALE)
    people = list(await asyncio.gather(*(make_member() for _ in range(12))))
    sent = await asyncio.gather(
        *(put_response(client, p, poll["id"], rating=1 + i % 5) for i, p in enumerate(people)),
        *(put_response(client, people[0], poll["id"], rating=r) for r in (1, 2, 3, 4, 5)),
    )
    assert {response.status_code for response in sent} <= {200, 201}
    stored = await rows(poll["id"])
    assert len(stored) == 12
    body = await results(client, poll["id"])
    per_value = [sum(1 for row in stored if row["rating"] == v) for v in range(1, 6)]
    assert histogram(body) == per_value
    assert body["responses"] == 12 == body["voters"]


async def test_the_export_carries_the_scale_in_json_and_a_row_per_value_in_csv(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "scale", **SCALE)
    await put_response(client, bob, poll["id"], rating=4)
    exported = await client.get(f"/api/v1/polls/{poll['id']}/export", headers=ann.auth)
    assert exported.status_code == 200, await exported.get_data(as_text=True)
    body = await exported.get_json()
    assert body["kind"] == "scale" and body["options"] == [] and body["voters"] == 1
    assert [b["count"] for b in body["detail"]["histogram"]] == [0, 0, 0, 1, 0]
    sheet = await client.get(f"/api/v1/polls/{poll['id']}/export.csv", headers=ann.auth)
    assert sheet.status_code == 200
    rows = list(csv.DictReader(io.StringIO(await sheet.get_data(as_text=True))))
    assert [(row["option"], row["votes"]) for row in rows] == [
        ("1", "0"),
        ("2", "0"),
        ("3", "0"),
        ("4", "1"),
        ("5", "0"),
    ]
