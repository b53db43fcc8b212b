"""Open text (#15): answered, replaced, withdrawn, moderated and shown, on both databases.

The API (PUT/DELETE .../response with `text`, GET .../response/me, GET .../answers and
PATCH .../answers/{id}, PATCH premoderated), the rules (one answer per person, normalised
text, pending and hidden answers seen by the owner only), visibility and concurrency.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest

from tests.api.problems import assert_problem, assert_validation_problem
from tests.conftest import MakeMember, Member, postgres_only
from tests.kinds.helpers import make_kind_poll, put_response, results
from webapp.kinds import open_text as open_text_kind
from webapp.responses import open_text as open_text_responses
from webapp.tables import Poll

if TYPE_CHECKING:
    from quart.typing import TestClientProtocol


def texts(body: dict[str, Any]) -> list[str]:
    return [answer["text"] for answer in body["detail"]["answers"]]


async def rows(poll_id: int) -> list[dict[str, Any]]:
    return list(
        await Poll.raw(
            'SELECT id, "user", text, state FROM text_answer WHERE poll = {} ORDER BY id',
            poll_id,
        )
    )


async def queue(client: TestClientProtocol, poll_id: int, member: Member) -> dict[str, Any]:
    response = await client.get(f"/api/v1/polls/{poll_id}/answers", headers=member.auth)
    assert response.status_code == 200, await response.get_data(as_text=True)
    body: dict[str, Any] = await response.get_json()
    return body


async def moderate(
    client: TestClientProtocol, poll_id: int, answer_id: int, member: Member, state: str
) -> Any:
    return await client.patch(
        f"/api/v1/polls/{poll_id}/answers/{answer_id}", json={"state": state}, headers=member.auth
    )


async def test_answers_are_listed_newest_first_replaced_and_withdrawn(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob, cy = await make_member(), await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "open_text")
    poll_id = poll["id"]
    assert poll["kind"] == "open_text" and poll["premoderated"] is False
    empty = await results(client, poll_id)
    assert empty["detail"] == {"kind": "open_text", "answers": [], "more": 0}

    first = await put_response(client, bob, poll_id, text="  More coffee,\r\n\r\n\r\nplease ")
    assert first.status_code == 201, await first.get_data(as_text=True)
    assert texts(await first.get_json()) == ["More coffee,\n\nplease"]
    again = await put_response(client, bob, poll_id, text="More coffee,\n\nplease")
    assert again.status_code == 200
    assert (await again.get_json())["seq"] == (await first.get_json())["seq"]

    await put_response(client, cy, poll_id, text="Shorter talks")
    body = await results(client, poll_id)
    assert texts(body) == ["Shorter talks", "More coffee,\n\nplease"]
    assert body["responses"] == 2

    replaced = await put_response(client, bob, poll_id, text="Tea too")
    assert replaced.status_code == 200
    assert texts(await replaced.get_json()) == ["Tea too", "Shorter talks"]
    assert len(await rows(poll_id)) == 2

    mine = await client.get(f"/api/v1/polls/{poll_id}/response/me", headers=bob.auth)
    assert (await mine.get_json())["text"] == "Tea too"
    assert (await mine.get_json())["kind"] == "open_text"

    gone = await client.delete(f"/api/v1/polls/{poll_id}/response", headers=bob.auth)
    assert gone.status_code == 204
    body = await results(client, poll_id)
    assert texts(body) == ["Shorter talks"] and body["responses"] == 1
    mine = await client.get(f"/api/v1/polls/{poll_id}/response/me", headers=bob.auth)
    assert (await mine.get_json())["text"] is None
    again = await client.delete(f"/api/v1/polls/{poll_id}/response", headers=bob.auth)
    assert again.status_code == 204


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": " \u200b\n\t "}, "text"),
        ({"text": "x" * 1001}, "text"),
        ({"text": "\n".join("line" for _ in range(21))}, "text"),
        ({"text": "bell\u0007"}, "text"),
        ({"text": "evil\u202e"}, "text"),
        ({"text": 5}, "text"),
        ({"text": None}, "text"),
        ({}, "text"),
        ({"rating": 3}, "text"),
        ({"text": "hi", "rating": 3}, "text"),
    ],
)
async def test_a_bad_answer_is_a_422_naming_text_and_changes_nothing(
    client: TestClientProtocol, make_member: MakeMember, body: dict[str, Any], field: str
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "open_text")
    await put_response(client, bob, poll["id"], text="kept")
    before = await results(client, poll["id"])
    response = await put_response(client, bob, poll["id"], **body)
    await assert_validation_problem(response, field)
    assert await results(client, poll["id"]) == before
    assert [row["text"] for row in await rows(poll["id"])] == ["kept"]


async def test_a_premoderated_answer_waits_for_the_owner(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob, cy = await make_member(), await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "open_text", premoderated=True)
    poll_id = poll["id"]
    sent = await put_response(client, bob, poll_id, text="A secret wish")
    assert sent.status_code == 201
    assert texts(await sent.get_json()) == []
    for viewer in (None, cy, bob, ann):
        assert texts(await results(client, poll_id, viewer)) == []
    mine = await client.get(f"/api/v1/polls/{poll_id}/response/me", headers=bob.auth)
    assert (await mine.get_json())["text"] == "A secret wish"

    pending = (await queue(client, poll_id, ann))["answers"]
    assert [(a["text"], a["state"]) for a in pending] == [("A secret wish", "pending")]
    approved = await moderate(client, poll_id, pending[0]["id"], ann, "shown")
    assert approved.status_code == 200, await approved.get_data(as_text=True)
    assert (await approved.get_json())["state"] == "shown"
    assert texts(await results(client, poll_id, cy)) == ["A secret wish"]

    # A replacement is a new answer: it waits again, and the old approval does not carry.
    await put_response(client, bob, poll_id, text="A new wish")
    assert texts(await results(client, poll_id, cy)) == []
    (answer,) = (await queue(client, poll_id, ann))["answers"]
    assert answer["state"] == "pending" and answer["id"] != pending[0]["id"]
    stale = await moderate(client, poll_id, pending[0]["id"], ann, "shown")
    await assert_problem(stale, 404)


async def test_the_owner_hides_and_unhides_an_answer(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob, cy = await make_member(), await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "open_text")
    poll_id = poll["id"]
    await put_response(client, bob, poll_id, text="Rude words")
    await put_response(client, cy, poll_id, text="Kind words")
    answer_id = (await rows(poll_id))[0]["id"]
    seq = (await results(client, poll_id))["seq"]

    hidden = await moderate(client, poll_id, answer_id, ann, "hidden")
    assert hidden.status_code == 200
    assert (await hidden.get_json())["state"] == "hidden"
    body = await results(client, poll_id, ann)
    assert texts(body) == ["Kind words"] and body["seq"] == seq + 1
    again = await moderate(client, poll_id, answer_id, ann, "hidden")
    assert again.status_code == 200
    assert (await results(client, poll_id))["seq"] == seq + 1  # nothing changed
    states = {a["id"]: a["state"] for a in (await queue(client, poll_id, ann))["answers"]}
    assert states[answer_id] == "hidden"

    shown = await moderate(client, poll_id, answer_id, ann, "shown")
    assert shown.status_code == 200
    assert texts(await results(client, poll_id)) == ["Kind words", "Rude words"]


async def test_only_the_owner_moderates_or_reads_the_queue(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "open_text", premoderated=True)
    poll_id = poll["id"]
    await put_response(client, bob, poll_id, text="Mine")
    answer_id = (await rows(poll_id))[0]["id"]

    listed = await client.get(f"/api/v1/polls/{poll_id}/answers", headers=bob.auth)
    await assert_problem(listed, 403)
    await assert_problem(await moderate(client, poll_id, answer_id, bob, "shown"), 403)
    anonymous = await client.get(f"/api/v1/polls/{poll_id}/answers")
    assert anonymous.status_code == 401
    assert [row["state"] for row in await rows(poll_id)] == ["pending"]

    other = await make_kind_poll(client, ann, "open_text")
    await assert_problem(await moderate(client, other["id"], answer_id, ann, "shown"), 404)
    await assert_problem(await moderate(client, poll_id, 999_999, ann, "shown"), 404)
    bad = await moderate(client, poll_id, answer_id, ann, "pending")
    await assert_validation_problem(bad, "state")
    scale = await make_kind_poll(
        client, ann, "scale", scale={"points": 3, "low_label": "a", "high_label": "b"}
    )
    await assert_problem(await moderate(client, scale["id"], answer_id, ann, "shown"), 409)
    wrong = await client.get(f"/api/v1/polls/{scale['id']}/answers", headers=ann.auth)
    await assert_problem(wrong, 409)
    assert [row["state"] for row in await rows(poll_id)] == ["pending"]


async def test_premoderation_can_be_switched_on_a_published_poll_of_its_kinds_only(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "open_text")
    await put_response(client, bob, poll["id"], text="Before")
    changed = await client.patch(
        f"/api/v1/polls/{poll['id']}", json={"premoderated": True}, headers=ann.auth
    )
    assert changed.status_code == 200, await changed.get_data(as_text=True)
    assert (await changed.get_json())["premoderated"] is True
    assert texts(await results(client, poll["id"])) == ["Before"]  # already shown stays
    await put_response(client, bob, poll["id"], text="After")
    assert texts(await results(client, poll["id"])) == []

    scale = await make_kind_poll(
        client, ann, "scale", scale={"points": 3, "low_label": "a", "high_label": "b"}
    )
    refused = await client.patch(
        f"/api/v1/polls/{scale['id']}", json={"premoderated": True}, headers=ann.auth
    )
    await assert_validation_problem(refused, "premoderated")
    by_other = await client.patch(
        f"/api/v1/polls/{poll['id']}", json={"premoderated": False}, headers=bob.auth
    )
    assert by_other.status_code == 403


async def test_hidden_until_answered_then_shown(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "open_text", results_visibility="after_vote")
    await put_response(client, ann, poll["id"], text="The owner's own")
    before = await results(client, poll["id"], bob)
    assert before["visible"] is False and before["detail"] is None
    assert (await results(client, poll["id"]))["detail"] is None
    answered = await put_response(client, bob, poll["id"], text="Mine")
    assert texts(await answered.get_json()) == ["Mine", "The owner's own"]


async def test_a_closed_poll_or_another_kind_takes_no_answer(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "open_text")
    await client.patch(f"/api/v1/polls/{poll['id']}", json={"closed": True}, headers=ann.auth)
    await assert_problem(await put_response(client, bob, poll["id"], text="late"), 409)
    draft = await make_kind_poll(client, ann, "open_text", is_published=False)
    await assert_problem(await put_response(client, bob, draft["id"], text="early"), 404)
    scale = await make_kind_poll(
        client, ann, "scale", scale={"points": 3, "low_label": "a", "high_label": "b"}
    )
    response = await client.post(
        f"/api/v1/polls/{poll['id']}/votes", json={"option_id": 1}, headers=bob.auth
    )
    await assert_problem(response, 409)
    await assert_validation_problem(
        await put_response(client, bob, scale["id"], text="x"), "rating"
    )
    assert await rows(poll["id"]) == [] and await rows(draft["id"]) == []


async def test_results_carry_the_newest_shown_and_count_the_rest(
    client: TestClientProtocol, make_member: MakeMember, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The results carry the newest SHOWN_MAX shown answers (2 here, 50 in earnest) and count
    the other shown ones in `more`; hidden ones are in neither."""
    monkeypatch.setattr(
        open_text_kind, "SHOWN_SQL", open_text_kind.SHOWN_SQL.replace("LIMIT 50", "LIMIT 2")
    )
    ann = await make_member()
    poll = await make_kind_poll(client, ann, "open_text")
    people = [await make_member() for _ in range(5)]
    for person in people:
        await put_response(client, person, poll["id"], text=f"from {person.name}")
    hidden = (await rows(poll["id"]))[0]["id"]
    assert (await moderate(client, poll["id"], hidden, ann, "hidden")).status_code == 200
    detail = (await results(client, poll["id"]))["detail"]
    assert texts({"detail": detail}) == [f"from {people[4].name}", f"from {people[3].name}"]
    assert detail["more"] == 2


