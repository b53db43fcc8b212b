"""Audience Q&A (#15) through the API, on both databases: asking (named or anonymous as the
poll allows, premoderated or not), upvotes (one per person, withdrawable, not on your own,
a hidden or an answered question), the owner's marks, the stored order, the rate limit, and
many people upvoting at once."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from quart import Quart

from tests.api.problems import assert_problem, assert_validation_problem
from tests.conftest import MakeMember, Member
from tests.kinds.helpers import make_kind_poll, results
from tests.pages.helpers import api_token, bearer, signed_up
from webapp import clock
from webapp.questions.qa import SETTLE_S
from webapp.tables import Poll

if TYPE_CHECKING:
    from quart.typing import TestClientProtocol
    from quart.wrappers import Response


async def ask(
    client: TestClientProtocol, member: Member, poll_id: int, text: str, **body: Any
) -> Response:
    return await client.post(
        f"/api/v1/polls/{poll_id}/qa", json={"text": text, **body}, headers=member.auth
    )


async def hidden_qa(
    client: TestClientProtocol, make_member: MakeMember
) -> tuple[Member, Member, dict[str, Any]]:
    """Ann's Q&A with Bob's question "Secret?" in it, its results then hidden by Ann."""
    ann, bob = await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "qa")
    await asked(client, bob, poll["id"], "Secret?")
    hidden = await client.patch(
        f"/api/v1/polls/{poll['id']}", json={"results_hidden": True}, headers=ann.auth
    )
    assert hidden.status_code == 200
    return ann, bob, poll


async def asked(client: TestClientProtocol, member: Member, poll_id: int, text: str) -> int:
    response = await ask(client, member, poll_id, text)
    assert response.status_code == 201, await response.get_data(as_text=True)
    return int((await response.get_json())["id"])


async def upvote(
    client: TestClientProtocol, member: Member, poll_id: int, qid: int, up: bool = True
) -> Response:
    url = f"/api/v1/polls/{poll_id}/qa/{qid}/upvote"
    if up:
        return await client.put(url, json={}, headers=member.auth)
    return await client.delete(url, headers=member.auth)


async def mark(
    client: TestClientProtocol, member: Member, poll_id: int, qid: int, **marks: Any
) -> Response:
    return await client.patch(f"/api/v1/polls/{poll_id}/qa/{qid}", json=marks, headers=member.auth)


def listed(body: dict[str, Any]) -> list[tuple[int, int]]:
    return [(q["id"], q["upvotes"]) for q in body["detail"]["questions"]]


async def stored_upvotes(qid: int) -> tuple[int, int]:
    """The running count and the upvote rows of a question."""
    (row,) = await Poll.raw("SELECT upvotes FROM qa_question WHERE id = {}", qid)
    rows = await Poll.raw("SELECT count(*) AS n FROM qa_upvote WHERE question = {}", qid)
    return int(row["upvotes"]), int(rows[0]["n"])


async def test_a_question_is_asked_listed_and_opens_a_ballot(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob = await make_member(), await make_member("bob")
    poll = await make_kind_poll(client, ann, "qa")
    assert poll["kind"] == "qa" and poll["options"] == []
    response = await ask(
        client, bob, poll["id"], "  Why  is the sky blue?\n\n\nAsking for a friend "
    )
    assert response.status_code == 201
    question = await response.get_json()
    assert question["text"] == "Why is the sky blue?\n\nAsking for a friend"
    assert question["asker"] == "bob" and question["anonymous"] is False
    assert question["state"] == "shown" and question["upvotes"] == 0
    body = await results(client, poll["id"])
    assert body["kind"] == "qa" and body["responses"] == 1
    (shown,) = body["detail"]["questions"]
    assert shown["id"] == question["id"] and shown["asker"] == "bob"
    assert body["detail"]["highlighted_id"] is None and body["detail"]["settled"] is True


async def test_an_anonymous_asker_is_never_named_to_anyone(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob = await make_member(), await make_member("bob")
    closed_to_it = await make_kind_poll(client, ann, "qa")
    refused = await ask(client, bob, closed_to_it["id"], "Who?", anonymous=True)
    await assert_validation_problem(refused, "anonymous")
    assert (await results(client, closed_to_it["id"]))["detail"]["questions"] == []

    poll = await make_kind_poll(client, ann, "qa", allows_anonymous=True)
    response = await ask(client, bob, poll["id"], "Who am I?", anonymous=True)
    assert response.status_code == 201
    question = await response.get_json()
    assert question["asker"] is None and question["anonymous"] is True
    for viewer in (ann, bob, None):
        body = await results(client, poll["id"], viewer)
        assert body["detail"]["questions"][0]["asker"] is None
        assert "bob" not in json.dumps(body)
    page = await client.get(f"/api/v1/polls/{poll['id']}", headers=ann.auth)
    assert "bob" not in await page.get_data(as_text=True)
    marked = await mark(client, ann, poll["id"], question["id"], highlighted=True)
    assert marked.status_code == 200 and (await marked.get_json())["asker"] is None


async def test_upvotes_count_once_per_person_and_repeats_change_nothing(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob, cat = await make_member(), await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "qa")
    qid = await asked(client, bob, poll["id"], "First?")
    assert (await upvote(client, cat, poll["id"], qid)).status_code == 204
    once = await results(client, poll["id"])
    assert listed(once) == [(qid, 1)] and once["responses"] == 2
    assert (await upvote(client, cat, poll["id"], qid)).status_code == 204
    assert await results(client, poll["id"]) == once  # no new seq for nothing
    assert await stored_upvotes(qid) == (1, 1)
    mine = await client.get(f"/api/v1/polls/{poll['id']}/qa/mine", headers=cat.auth)
    expected = {
        "poll_id": poll["id"],
        "upvoted": [qid],
        "asked": [],
        "waiting": [],
        "moderation": [],
    }
    assert await mine.get_json() == expected

    assert (await upvote(client, cat, poll["id"], qid, up=False)).status_code == 204
    withdrawn = await results(client, poll["id"])
    assert listed(withdrawn) == [(qid, 0)] and withdrawn["responses"] == 1  # cat's ballot closed
    assert (await upvote(client, cat, poll["id"], qid, up=False)).status_code == 204
    assert (await results(client, poll["id"]))["seq"] == withdrawn["seq"]
    assert await stored_upvotes(qid) == (0, 0)


async def test_no_upvote_on_your_own_an_answered_or_a_hidden_question(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob, cat = await make_member(), await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "qa")
    own = await asked(client, bob, poll["id"], "Mine?")
    await assert_problem(await upvote(client, bob, poll["id"], own), 409)
    answered = await asked(client, cat, poll["id"], "Answered?")
    assert (await mark(client, ann, poll["id"], answered, answered=True)).status_code == 200
    await assert_problem(await upvote(client, bob, poll["id"], answered), 409)
    hidden = await asked(client, cat, poll["id"], "Rude?")
    assert (await upvote(client, bob, poll["id"], hidden)).status_code == 204
    assert (await mark(client, ann, poll["id"], hidden, state="hidden")).status_code == 200
    await assert_problem(await upvote(client, ann, poll["id"], hidden), 404)
    await assert_problem(await upvote(client, bob, poll["id"], 999999), 404)
    body = await results(client, poll["id"], ann)
    assert hidden not in [q["id"] for q in body["detail"]["questions"]]
    # A withdrawal is always allowed, even from a hidden question.
    assert (await upvote(client, bob, poll["id"], hidden, up=False)).status_code == 204
    assert await stored_upvotes(hidden) == (0, 0)
    assert await stored_upvotes(own) == (0, 0) and await stored_upvotes(answered) == (0, 0)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": " \u200b "}, "text"),
        ({"text": "x" * 1001}, "text"),
        ({"text": "\n".join("line" for _ in range(21))}, "text"),
        ({"text": "bad \u202e bidi"}, "text"),
        ({"text": 5}, "text"),
        ({}, "text"),
        ({"text": "ok", "anonymous": "yes"}, "anonymous"),
        ({"text": "ok", "extra": 1}, "extra"),
    ],
)
async def test_a_bad_question_is_a_422_naming_the_field_and_changes_nothing(
    client: TestClientProtocol, make_member: MakeMember, body: dict[str, Any], field: str
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "qa")
    await asked(client, bob, poll["id"], "Fine?")
    before = await results(client, poll["id"])
    response = await client.post(f"/api/v1/polls/{poll['id']}/qa", json=body, headers=bob.auth)
    await assert_validation_problem(response, field)
    assert await results(client, poll["id"]) == before


async def test_bad_marks_are_a_422_naming_the_field(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "qa")
    qid = await asked(client, bob, poll["id"], "Fine?")
    before = await results(client, poll["id"])
    for marks, field in (({"state": "pending"}, "state"), ({"answered": 1}, "answered")):
        await assert_validation_problem(await mark(client, ann, poll["id"], qid, **marks), field)
    assert await results(client, poll["id"]) == before


async def test_premoderated_questions_wait_for_the_owner(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob, cat = await make_member(), await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "qa", premoderated=True)
    response = await ask(client, bob, poll["id"], "May I?")
    question = await response.get_json()
    assert response.status_code == 201 and question["state"] == "pending"
    assert (await results(client, poll["id"], ann))["detail"]["questions"] == []
    await assert_problem(await upvote(client, cat, poll["id"], question["id"]), 404)
    queue = await client.get(f"/api/v1/polls/{poll['id']}/qa/mine", headers=ann.auth)
    assert [(q["id"], q["state"]) for q in (await queue.get_json())["moderation"]] == [
        (question["id"], "pending")
    ]
    theirs = await client.get(f"/api/v1/polls/{poll['id']}/qa/mine", headers=bob.auth)
    body = await theirs.get_json()
    assert body["moderation"] == [] and body["asked"] == body["waiting"] == [question["id"]]
    shown = await mark(client, ann, poll["id"], question["id"], state="shown")
    assert (await shown.get_json())["state"] == "shown"
    assert listed(await results(client, poll["id"])) == [(question["id"], 0)]


async def test_one_highlighted_question_at_a_time_first_in_the_list(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob, cat = await make_member(), await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "qa")
    first = await asked(client, bob, poll["id"], "One?")
    second = await asked(client, bob, poll["id"], "Two?")
    await upvote(client, cat, poll["id"], first)
    assert [q for q, _ in listed(await results(client, poll["id"]))] == [first, second]
    assert (await mark(client, ann, poll["id"], second, highlighted=True)).status_code == 200
    body = await results(client, poll["id"])
    assert body["detail"]["highlighted_id"] == second
    assert [q for q, _ in listed(body)] == [second, first]
    assert (await mark(client, ann, poll["id"], first, highlighted=True)).status_code == 200
    body = await results(client, poll["id"])
    assert body["detail"]["highlighted_id"] == first
    assert [q["highlighted"] for q in body["detail"]["questions"]] == [True, False]
    done = await mark(client, ann, poll["id"], first, answered=True, highlighted=False)
    assert (await done.get_json())["answered"] is True
    body = await results(client, poll["id"])
    assert [q for q, _ in listed(body)] == [second, first]  # answered ones go last
    hidden = await mark(client, ann, poll["id"], second, highlighted=True)
    assert hidden.status_code == 200
    hidden = await mark(client, ann, poll["id"], second, state="hidden")
    assert (await hidden.get_json())["highlighted"] is False  # a hidden one is not on screen
    assert (await results(client, poll["id"]))["detail"]["highlighted_id"] is None


async def test_only_the_owner_marks_and_only_the_asker_deletes(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob, cat = await make_member(), await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "qa")
    qid = await asked(client, bob, poll["id"], "Mine?")
    await upvote(client, cat, poll["id"], qid)
    await assert_problem(await mark(client, bob, poll["id"], qid, answered=True), 403)
    await assert_problem(await mark(client, ann, poll["id"], 999999, answered=True), 404)
    other = await make_kind_poll(client, ann, "qa")
    await assert_problem(await mark(client, ann, other["id"], qid, answered=True), 404)
    url = f"/api/v1/polls/{poll['id']}/qa/{qid}"
    await assert_problem(await client.delete(url, headers=cat.auth), 403)
    await assert_problem(await client.delete(url, headers=ann.auth), 403)
    assert (await client.delete(url, headers=bob.auth)).status_code == 204
    await assert_problem(await client.delete(url, headers=bob.auth), 404)
    body = await results(client, poll["id"])
    assert body["detail"]["questions"] == [] and body["responses"] == 1  # cat's upvote went
    unsigned = await client.post(f"/api/v1/polls/{poll['id']}/qa", json={"text": "Hi?"})
    await assert_problem(unsigned, 401)


async def test_a_qa_takes_only_questions_and_a_closed_or_draft_one_none(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "qa")
    scale = await make_kind_poll(
        client, ann, "scale", scale={"points": 3, "low_label": "a", "high_label": "b"}
    )
    wrong = await ask(client, bob, scale["id"], "Here?")
    await assert_problem(wrong, 409)
    response = await client.put(
        f"/api/v1/polls/{poll['id']}/response", json={"rating": 1}, headers=bob.auth
    )
    body = await assert_problem(response, 409)
    assert "POST .../qa" in body["detail"]
    mine = await client.get(f"/api/v1/polls/{scale['id']}/qa/mine", headers=bob.auth)
    await assert_problem(mine, 409)
    draft = await make_kind_poll(client, ann, "qa", is_published=False)
    await assert_problem(await ask(client, bob, draft["id"], "Draft?"), 404)
    closed = await client.patch(
        f"/api/v1/polls/{poll['id']}", json={"closed": True}, headers=ann.auth
    )
    assert closed.status_code == 200
    await assert_problem(await ask(client, bob, poll["id"], "Late?"), 409)
    refused = await client.post(
        "/api/v1/polls",
        json={"question": "Q", "kind": "qa", "results_visibility": "after_vote"},
        headers=ann.auth,
    )
    await assert_validation_problem(refused, "results_visibility")


async def test_hidden_results_hide_the_questions_from_all_but_the_owner(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob, poll = await hidden_qa(client, make_member)
    assert (await results(client, poll["id"], bob))["detail"] is None
    assert (await results(client, poll["id"]))["detail"] is None
    assert len((await results(client, poll["id"], ann))["detail"]["questions"]) == 1


async def test_the_order_is_stored_and_moves_only_past_the_threshold(
    client: TestClientProtocol, make_member: MakeMember, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann, bob, cat = await make_member(), await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "qa")
    ids = [await asked(client, bob, poll["id"], f"Question {n}?") for n in range(6)]
    # One upvote puts the newest question first: five places away, more than three: it moves.
    await upvote(client, cat, poll["id"], ids[5])
    body = await results(client, poll["id"])
    moved = [ids[5], *ids[:5]]
    assert [q for q, _ in listed(body)] == moved and body["detail"]["settled"] is True
    # An upvote that lifts ids[1] two places (it is older than ids[5]) moves nothing: the list
    # does not jump under the reader's finger, and says it is not sorted.
    await upvote(client, cat, poll["id"], ids[1])
    body = await results(client, poll["id"])
    assert [q for q, _ in listed(body)] == moved and body["detail"]["settled"] is False
    (stored,) = await Poll.raw("SELECT seq, view FROM question_view WHERE poll = {}", poll["id"])
    assert json.loads(stored["view"])["ids"] == moved and stored["seq"] == body["seq"]
    # An order unsettled for SETTLE_S seconds is sorted fully at the next change.
    later = clock.now() + timedelta(seconds=SETTLE_S + 1)
    monkeypatch.setattr(clock, "now", lambda: later)
    await upvote(client, cat, poll["id"], ids[0])
    body = await results(client, poll["id"])
    canonical = [ids[0], ids[1], ids[5], ids[2], ids[3], ids[4]]
    assert [q for q, _ in listed(body)] == canonical and body["detail"]["settled"] is True
    # A presenter's mark moves its question at once.
    await mark(client, ann, poll["id"], ids[3], highlighted=True)
    body = await results(client, poll["id"])
    assert [q for q, _ in listed(body)][0] == ids[3]


async def test_upvotes_sent_at_once_count_exactly(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    """50 people upvoting one question at once count 50; one person's upvotes sent at once
    count once; nothing fails."""
    ann, bob = await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "qa")
    qid = await asked(client, bob, poll["id"], "Popular?")
    people = list(await asyncio.gather(*(make_member() for _ in range(50))))
    sent = await asyncio.gather(
        *(upvote(client, person, poll["id"], qid) for person in people),
        *(upvote(client, people[0], poll["id"], qid) for _ in range(10)),
    )
    assert {response.status_code for response in sent} == {204}
    assert await stored_upvotes(qid) == (50, 50)
    body = await results(client, poll["id"])
    assert listed(body) == [(qid, 50)] and body["responses"] == 51
    withdrawn = await asyncio.gather(
        *(upvote(client, people[1], poll["id"], qid, up=False) for _ in range(10))
    )
    assert {response.status_code for response in withdrawn} == {204}
    assert await stored_upvotes(qid) == (49, 49)


@pytest.mark.limits(limit_qa_ask="2/minute")
async def test_asking_is_rate_limited_per_account(limited: Quart) -> None:
    owner = await signed_up(limited, "Owner")
    token = await api_token(limited, "owner@example.org")
    client = limited.test_client()
    created = await client.post(
        "/api/v1/polls",
        json={"question": "Ask me", "kind": "qa", "is_published": True},
        headers=bearer(token),
    )
    poll_id = (await created.get_json())["id"]
    await signed_up(limited, "Asker")
    asker = bearer(await api_token(limited, "asker@example.org"))
    statuses = []
    for n in range(3):
        response = await client.post(
            f"/api/v1/polls/{poll_id}/qa", json={"text": f"Q{n}?"}, headers=asker
        )
        statuses.append(response.status_code)
    assert statuses == [201, 201, 429]
    assert "Too many questions" in (await response.get_json())["detail"]
    assert owner is not None


async def test_the_owner_allows_anonymous_questions_at_any_time(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob = await make_member(), await make_member("bob")
    poll = await make_kind_poll(client, ann, "qa")
    url = f"/api/v1/polls/{poll['id']}"
    await asked(client, bob, poll["id"], "Named?")
    allowed = await client.patch(url, json={"allows_anonymous": True}, headers=ann.auth)
    assert allowed.status_code == 200 and (await allowed.get_json())["allows_anonymous"] is True
    assert (await ask(client, bob, poll["id"], "Unnamed?", anonymous=True)).status_code == 201
    closed = await client.patch(url, json={"allows_anonymous": False}, headers=ann.auth)
    assert closed.status_code == 200
    refused = await ask(client, bob, poll["id"], "Again?", anonymous=True)
    await assert_validation_problem(refused, "anonymous")
    body = await results(client, poll["id"])
    assert sorted(str(q["asker"]) for q in body["detail"]["questions"]) == ["None", "bob"]
    scale = await make_kind_poll(
        client, ann, "scale", scale={"points": 3, "low_label": "a", "high_label": "b"}
    )
    wrong = await client.patch(
        f"/api/v1/polls/{scale['id']}", json={"allows_anonymous": True}, headers=ann.auth
    )
    await assert_validation_problem(wrong, "allows_anonymous")
    other = await client.patch(url, json={"allows_anonymous": True}, headers=bob.auth)
    assert other.status_code in (403, 404)
