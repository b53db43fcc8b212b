"""Rankings (#15): made, ranked, reranked, withdrawn and counted, on both databases.

The API (PUT/DELETE .../response with `order`, GET .../response/me, the results' Borda
`detail`), the rules (every option once, a 422 naming `order[i]` or `order`, nothing changed),
visibility, reset and duplicate, and the running counts per (option, position) underneath.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from quart import Quart

from tests.api.problems import assert_problem, assert_validation_problem
from tests.conftest import MakeMember
from tests.kinds.helpers import make_kind_poll, put_response, results
from tests.pages.helpers import api_token, bearer, signed_up
from webapp.tables import Poll

if TYPE_CHECKING:
    from quart.typing import TestClientProtocol

OPTIONS = {"options": ["Tea", "Coffee", "Water"]}


def ids(poll: dict[str, Any]) -> list[int]:
    return [option["id"] for option in poll["options"]]


def board(body: dict[str, Any]) -> list[tuple[str, int, int, bool]]:
    """(text, points, rank, tied) in the results' order."""
    return [(o["text"], o["points"], o["rank"], o["tied"]) for o in body["detail"]["options"]]


async def stored(poll_id: int) -> dict[int, str]:
    rows = await Poll.raw('SELECT "user", ranking FROM ranking_response WHERE poll = {}', poll_id)
    return {row["user"]: row["ranking"] for row in rows}


async def counts(poll_id: int) -> dict[tuple[int, int], int]:
    rows = await Poll.raw(
        'SELECT "option", "position", count FROM ranking_count WHERE poll = {}', poll_id
    )
    return {(row["option"], row["position"]): row["count"] for row in rows if row["count"]}


def counted(rankings: list[str]) -> dict[tuple[int, int], int]:
    """The counts these stored rankings should have left."""
    found: dict[tuple[int, int], int] = {}
    for ranking in rankings:
        for position, option in enumerate(ranking.split(","), start=1):
            key = (int(option), position)
            found[key] = found.get(key, 0) + 1
    return found


async def test_a_ranking_poll_is_made_with_its_options_and_no_rankings(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann = await make_member()
    poll = await make_kind_poll(client, ann, "ranking", **OPTIONS)
    assert poll["kind"] == "ranking"
    assert [option["text"] for option in poll["options"]] == OPTIONS["options"]
    body = await results(client, poll["id"])
    assert body["kind"] == "ranking"
    assert body["detail"]["rankings"] == 0
    assert board(body) == [("Tea", 0, 1, True), ("Coffee", 0, 1, True), ("Water", 0, 1, True)]
    assert "2 points to its first choice" in body["detail"]["explanation"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "ranking", "options": ["only one"]}, "options"),
        ({"kind": "ranking", "options": [str(n) for n in range(11)]}, "options"),
        ({"kind": "ranking", **OPTIONS, "allows_multiple": True}, "allows_multiple"),
        ({"kind": "ranking", **OPTIONS, "answers_per_person": 2}, "answers_per_person"),
    ],
)
async def test_ranking_settings_that_do_not_fit_are_a_422_naming_them(
    client: TestClientProtocol, make_member: MakeMember, body: dict[str, Any], field: str
) -> None:
    ann = await make_member()
    before = await Poll.count()
    response = await client.post(
        "/api/v1/polls", json={"question": "Which first?", **body}, headers=ann.auth
    )
    await assert_validation_problem(response, field)
    assert await Poll.count() == before


