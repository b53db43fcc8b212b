"""GET /api/v1/polls/{id}: entity tags for pollers, and a watched poll answered from the live
snapshot, under every visibility rule and never behind a change this process made."""

from __future__ import annotations

from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client

from tests.conftest import MakeMember, MakePoll, Member
from tests.helpers import next_json, until, vote
from webapp import polls


def poll_url(poll_id: int) -> str:
    return f"/api/v1/polls/{poll_id}"


async def get(client: Client, poll_id: int, member: Member | None = None, **headers: str) -> Any:
    auth = member.auth if member else {}
    return await client.get(poll_url(poll_id), headers={**auth, **headers})


async def patch(client: Client, owner: Member, poll_id: int, **changes: Any) -> None:
    response = await client.patch(poll_url(poll_id), json=changes, headers=owner.auth)
    assert response.status_code == 200, await response.get_data()


def no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on a read that reaches the database fails the test."""

    async def refuse(*_args: object) -> None:
        raise AssertionError("read from the database")

    monkeypatch.setattr(polls, "read_poll", refuse)


async def test_a_poller_revalidates_with_the_etag_and_gets_304_until_the_poll_changes(
    client: Client, make_member: MakeMember, make_poll: MakePoll
) -> None:
    owner, voter = await make_member(), await make_member()
    poll = await make_poll(owner)
    first = await get(client, poll["id"])
    tag = first.headers["ETag"]
    assert first.status_code == 200 and tag.startswith('"') and tag.endswith('"')
    again = await get(client, poll["id"], **{"If-None-Match": tag})
    assert again.status_code == 304 and again.headers["ETag"] == tag
    assert await again.get_data() == b""
    await vote(client, voter, poll["id"], poll["options"][0]["id"])
    changed = await get(client, poll["id"], **{"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["ETag"] != tag
    assert (await changed.get_json())["total_votes"] == 1
    # Another viewer with other visibility gets another tag: the creator sees hidden counts.
    await patch(client, owner, poll["id"], results_hidden=True)
    audience, creator = await get(client, poll["id"]), await get(client, poll["id"], owner)
    assert audience.headers["ETag"] != creator.headers["ETag"]
    assert (await audience.get_json())["voters"] is None
    assert (await creator.get_json())["voters"] == 1


async def test_a_watched_poll_is_read_from_the_snapshot_and_never_lags_a_local_change(
    client: Client,
    make_member: MakeMember,
    make_poll: MakePoll,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    owner, voter = await make_member(), await make_member()
    poll = await make_poll(owner)
    from_db = await (await get(client, poll["id"])).get_json()
    async with client.websocket(f"/api/v1/polls/{poll['id']}/live") as ws:
        await next_json(ws, "results")
        no_database(monkeypatch)
        watched = await get(client, poll["id"])
        assert await watched.get_json() == from_db
        # A vote through this process: the next read must show it. Until the hub has
        # reloaded, that read goes to the database (which this test refuses), so wait for
        # the snapshot to catch up while allowing nothing stale.
        monkeypatch.undo()
        await vote(client, voter, poll["id"], poll["options"][1]["id"])
        right_after = await (await get(client, poll["id"])).get_json()
        assert right_after["total_votes"] == 1
        await next_json(ws, "results")
        no_database(monkeypatch)

        async def from_snapshot() -> bool:
            response = await get(client, poll["id"])
            return response.status_code == 200

        await until(from_snapshot, "the snapshot answers again")
        body = await (await get(client, poll["id"])).get_json()
        assert body["total_votes"] == 1 and body["options"][1]["votes"] == 1


@pytest.mark.parametrize(
    "rule",
    [
        {"results_hidden": True},
        {"results_visibility": "after_close"},
        {"results_visibility": "after_vote"},
    ],
)
async def test_the_snapshot_read_shows_each_viewer_what_the_database_read_does(
    client: Client,
    make_member: MakeMember,
    make_poll: MakePoll,
    monkeypatch: pytest.MonkeyPatch,
    rule: dict[str, Any],
) -> None:
    owner, voter, other = await make_member(), await make_member(), await make_member()
    poll = await make_poll(owner)
    await patch(client, owner, poll["id"], **rule)
    await vote(client, voter, poll["id"], poll["options"][0]["id"])
    viewers: list[Member | None] = [None, owner, voter, other]
    expected = [await (await get(client, poll["id"], who)).get_json() for who in viewers]
    tags = [(await get(client, poll["id"], who)).headers["ETag"] for who in viewers]
    # Everyone watching, so the snapshot knows whether each of them voted.
    async with (
        client.websocket(f"/api/v1/polls/{poll['id']}/live", headers=voter.auth) as on_voter,
        client.websocket(f"/api/v1/polls/{poll['id']}/live", headers=other.auth) as on_other,
    ):
        await next_json(on_voter, "results")
        await next_json(on_other, "results")
        no_database(monkeypatch)
        for who, body, tag in zip(viewers, expected, tags, strict=True):
            response = await get(client, poll["id"], who)
            assert await response.get_json() == body, who
            assert response.headers["ETag"] == tag, who


async def test_the_openapi_document_declares_the_etag_and_the_304(client: Client) -> None:
    spec = await (await client.get("/openapi.json")).get_json()
    operation = spec["paths"]["/api/v1/polls/{poll_id}"]["get"]
    assert {"name": "If-None-Match", "in": "header"}.items() <= next(
        p for p in operation["parameters"] if p["name"] == "If-None-Match"
    ).items()
    assert "ETag" in operation["responses"]["200"]["headers"]
    assert "ETag" in operation["responses"]["304"]["headers"]


async def test_a_poll_read_over_http_is_kept_for_the_next_reads_and_kept_current(
    client: Client,
    make_member: MakeMember,
    make_poll: MakePoll,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    owner, voter = await make_member(), await make_member()
    poll = await make_poll(owner)
    first = await (await get(client, poll["id"])).get_json()  # from the database
    hub = client.app.extensions["live"].hub
    await until(lambda: hub.current(poll["id"]) is not None, "the read poll is kept")
    no_database(monkeypatch)
    assert await (await get(client, poll["id"])).get_json() == first
    monkeypatch.undo()
    await vote(client, voter, poll["id"], poll["options"][2]["id"])
    assert (await (await get(client, poll["id"])).get_json())["total_votes"] == 1
    await until(lambda: hub.current(poll["id"]) is not None, "the kept poll reloads")
    no_database(monkeypatch)
    assert (await (await get(client, poll["id"])).get_json())["options"][2]["votes"] == 1


async def test_a_poll_kept_for_reads_is_forgotten_when_reads_stop(
    client: Client, make_member: MakeMember, make_poll: MakePoll, monkeypatch: pytest.MonkeyPatch
) -> None:
    from webapp.live import hub as hub_module

    monkeypatch.setattr(hub_module, "READ_TTL_S", 0.05)
    poll = await make_poll(await make_member())
    hub = client.app.extensions["live"].hub
    await get(client, poll["id"])
    await until(lambda: hub.current(poll["id"]) is not None, "the read poll is kept")
    await until(lambda: poll["id"] not in hub._channels, "and forgotten after its reads stop")