@postgres_only
async def test_one_persons_answers_sent_at_once_leave_one_row(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "open_text")
    sent = await asyncio.gather(
        *(put_response(client, bob, poll["id"], text=f"take {n}") for n in range(10))
    )
    assert sorted(r.status_code for r in sent) == [200] * 9 + [201]
    (row,) = await rows(poll["id"])
    body = await results(client, poll["id"])
    assert texts(body) == [row["text"]]
    assert body["responses"] == 1 == body["voters"]


@postgres_only
async def test_many_people_answering_at_once_are_all_listed_once(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member()
    poll = await make_kind_poll(client, ann, "open_text")
    people = list(await asyncio.gather(*(make_member() for _ in range(15))))
    sent = await asyncio.gather(
        *(put_response(client, p, poll["id"], text=f"answer {i}") for i, p in enumerate(people)),
        *(put_response(client, people[0], poll["id"], text="answer 0") for _ in range(3)),
    )
    assert {r.status_code for r in sent} <= {200, 201}
    assert sum(r.status_code == 201 for r in sent) == 15
    body = await results(client, poll["id"])
    assert sorted(texts(body)) == sorted(f"answer {i}" for i in range(15))
    assert body["responses"] == 15 == body["voters"]
    assert len(await rows(poll["id"])) == 15


async def test_the_queue_pages_older_answers_with_before(
    client: TestClientProtocol, make_member: MakeMember, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(open_text_responses, "QUEUE_MAX", 2)
    monkeypatch.setattr(
        open_text_responses, "QUEUE_SQL", open_text_responses.QUEUE_SQL.replace("101", "3")
    )
    ann = await make_member()
    poll = await make_kind_poll(client, ann, "open_text", premoderated=True)
    for person in [await make_member() for _ in range(3)]:
        await put_response(client, person, poll["id"], text=f"from {person.name}")
    ids = [row["id"] for row in await rows(poll["id"])]
    first = await queue(client, poll["id"], ann)
    assert [a["id"] for a in first["answers"]] == ids[:0:-1]
    assert first["next_before"] == ids[1]
    older = await client.get(
        f"/api/v1/polls/{poll['id']}/answers?before={first['next_before']}", headers=ann.auth
    )
    body = await older.get_json()
    assert [a["id"] for a in body["answers"]] == [ids[0]] and body["next_before"] is None
    bad = await client.get(f"/api/v1/polls/{poll['id']}/answers?before=x", headers=ann.auth)
    assert bad.status_code == 422


async def test_reset_clears_answers_and_duplicate_keeps_premoderation(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "open_text", premoderated=True)
    await put_response(client, bob, poll["id"], text="gone soon")
    reset = await client.post(
        f"/api/v1/polls/{poll['id']}/reset", json={"confirm": True}, headers=ann.auth
    )
    assert reset.status_code == 200, await reset.get_data(as_text=True)
    assert await rows(poll["id"]) == []
    assert (await results(client, poll["id"]))["responses"] == 0
    again = await put_response(client, bob, poll["id"], text="back")
    assert again.status_code == 201
    copy = await client.post(f"/api/v1/polls/{poll['id']}/duplicate", json={}, headers=ann.auth)
    assert copy.status_code == 201, await copy.get_data(as_text=True)
    copied = await copy.get_json()
    assert copied["kind"] == "open_text" and copied["premoderated"] is True