async def test_rankings_are_counted_by_borda_changed_and_withdrawn(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob, cy = await make_member(), await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "ranking", **OPTIONS)
    poll_id = poll["id"]
    tea, coffee, water = ids(poll)

    first = await put_response(client, bob, poll_id, order=[coffee, tea, water])
    assert first.status_code == 201, await first.get_data(as_text=True)
    body = await first.get_json()
    assert board(body) == [("Coffee", 2, 1, False), ("Tea", 1, 2, False), ("Water", 0, 3, False)]
    assert body["detail"]["options"][0]["positions"] == [1, 0, 0]
    assert body["detail"]["options"][0]["percent"] == 100
    again = await put_response(client, bob, poll_id, order=[coffee, tea, water])
    assert again.status_code == 200
    assert (await again.get_json())["seq"] == body["seq"]

    await put_response(client, cy, poll_id, order=[tea, coffee, water])
    body = await results(client, poll_id)
    # 3 points each; Coffee and Tea tie, each with one first place: poll order breaks it.
    assert board(body) == [("Tea", 3, 1, True), ("Coffee", 3, 1, True), ("Water", 0, 3, False)]
    assert body["detail"]["rankings"] == 2 == body["responses"]

    changed = await put_response(client, bob, poll_id, order=[water, coffee, tea])
    assert changed.status_code == 200
    body = await changed.get_json()
    # 2 points each: Tea and Water have a first place each (poll order), Coffee none.
    assert board(body) == [("Tea", 2, 1, True), ("Water", 2, 1, True), ("Coffee", 2, 1, True)]
    assert await counts(poll_id) == counted(list((await stored(poll_id)).values()))

    mine = await client.get(f"/api/v1/polls/{poll_id}/response/me", headers=bob.auth)
    body = await mine.get_json()
    assert (body["poll_id"], body["kind"], body["order"]) == (
        poll_id,
        "ranking",
        [water, coffee, tea],
    )
    assert body["rating"] is None

    gone = await client.delete(f"/api/v1/polls/{poll_id}/response", headers=bob.auth)
    assert gone.status_code == 204
    body = await results(client, poll_id)
    assert board(body) == [("Tea", 2, 1, False), ("Coffee", 1, 2, False), ("Water", 0, 3, False)]
    assert body["responses"] == 1 and body["voters"] == 1
    assert await counts(poll_id) == counted(list((await stored(poll_id)).values()))
    mine = await client.get(f"/api/v1/polls/{poll_id}/response/me", headers=bob.auth)
    assert (await mine.get_json())["order"] is None
    again = await client.delete(f"/api/v1/polls/{poll_id}/response", headers=bob.auth)
    assert again.status_code == 204
    assert (await results(client, poll_id))["responses"] == 1


@pytest.mark.parametrize(
    ("order", "field"),
    [
        (lambda t, c, w: [t, c], "order"),  # missing an option
        (lambda t, c, w: [t, c, c], "order[2]"),  # a repeat
        (lambda t, c, w: [t, t, c, w], "order[1]"),  # a repeat, and too long
        (lambda t, c, w: [t, 2**31 - 1, w], "order[1]"),  # not this poll's option
        (lambda t, c, w: [t, c, w, 2**31 - 1], "order[3]"),  # one too many
        (lambda t, c, w: [t, str(c), w], "order[1]"),
        (lambda t, c, w: [t, c, True], "order[2]"),
        (lambda t, c, w: [t, c, w + 0.5], "order[2]"),
        (lambda t, c, w: [], "order"),
        (lambda t, c, w: list(range(1, 12)), "order"),  # longer than any ranking
        (lambda t, c, w: f"{t},{c},{w}", "order"),
        (lambda t, c, w: None, "order"),
    ],
)
async def test_a_bad_order_is_a_422_naming_it_and_changes_nothing(
    client: TestClientProtocol, make_member: MakeMember, order: Any, field: str
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "ranking", **OPTIONS)
    tea, coffee, water = ids(poll)
    await put_response(client, bob, poll["id"], order=[water, tea, coffee])
    before = await results(client, poll["id"])
    response = await put_response(client, bob, poll["id"], order=order(tea, coffee, water))
    await assert_validation_problem(response, field)
    assert await results(client, poll["id"]) == before
    assert await stored(poll["id"]) == {bob.id: f"{water},{tea},{coffee}"}


async def test_a_ranking_takes_only_an_order(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "ranking", **OPTIONS)
    response = await put_response(client, bob, poll["id"], rating=3)
    await assert_validation_problem(response, "order")
    response = await put_response(client, bob, poll["id"], order=ids(poll), rating=3)
    await assert_validation_problem(response, "order")
    vote = await client.post(
        f"/api/v1/polls/{poll['id']}/votes", json={"option_id": ids(poll)[0]}, headers=bob.auth
    )
    await assert_problem(vote, 409)
    scale = await make_kind_poll(
        client, ann, "scale", scale={"points": 3, "low_label": "a", "high_label": "b"}
    )
    response = await put_response(client, bob, scale["id"], order=ids(poll))
    await assert_validation_problem(response, "rating")
    assert await stored(poll["id"]) == {}


