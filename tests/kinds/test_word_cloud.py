"""Word clouds (#15) through the API, on both databases: answers given, repeated, limited,
taken back and counted; the owner's hiding; visibility; bad input; the kept layout; the
database's keys; and (on PostgreSQL) answers sent at once.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from typing import TYPE_CHECKING, Any

import asyncpg
import pytest
from quart import Quart

from tests.api.problems import assert_problem, assert_validation_problem
from tests.conftest import MakeMember, MakePoll, Member, postgres_only
from tests.kinds.helpers import make_kind_poll, results
from tests.pages.helpers import api_token, bearer, signed_up
from webapp.tables import Poll

if TYPE_CHECKING:
    from quart.typing import TestClientProtocol
    from quart.wrappers import Response

INTEGRITY_ERRORS = (asyncpg.IntegrityConstraintViolationError, sqlite3.IntegrityError)


async def send(client: TestClientProtocol, member: Member, poll_id: int, answer: Any) -> Response:
    body = {"answer": answer}
    return await client.post(f"/api/v1/polls/{poll_id}/words", json=body, headers=member.auth)


async def hide(
    client: TestClientProtocol, member: Member, poll_id: int, key: str, hidden: bool = True
) -> Response:
    body = {"key": key, "hidden": hidden}
    return await client.patch(f"/api/v1/polls/{poll_id}/words", json=body, headers=member.auth)


def counts(body: dict[str, Any]) -> dict[str, int]:
    return {word["text"]: word["count"] for word in body["detail"]["words"]}


async def count_rows(poll_id: int) -> list[dict[str, Any]]:
    sql = "SELECT answer_key, text, count, hidden FROM word_count WHERE poll = {} ORDER BY 1"
    return list(await Poll.raw(sql, poll_id))


async def answer_rows(poll_id: int) -> list[dict[str, Any]]:
    sql = 'SELECT "user", slot, answer_key FROM word_answer WHERE poll = {} ORDER BY 1, 2'
    return list(await Poll.raw(sql, poll_id))


async def test_a_word_cloud_is_made_with_three_answers_each_by_default(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member()
    poll = await make_kind_poll(client, ann, "word_cloud")
    assert poll["kind"] == "word_cloud" and poll["answers_per_person"] == 3
    assert poll["options"] == []
    body = await results(client, poll["id"])
    assert body["kind"] == "word_cloud"
    assert body["detail"] == {
        "kind": "word_cloud",
        "answers": 0,
        "distinct": 0,
        "words": [],
        "more": 0,
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"answers_per_person": 0}, "answers_per_person"),
        ({"answers_per_person": 11}, "answers_per_person"),
        ({"options": ["a", "b"]}, "options"),
    ],
)
async def test_settings_that_do_not_fit_a_word_cloud_are_a_422(
    client: TestClientProtocol, make_member: MakeMember, body: dict[str, Any], field: str
) -> None:
    ann = await make_member()
    before = await Poll.count()
    response = await client.post(
        "/api/v1/polls",
        json={"question": "One word?", "kind": "word_cloud", **body},
        headers=ann.auth,
    )
    await assert_validation_problem(response, field)
    assert await Poll.count() == before


async def test_answers_are_normalised_counted_repeated_limited_and_taken_back(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob, cy = await make_member(), await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "word_cloud", answers_per_person=2)
    poll_id = poll["id"]

    first = await send(client, bob, poll_id, "  Python! ")
    assert first.status_code == 201, await first.get_data(as_text=True)
    body = await first.get_json()
    assert counts(body) == {"Python": 1} and body["responses"] == 1
    again = await send(client, bob, poll_id, "PYTHON")  # the same word, another spelling
    assert again.status_code == 200
    assert (await again.get_json())["seq"] == body["seq"]

    assert (await send(client, cy, poll_id, "python.")).status_code == 201
    assert (await send(client, bob, poll_id, "C#")).status_code == 201
    over = await send(client, bob, poll_id, "Rust")
    await assert_problem(over, 409)
    assert "2 answers" in (await over.get_json())["detail"]

    body = await results(client, poll_id)
    assert counts(body) == {"Python": 2, "C#": 1}  # the first-seen spelling
    assert body["detail"]["answers"] == 3 and body["detail"]["distinct"] == 2
    assert body["responses"] == 2 and body["voters"] == 2

    mine = await client.get(f"/api/v1/polls/{poll_id}/words/mine", headers=bob.auth)
    assert await mine.get_json() == {
        "poll_id": poll_id,
        "answers_per_person": 2,
        "answers": [
            {"slot": 1, "key": "python", "text": "Python"},
            {"slot": 2, "key": "c#", "text": "C#"},
        ],
    }
    gone = await client.delete(f"/api/v1/polls/{poll_id}/words/mine/1", headers=bob.auth)
    assert gone.status_code == 204
    assert counts(await results(client, poll_id)) == {"Python": 1, "C#": 1}
    # The free slot takes the next answer; an empty or impossible slot is no change.
    assert (await send(client, bob, poll_id, "Rust")).status_code == 201
    seq = (await results(client, poll_id))["seq"]
    for slot in (1, 9, 10, 99999):
        response = await client.delete(
            f"/api/v1/polls/{poll_id}/words/mine/{slot}", headers=cy.auth
        )
        assert response.status_code == 204
    body = await results(client, poll_id)
    assert body["seq"] == seq + 1  # cy's one answer went (slot 1), the rest changed nothing
    assert counts(body) == {"C#": 1, "Rust": 1}
    assert body["responses"] == 1  # cy's ballot went with cy's last answer
    assert [row["slot"] for row in await answer_rows(poll_id)] == [1, 2]


@pytest.mark.parametrize(
    "answer",
    ["", "   ", "!!!", "x" * 41, "a\u202eb", 42, None, ["a"]],
)
async def test_a_bad_answer_is_a_422_naming_it_and_changes_nothing(
    client: TestClientProtocol, make_member: MakeMember, answer: Any
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "word_cloud")
    await send(client, bob, poll["id"], "fine")
    before = await results(client, poll["id"])
    await assert_validation_problem(await send(client, bob, poll["id"], answer), "answer")
    assert await results(client, poll["id"]) == before
    assert len(await answer_rows(poll["id"])) == 1


async def test_a_word_cloud_takes_only_answers_and_others_take_none(
    client: TestClientProtocol, make_member: MakeMember, make_poll: MakePoll
) -> None:
    ann, bob = await make_member(), await make_member()
    cloud = await make_kind_poll(client, ann, "word_cloud")
    choice = await make_poll(ann)
    vote = await client.post(
        f"/api/v1/polls/{cloud['id']}/votes", json={"option_id": 1}, headers=bob.auth
    )
    assert "POST .../words" in (await assert_problem(vote, 409))["detail"]
    await assert_problem(await send(client, bob, choice["id"], "hi"), 409)
    await assert_problem(await hide(client, ann, choice["id"], "hi"), 409)
    mine = await client.get(f"/api/v1/polls/{choice['id']}/words/mine", headers=bob.auth)
    await assert_problem(mine, 409)
    closed = await client.patch(
        f"/api/v1/polls/{cloud['id']}", json={"closed": True}, headers=ann.auth
    )
    assert closed.status_code == 200
    await assert_problem(await send(client, bob, cloud["id"], "hi"), 409)
    draft = await make_kind_poll(client, ann, "word_cloud", is_published=False)
    await assert_problem(await send(client, bob, draft["id"], "hi"), 404)
    assert await answer_rows(cloud["id"]) == [] and await answer_rows(draft["id"]) == []
    anonymous = await client.post(f"/api/v1/polls/{cloud['id']}/words", json={"answer": "x"})
    assert anonymous.status_code == 401


async def test_the_owner_hides_a_word_from_everyone_and_it_stays_hidden(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob, cy = await make_member(), await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "word_cloud")
    poll_id = poll["id"]
    await send(client, bob, poll_id, "rude")
    await send(client, bob, poll_id, "nice")

    await assert_problem(await hide(client, bob, poll_id, "rude"), 403)
    await assert_problem(await hide(client, ann, poll_id, "never said"), 404)
    await assert_validation_problem(await hide(client, ann, poll_id, ""), "key")
    hidden = await hide(client, ann, poll_id, "rude")
    assert hidden.status_code == 200, await hidden.get_data(as_text=True)
    assert counts(await hidden.get_json()) == {"nice": 1}
    seq = (await hidden.get_json())["seq"]
    # Hiding it again changes nothing; a later answer of it is counted but stays hidden.
    assert (await (await hide(client, ann, poll_id, "RUDE!")).get_json())["seq"] == seq
    assert (await send(client, cy, poll_id, "Rude")).status_code == 201
    for viewer in (None, bob, cy, ann):
        body = await results(client, poll_id, viewer)
        assert counts(body) == {"nice": 1}
        assert body["detail"]["answers"] == 1 and body["detail"]["distinct"] == 1
    assert [
        (r["answer_key"], r["count"], bool(r["hidden"])) for r in await count_rows(poll_id)
    ] == [
        ("nice", 1, False),
        ("rude", 2, True),
    ]
    shown = await hide(client, ann, poll_id, "rude", hidden=False)
    assert counts(await shown.get_json()) == {"rude": 2, "nice": 1}


async def test_hidden_until_answered_then_shown(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "word_cloud", results_visibility="after_vote")
    await send(client, ann, poll["id"], "first")
    before = await results(client, poll["id"], bob)
    assert before["visible"] is False and before["detail"] is None and before["responses"] == 1
    assert (await results(client, poll["id"]))["detail"] is None
    body = await (await send(client, bob, poll["id"], "second")).get_json()
    assert body["visible"] is True and counts(body) == {"first": 1, "second": 1}


async def test_words_keep_their_places_and_the_layout_is_kept_by_seq(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member()
    people = [await make_member() for _ in range(4)]
    poll = await make_kind_poll(client, ann, "word_cloud")
    poll_id = poll["id"]
    for person, word in zip(people, ["alpha", "beta", "gamma", "delta"], strict=True):
        await send(client, person, poll_id, word)
    before = {
        w["key"]: (w["x"], w["y"]) for w in (await results(client, poll_id))["detail"]["words"]
    }
    await send(client, people[0], poll_id, "epsilon")
    body = await results(client, poll_id)
    after = {w["key"]: (w["x"], w["y"]) for w in body["detail"]["words"]}
    assert {key: after[key] for key in before} == before
    rows = await Poll.raw("SELECT seq, view FROM question_view WHERE poll = {}", poll_id)
    assert rows[0]["seq"] == body["seq"]
    stored = json.loads(rows[0]["view"])
    assert sorted(word[0] for word in stored["words"]) == sorted(after)
    # An older seq never overwrites a newer layout.
    await Poll.raw(
        "INSERT INTO question_view (poll, seq, view) VALUES ({}, {}, {})"
        " ON CONFLICT (poll) DO UPDATE SET seq = excluded.seq, view = excluded.view"
        " WHERE question_view.seq < excluded.seq",
        poll_id,
        body["seq"] - 1,
        "{}",
    )
    assert await results(client, poll_id) == body


async def test_at_most_a_hundred_words_are_drawn_and_the_totals_count_them_all(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    """The loader reads only the most frequent rows; the totals still count every word."""
    ann = await make_member()
    poll = await make_kind_poll(client, ann, "word_cloud")
    poll_id = poll["id"]
    for n in range(150):  # counts as running totals hold them (seeded: no API round trips)
        await Poll.raw(
            "INSERT INTO word_count (poll, answer_key, text, count, hidden)"
            " VALUES ({}, {}, {}, {}, {})",
            poll_id,
            f"w{n:03}",
            f"W{n:03}",
            1 + n % 7,
            n == 149,
        )
    await Poll.raw("UPDATE poll SET seq = seq + 1 WHERE id = {}", poll_id)
    detail = (await results(client, poll_id))["detail"]
    assert detail["distinct"] == 149  # the hidden one left out
    assert detail["answers"] == sum(1 + n % 7 for n in range(149))
    drawn = detail["words"]
    assert 0 < len(drawn) <= 100 and detail["more"] == 149 - len(drawn)
    assert min(w["count"] for w in drawn) >= 3  # the most frequent: 21 each of 7 .. 4, then 3s


async def test_reset_clears_the_answers_and_duplicate_keeps_the_limit(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "word_cloud", answers_per_person=5)
    await send(client, bob, poll["id"], "gone")
    reset = await client.post(
        f"/api/v1/polls/{poll['id']}/reset", json={"confirm": True}, headers=ann.auth
    )
    assert reset.status_code == 200, await reset.get_data(as_text=True)
    body = await results(client, poll["id"])
    assert body["detail"]["words"] == [] and body["responses"] == 0
    assert await answer_rows(poll["id"]) == [] and await count_rows(poll["id"]) == []
    assert (await send(client, bob, poll["id"], "gone")).status_code == 201
    copy = await client.post(f"/api/v1/polls/{poll['id']}/duplicate", json={}, headers=ann.auth)
    assert copy.status_code == 201
    copied = await copy.get_json()
    assert copied["kind"] == "word_cloud" and copied["answers_per_person"] == 5


async def test_the_database_holds_the_slots_and_one_row_per_word(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "word_cloud")
    await send(client, bob, poll["id"], "one")
    insert = (
        'INSERT INTO word_answer (poll, "user", slot, answer_key, text) VALUES ({}, {}, {}, {}, {})'
    )
    with pytest.raises(INTEGRITY_ERRORS):  # the same word twice
        await Poll.raw(insert, poll["id"], bob.id, 2, "one", "one")
    with pytest.raises(INTEGRITY_ERRORS):  # the same slot twice
        await Poll.raw(insert, poll["id"], bob.id, 1, "two", "two")
    with pytest.raises(INTEGRITY_ERRORS):  # no slot 11
        await Poll.raw(insert, poll["id"], bob.id, 11, "two", "two")
    with pytest.raises(INTEGRITY_ERRORS):
        await Poll.raw(
            "INSERT INTO word_count (poll, answer_key, text, count) VALUES ({}, 'one', 'one', 1)",
            poll["id"],
        )
    with pytest.raises(INTEGRITY_ERRORS):
        await Poll.raw("UPDATE word_count SET count = -1 WHERE poll = {}", poll["id"])
    assert len(await answer_rows(poll["id"])) == 1


@pytest.mark.limits(limit_vote_account="3/minute")
async def test_answers_count_against_the_vote_limit(limited: Quart) -> None:
    await signed_up(limited, "owner")
    await signed_up(limited, "voter")
    owner = bearer(await api_token(limited, "owner@example.org"))
    voter = bearer(await api_token(limited, "voter@example.org"))
    client = limited.test_client()
    made = await client.post(
        "/api/v1/polls",
        json={"question": "Words?", "kind": "word_cloud", "is_published": True},
        headers=owner,
    )
    poll_id = (await made.get_json())["id"]
    statuses = []
    for word in ("a1", "b2", "c3", "d4"):
        response = await client.post(
            f"/api/v1/polls/{poll_id}/words", json={"answer": word}, headers=voter
        )
        statuses.append(response.status_code)
    assert statuses == [201, 201, 201, 429]
    stored = await Poll.raw("SELECT count(*) AS n FROM word_answer WHERE poll = {}", poll_id)
    assert stored[0]["n"] == 3


@postgres_only
async def test_twenty_people_sending_the_same_word_at_once_make_one_row_of_twenty(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member()
    poll = await make_kind_poll(client, ann, "word_cloud")
    people = list(await asyncio.gather(*(make_member() for _ in range(20))))
    sent = await asyncio.gather(*(send(client, p, poll["id"], "Same") for p in people))
    assert [r.status_code for r in sent] == [201] * 20
    rows = await count_rows(poll["id"])
    assert [(r["answer_key"], r["count"]) for r in rows] == [("same", 20)]
    body = await results(client, poll["id"])
    assert counts(body) == {"Same": 20} and body["responses"] == 20 == body["voters"]


@postgres_only
async def test_one_person_sending_five_answers_at_once_stores_exactly_the_limit(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "word_cloud", answers_per_person=3)
    words = ["w1", "w2", "w3", "w4", "w5"]
    sent = await asyncio.gather(*(send(client, bob, poll["id"], w) for w in words))
    assert sorted(r.status_code for r in sent) == [201, 201, 201, 409, 409]
    stored = await answer_rows(poll["id"])
    assert [row["slot"] for row in stored] == [1, 2, 3]
    body = await results(client, poll["id"])
    assert body["detail"]["answers"] == 3 and sum(counts(body).values()) == 3
    assert body["responses"] == 1
    # And a repeat of one word sent at once counts once.
    again = await asyncio.gather(*(send(client, ann, poll["id"], "dup") for _ in range(5)))
    assert sorted(r.status_code for r in again) == [200, 200, 200, 200, 201]
    assert counts(await results(client, poll["id"]))["dup"] == 1


@postgres_only
async def test_readers_of_one_seq_at_once_all_show_the_same_picture(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member()
    people = list(await asyncio.gather(*(make_member() for _ in range(6))))
    poll = await make_kind_poll(client, ann, "word_cloud", answers_per_person=10)
    for n, person in enumerate(people):
        await send(client, person, poll["id"], f"first{n}")
    await results(client, poll["id"])  # a stored layout to lay the next ones out around
    for round_ in range(3):
        await asyncio.gather(
            *(send(client, p, poll["id"], f"w{round_}{i}") for i, p in enumerate(people))
        )
        seen = await asyncio.gather(*(results(client, poll["id"]) for _ in range(12)))
        latest = max(body["seq"] for body in seen)
        pictures = {json.dumps(body["detail"]) for body in seen if body["seq"] == latest}
        assert len(pictures) == 1
