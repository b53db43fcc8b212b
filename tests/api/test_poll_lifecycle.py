"""The poll lifecycle of #14 through the JSON API: scheduled opening and closing, resetting
the results, duplicating, exporting (JSON and CSV)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client

from tests.api.problems import assert_problem, assert_validation_problem
from tests.clocks import T0, FakeClock, install
from tests.conftest import MakeMember, MakePoll, Member
from tests.helpers import next_json, option_ids, vote
from webapp.tables import Ballot, IdempotencyKey, Vote


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    return install(monkeypatch)


def url(poll_id: int, rest: str = "") -> str:
    return f"/api/v1/polls/{poll_id}{rest}"


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


# --- the schedule ---------------------------------------------------------------------------


async def test_a_schedule_set_on_create_is_in_the_poll_and_its_state(
    client: Client, make_member: MakeMember, fake_clock: FakeClock
) -> None:
    owner = await make_member()
    body = {"question": "Q?", "options": ["a", "b"], "is_published": True}
    body |= {"opens_at": "2030-01-31T19:00:00+01:00", "closes_at": at(3600)}
    response = await client.post("/api/v1/polls", json=body, headers=owner.auth)
    assert response.status_code == 201, await response.get_data()
    poll = await response.get_json()
    # Stored and answered in UTC, whatever offset was sent.
    assert poll["opens_at"] == "2030-01-31T18:00:00Z"
    assert poll["closes_at"] == "2030-01-31T19:00:00Z"
    assert poll["state"] == "open" and poll["closed_at"] is None
    fake_clock.move(3600)
    seen = await (await client.get(url(poll["id"]))).get_json()
    assert seen["state"] == "closed" and seen["closed_at"] == "2030-01-31T19:00:00Z"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"opens_at": "2030-01-31T18:00:00"}, "opens_at"),  # no offset
        ({"closes_at": "2030-01-31"}, "closes_at"),  # a date alone
        ({"closes_at": 1896000000}, "closes_at"),  # a number
        ({"opens_at": "soon"}, "opens_at"),
        ({"opens_at": at(60), "closes_at": at(60)}, "closes_at"),  # not after opens_at
        ({"opens_at": at(120), "closes_at": at(60)}, "closes_at"),
        ({"closes_at": at(-1)}, "closes_at"),  # passed
    ],
)
async def test_a_bad_schedule_is_a_422_naming_the_field_and_nothing_is_written(
    client: Client, make_member: MakeMember, fake_clock: FakeClock, body: dict[str, Any], field: str
) -> None:
    owner = await make_member()
    create = {"question": "Q?", "options": ["a", "b"], **body}
    await assert_validation_problem(
        await client.post("/api/v1/polls", json=create, headers=owner.auth), field
    )
    listed = await client.get("/api/v1/polls?mine=true", headers=owner.auth)
    assert (await listed.get_json())["items"] == []


async def test_patch_sets_moves_and_clears_the_schedule_checked_against_the_stored_times(
    client: Client, make_member: MakeMember, make_poll: MakePoll, fake_clock: FakeClock
) -> None:
    owner = await make_member()
    poll = await make_poll(owner)
    patched = await client.patch(
        url(poll["id"]), json={"opens_at": at(60), "closes_at": at(120)}, headers=owner.auth
    )
    assert patched.status_code == 200, await patched.get_data()
    assert (await patched.get_json())["state"] == "scheduled"
    # closes_at alone, before the stored opens_at: refused by name.
    await assert_validation_problem(
        await client.patch(url(poll["id"]), json={"closes_at": at(30)}, headers=owner.auth),
        "closes_at",
    )
    cleared = await client.patch(url(poll["id"]), json={"opens_at": None}, headers=owner.auth)
    body = await cleared.get_json()
    assert body["opens_at"] is None and body["closes_at"] == at(120).replace("+00:00", "Z")
    assert body["state"] == "open"


async def test_a_published_poll_can_get_a_countdown_and_others_cannot_set_it(
    client: Client, make_member: MakeMember, make_poll: MakePoll, fake_clock: FakeClock
) -> None:
    owner, other = await make_member(), await make_member()
    poll = await make_poll(owner)
    await assert_problem(
        await client.patch(url(poll["id"]), json={"closes_at": at(60)}, headers=other.auth), 403
    )
    await assert_problem(await client.patch(url(poll["id"]), json={"closes_at": at(60)}), 401)
    ok = await client.patch(url(poll["id"]), json={"closes_at": at(60)}, headers=owner.auth)
    assert ok.status_code == 200 and (await ok.get_json())["state"] == "open"


async def test_reopening_a_poll_closed_by_its_schedule_clears_the_passed_closes_at(
    client: Client, make_member: MakeMember, make_poll: MakePoll, fake_clock: FakeClock
) -> None:
    owner, voter = await make_member(), await make_member()
    poll = await make_poll(owner)
    await client.patch(url(poll["id"]), json={"closes_at": at(10)}, headers=owner.auth)
    fake_clock.move(20)
    assert (await vote(client, voter, poll["id"], option_ids(poll)[0])).status_code == 409
    reopened = await client.patch(url(poll["id"]), json={"closed": False}, headers=owner.auth)
    body = await reopened.get_json()
    assert body["state"] == "open" and body["closes_at"] is None and body["closed_at"] is None
    assert (await vote(client, voter, poll["id"], option_ids(poll)[0])).status_code == 201


async def test_the_live_poll_message_carries_the_schedule_for_a_countdown(
    client: Client, make_member: MakeMember, make_poll: MakePoll, fake_clock: FakeClock
) -> None:
    owner = await make_member()
    poll = await make_poll(owner)
    async with client.websocket(url(poll["id"], "/live")) as ws:
        await next_json(ws, "results")
        await client.patch(url(poll["id"]), json={"closes_at": at(60)}, headers=owner.auth)
        message = await next_json(ws, "poll")
    assert message["closes_at"] == "2030-01-31T18:01:00Z" and message["opens_at"] is None
    assert message["state"] == "open" and message["closed"] is False


# --- reset ----------------------------------------------------------------------------------


async def voted_poll(
    client: Client, make_member: MakeMember, make_poll: MakePoll
) -> tuple[Member, list[Member], dict[str, Any]]:
    owner = await make_member()
    voters = [await make_member() for _ in range(3)]
    poll = await make_poll(owner)
    for i, voter in enumerate(voters):
        assert (await vote(client, voter, poll["id"], option_ids(poll)[i % 2])).status_code == 201
    return owner, voters, poll


async def test_reset_zeroes_the_counts_removes_votes_and_ballots_and_seq_moves_on(
    client: Client, make_member: MakeMember, make_poll: MakePoll
) -> None:
    owner, voters, poll = await voted_poll(client, make_member, make_poll)
    before = await (await client.get(url(poll["id"], "/results"))).get_json()
    async with client.websocket(url(poll["id"], "/live")) as ws:
        assert (await next_json(ws, "results"))["voters"] == 3
        response = await client.post(
            url(poll["id"], "/reset"), json={"confirm": True}, headers=owner.auth
        )
        pushed = await next_json(ws, "results")
    assert response.status_code == 200, await response.get_data()
    body = await response.get_json()
    assert body["voters"] == 0 and body["total_votes"] == 0 and body["seq"] == before["seq"] + 1
    assert [o["votes"] for o in body["options"]] == [0, 0, 0]
    assert pushed["voters"] == 0 and pushed["seq"] == body["seq"]
    assert await Vote.count().where(Vote.poll == poll["id"]) == 0
    assert await Ballot.count().where(Ballot.poll == poll["id"]) == 0
    # The same people may vote again, counted afresh.
    assert (await vote(client, voters[0], poll["id"], option_ids(poll)[2])).status_code == 201
    after = await (await client.get(url(poll["id"], "/results"))).get_json()
    assert after["voters"] == 1 and [o["votes"] for o in after["options"]] == [0, 0, 1]


async def test_reset_keeps_idempotency_keys_so_an_old_retry_counts_nothing(
    client: Client, make_member: MakeMember, make_poll: MakePoll
) -> None:
    owner = await make_member()
    voter = await make_member()
    poll = await make_poll(owner)
    key = {"Idempotency-Key": "tap-1", **voter.auth}
    body = {"option_id": option_ids(poll)[0]}
    first = await client.post(url(poll["id"], "/votes"), json=body, headers=key)
    assert first.status_code == 201
    await client.post(url(poll["id"], "/reset"), json={"confirm": True}, headers=owner.auth)
    assert await IdempotencyKey.count() == 1
    retry = await client.post(url(poll["id"], "/votes"), json=body, headers=key)
    assert retry.headers.get("Idempotent-Replayed") == "true"
    results = await (await client.get(url(poll["id"], "/results"))).get_json()
    assert results["voters"] == 0


@pytest.mark.parametrize("body", [{}, {"confirm": False}, {"confirm": "yes"}, {"confirm": 1}])
async def test_reset_without_confirm_true_is_a_422_and_keeps_the_votes(
    client: Client, make_member: MakeMember, make_poll: MakePoll, body: dict[str, Any]
) -> None:
    owner, _, poll = await voted_poll(client, make_member, make_poll)
    response = await client.post(url(poll["id"], "/reset"), json=body, headers=owner.auth)
    await assert_validation_problem(response, "confirm")
    assert await Vote.count().where(Vote.poll == poll["id"]) == 3


async def test_only_the_creator_may_reset(
    client: Client, make_member: MakeMember, make_poll: MakePoll
) -> None:
    owner, voters, poll = await voted_poll(client, make_member, make_poll)
    confirm = {"confirm": True}
    await assert_problem(
        await client.post(url(poll["id"], "/reset"), json=confirm, headers=voters[0].auth), 403
    )
    await assert_problem(await client.post(url(poll["id"], "/reset"), json=confirm), 401)
    draft = await make_poll(owner, is_published=False)
    await assert_problem(
        await client.post(url(draft["id"], "/reset"), json=confirm, headers=voters[0].auth), 404
    )
    await assert_problem(
        await client.post(url(99999, "/reset"), json=confirm, headers=owner.auth), 404
    )
    assert await Vote.count().where(Vote.poll == poll["id"]) == 3


# --- duplicate ------------------------------------------------------------------------------


async def test_duplicate_makes_a_new_draft_with_the_settings_and_no_votes(
    client: Client, make_member: MakeMember, fake_clock: FakeClock
) -> None:
    owner, voter = await make_member(), await make_member()
    body = {
        "question": "Pick two",
        "options": ["a", "b", "c"],
        "allows_multiple": True,
        "voting": "guests",
        "guest_network_cap": 7,
        "results_visibility": "after_close",
        "is_published": True,
        "closes_at": at(600),
    }
    poll = await (await client.post("/api/v1/polls", json=body, headers=owner.auth)).get_json()
    assert (await vote(client, voter, poll["id"], option_ids(poll)[0])).status_code == 201
    response = await client.post(url(poll["id"], "/duplicate"), json={}, headers=owner.auth)
    assert response.status_code == 201, await response.get_data()
    copy = await response.get_json()
    assert response.headers["Location"] == url(copy["id"])
    assert copy["id"] != poll["id"] and copy["is_published"] is False
    assert copy["join_code"] is None and copy["state"] == "draft"
    assert [o["text"] for o in copy["options"]] == ["a", "b", "c"]
    assert set(option_ids(copy)).isdisjoint(option_ids(poll))
    for name in ("question", "allows_multiple", "voting", "guest_network_cap"):
        assert copy[name] == poll[name], name
    assert copy["results_visibility"] == "after_close"
    assert copy["voters"] == 0 and copy["opens_at"] is None and copy["closes_at"] is None
    published = await client.patch(url(copy["id"]), json={"is_published": True}, headers=owner.auth)
    assert (await published.get_json())["join_code"] not in (None, poll["join_code"])


async def test_duplicate_may_take_a_new_question_checked_like_any(
    client: Client, make_member: MakeMember, make_poll: MakePoll
) -> None:
    owner = await make_member()
    poll = await make_poll(owner)
    response = await client.post(
        url(poll["id"], "/duplicate"), json={"question": "  Round two?  "}, headers=owner.auth
    )
    assert (await response.get_json())["question"] == "Round two?"
    for bad in ({"question": ""}, {"question": 5}, {"title": "x"}):
        await assert_validation_problem(
            await client.post(url(poll["id"], "/duplicate"), json=bad, headers=owner.auth),
            next(iter(bad)),
        )


async def test_only_the_creator_may_duplicate(
    client: Client, make_member: MakeMember, make_poll: MakePoll
) -> None:
    owner, other = await make_member(), await make_member()
    poll = await make_poll(owner)
    draft = await make_poll(owner, is_published=False)
    path = url(poll["id"], "/duplicate")
    await assert_problem(await client.post(path, json={}, headers=other.auth), 403)
    await assert_problem(await client.post(path, json={}), 401)
    await assert_problem(
        await client.post(url(draft["id"], "/duplicate"), json={}, headers=other.auth), 404
    )
    mine = await client.get("/api/v1/polls?mine=true", headers=other.auth)
    assert (await mine.get_json())["items"] == []


# --- export ---------------------------------------------------------------------------------


async def test_the_json_export_holds_counts_percentages_and_ballots_by_kind_and_no_people(
    client: Client, make_member: MakeMember, make_poll: MakePoll
) -> None:
    owner, voters, poll = await voted_poll(client, make_member, make_poll)
    response = await client.get(url(poll["id"], "/export"), headers=owner.auth)
    assert response.status_code == 200, await response.get_data()
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith(f'attachment; filename="poll-{poll["id"]}-results-')
    assert disposition.endswith('.json"')
    body = await response.get_json()
    assert body["question"] == "Best editor?" and body["voters"] == 3
    assert [(o["text"], o["votes"], o["percent"]) for o in body["options"]] == [
        ("vim", 2, 67),
        ("emacs", 1, 33),
        ("nano", 0, 0),
    ]
    assert body["ballots"] == {"account": 3, "guest": 0, "code": 0}
    assert body["total_votes"] == 3 and body["state"] == "open" and body["exported_at"]
    raw = await response.get_data(as_text=True)
    for person in [owner, *voters]:
        assert person.email not in raw and person.name not in raw


async def test_the_csv_export_is_a_download_with_a_row_per_option_and_no_formulas(
    client: Client, make_member: MakeMember
) -> None:
    owner, voter = await make_member(), await make_member()
    body = {
        "question": '=HYPERLINK("http://evil")',
        "options": ["+1", "-1", "@SUM(A1)", "plain"],
        "is_published": True,
    }
    poll = await (await client.post("/api/v1/polls", json=body, headers=owner.auth)).get_json()
    assert (await vote(client, voter, poll["id"], option_ids(poll)[3])).status_code == 201
    response = await client.get(url(poll["id"], "/export.csv"), headers=owner.auth)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].endswith('.csv"')
    rows = list(csv.DictReader(io.StringIO(await response.get_data(as_text=True))))
    assert [row["option"] for row in rows] == ["'+1", "'-1", "'@SUM(A1)", "plain"]
    assert {row["question"] for row in rows} == {'\'=HYPERLINK("http://evil")'}
    assert [row["votes"] for row in rows] == ["0", "0", "0", "1"]
    assert rows[3]["percent"] == "100" and rows[0]["ballots_account"] == "1"
    assert voter.email not in await response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/export", "/export.csv"])
async def test_only_the_creator_may_export(
    client: Client, make_member: MakeMember, make_poll: MakePoll, path: str
) -> None:
    owner, other = await make_member(), await make_member()
    poll = await make_poll(owner)
    draft = await make_poll(owner, is_published=False)
    await assert_problem(await client.get(url(poll["id"], path), headers=other.auth), 403)
    await assert_problem(await client.get(url(poll["id"], path)), 401)
    await assert_problem(await client.get(url(draft["id"], path), headers=other.auth), 404)


async def test_an_export_while_votes_arrive_is_consistent_in_itself(
    client: Client, make_member: MakeMember, make_poll: MakePoll
) -> None:
    """Exports taken while votes are being cast: each one's counts, voters and ballots agree
    (one statement), and the counts only grow; the last one has every vote."""
    owner = await make_member()
    voters = [await make_member() for _ in range(12)]
    poll = await make_poll(owner)
    ids = option_ids(poll)
    casting = [
        asyncio.create_task(vote(client, voter, poll["id"], ids[i % 3]))
        for i, voter in enumerate(voters)
    ]
    seen: list[dict[str, Any]] = []
    while not all(task.done() for task in casting):
        response = await client.get(url(poll["id"], "/export"), headers=owner.auth)
        seen.append(json.loads(await response.get_data(as_text=True)))
    assert all(task.result().status_code == 201 for task in casting)
    final = await client.get(url(poll["id"], "/export"), headers=owner.auth)
    seen.append(await final.get_json())
    for export in seen:
        assert sum(o["votes"] for o in export["options"]) == export["voters"]
        assert export["ballots"]["account"] == export["voters"] == export["total_votes"]
    assert [e["seq"] for e in seen] == sorted(e["seq"] for e in seen)
    assert seen[-1]["voters"] == 12 and [o["votes"] for o in seen[-1]["options"]] == [4, 4, 4]


async def test_the_export_schema_is_its_own_in_the_openapi_document(client: Client) -> None:
    """Components are named by class: the export's ballots must not share a name (and so a
    schema) with the integrity report's."""
    spec = await (await client.get("/openapi.json")).get_json()
    schemas = spec["components"]["schemas"]

    def ballots_of(path: str) -> set[str]:
        ok = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        name = ok["schema"]["properties"]["ballots"]["$ref"].rsplit("/", 1)[1]
        return set(schemas[name]["properties"])

    assert ballots_of("/api/v1/polls/{poll_id}/export") == {"account", "guest", "code"}
    report = {"accounts", "guests", "codes", "total"}
    assert ballots_of("/api/v1/polls/{poll_id}/integrity") == report
    csv_ok = spec["paths"]["/api/v1/polls/{poll_id}/export.csv"]["get"]["responses"]["200"]
    assert list(csv_ok["content"]) == ["text/csv"]