async def test_a_closed_or_draft_ranking_takes_no_rankings(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "ranking", **OPTIONS)
    closed = await client.patch(
        f"/api/v1/polls/{poll['id']}", json={"closed": True}, headers=ann.auth
    )
    assert closed.status_code == 200
    await assert_problem(await put_response(client, bob, poll["id"], order=ids(poll)), 409)
    draft = await make_kind_poll(client, ann, "ranking", **OPTIONS, is_published=False)
    await assert_problem(await put_response(client, bob, draft["id"], order=ids(draft)), 404)
    assert await stored(poll["id"]) == {} and await stored(draft["id"]) == {}


async def test_a_ranking_is_hidden_until_ranked_then_shown(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "ranking", **OPTIONS, results_visibility="after_vote")
    await put_response(client, ann, poll["id"], order=ids(poll))
    before = await results(client, poll["id"], bob)
    assert before["visible"] is False and before["detail"] is None
    assert before["responses"] == 1
    assert (await results(client, poll["id"]))["detail"] is None
    owner = await results(client, poll["id"], ann)
    assert owner["detail"]["rankings"] == 1
    ranked = await put_response(client, bob, poll["id"], order=ids(poll))
    body = await ranked.get_json()
    assert body["visible"] is True and body["detail"]["rankings"] == 2
    whole = await client.get(f"/api/v1/polls/{poll['id']}", headers=bob.auth)
    assert whole.status_code == 200


async def test_reset_clears_rankings_and_duplicate_keeps_the_options(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    ann, bob = await make_member(), await make_member()
    poll = await make_kind_poll(client, ann, "ranking", **OPTIONS)
    await put_response(client, bob, poll["id"], order=ids(poll)[::-1])
    reset = await client.post(
        f"/api/v1/polls/{poll['id']}/reset", json={"confirm": True}, headers=ann.auth
    )
    assert reset.status_code == 200, await reset.get_data(as_text=True)
    body = await results(client, poll["id"])
    assert body["detail"]["rankings"] == 0 and body["responses"] == 0
    assert all(option["points"] == 0 for option in body["detail"]["options"])
    assert await stored(poll["id"]) == {} and await counts(poll["id"]) == {}
    again = await put_response(client, bob, poll["id"], order=ids(poll))
    assert again.status_code == 201
    assert await counts(poll["id"]) == counted([",".join(map(str, ids(poll)))])

    copy = await client.post(f"/api/v1/polls/{poll['id']}/duplicate", json={}, headers=ann.auth)
    assert copy.status_code == 201, await copy.get_data(as_text=True)
    copied = await copy.get_json()
    assert copied["kind"] == "ranking"
    assert [o["text"] for o in copied["options"]] == OPTIONS["options"]
    assert ids(copied) != ids(poll)
    assert await stored(copied["id"]) == {} and await counts(copied["id"]) == {}


@pytest.mark.limits(limit_vote_account="3/minute")
async def test_rankings_and_withdrawals_count_against_the_vote_limit(limited: Quart) -> None:
    await signed_up(limited, "owner")
    await signed_up(limited, "voter")
    owner = bearer(await api_token(limited, "owner@example.org"))
    voter = bearer(await api_token(limited, "voter@example.org"))
    client = limited.test_client()
    made = await client.post(
        "/api/v1/polls",
        json={"question": "Which?", "kind": "ranking", "is_published": True, **OPTIONS},
        headers=owner,
    )
    poll = await made.get_json()
    url = f"/api/v1/polls/{poll['id']}/response"
    statuses = [
        (await client.put(url, json={"order": ids(poll)}, headers=voter)).status_code,
        (await client.put(url, json={"order": ids(poll)[::-1]}, headers=voter)).status_code,
        (await client.delete(url, headers=voter)).status_code,
        (await client.put(url, json={"order": ids(poll)}, headers=voter)).status_code,
    ]
    assert statuses == [201, 200, 204, 429]
    assert await stored(poll["id"]) == {}
