"""Scheduled voting: a poll's `opens_at`/`closes_at` judged by the server's clock on every vote
(the scheduler need not have run), and the scheduler's change written once however many
processes race for it (webapp/schedule.py)."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client

from tests.clocks import T0, FakeClock, install
from tests.conftest import DB_URL, MakeMember, MakePoll, postgres_only
from tests.helpers import option_ids, until, vote
from tests.live.servers import server_env
from webapp import clock, notices, polls, schedule, votes
from webapp.tables import Poll


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    return install(monkeypatch)


async def scheduled(
    client: Client, owner: Any, opens_at: datetime | None, closes_at: datetime | None
) -> dict[str, Any]:
    body: dict[str, Any] = {"question": "Lunch?", "options": ["soup", "salad"]}
    body["is_published"] = True
    if opens_at:
        body["opens_at"] = opens_at.isoformat()
    if closes_at:
        body["closes_at"] = closes_at.isoformat()
    response = await client.post("/api/v1/polls", json=body, headers=owner.auth)
    assert response.status_code == 201, await response.get_data()
    return dict(await response.get_json())


async def state(client: Client, poll_id: int) -> dict[str, Any]:
    return dict(await (await client.get(f"/api/v1/polls/{poll_id}")).get_json())


async def seq_of(poll_id: int) -> int:
    rows = await Poll.select(Poll.seq).where(Poll.id == poll_id)
    return int(rows[0]["seq"])


async def test_a_vote_after_closes_at_is_refused_though_the_scheduler_has_not_run(
    client: Client, make_member: MakeMember, fake_clock: FakeClock
) -> None:
    owner, voter, late = await make_member(), await make_member(), await make_member()
    poll = await scheduled(client, owner, None, T0 + timedelta(seconds=60))
    soup, _ = option_ids(poll)
    assert poll["state"] == "open" and poll["closed_at"] is None
    assert (await vote(client, voter, poll["id"], soup)).status_code == 201

    fake_clock.move(60)  # closes_at is now: closed (the window is [opens_at, closes_at))
    refused = await vote(client, late, poll["id"], soup)
    assert refused.status_code == 409
    assert "closed" in (await refused.get_json())["detail"]
    withdrawn = await client.delete(f"/api/v1/polls/{poll['id']}/votes", headers=voter.auth)
    assert withdrawn.status_code == 409
    seen = await state(client, poll["id"])
    assert seen["state"] == "closed" and seen["closed_at"] == seen["closes_at"]
    assert seen["voters"] == 1 and [o["votes"] for o in seen["options"]] == [1, 0]


async def test_a_vote_before_opens_at_is_refused_and_counted_once_it_opens(
    client: Client, make_member: MakeMember, fake_clock: FakeClock
) -> None:
    owner, voter = await make_member(), await make_member()
    poll = await scheduled(client, owner, T0 + timedelta(minutes=5), None)
    soup, _ = option_ids(poll)
    assert poll["state"] == "scheduled"
    early = await vote(client, voter, poll["id"], soup)
    assert early.status_code == 409 and "opens" in (await early.get_json())["detail"]
    fake_clock.move(300)
    assert (await state(client, poll["id"]))["state"] == "open"
    assert (await vote(client, voter, poll["id"], soup)).status_code == 201


async def test_the_scheduler_closes_a_due_poll_once_and_announces_it(
    client: Client, make_member: MakeMember, fake_clock: FakeClock
) -> None:
    owner = await make_member()
    poll = await scheduled(client, owner, None, T0 + timedelta(seconds=30))
    heard: list[tuple[int, int | None]] = []
    unsubscribe = notices.subscribe(lambda poll_id, seq: heard.append((poll_id, seq)))
    try:
        before = await seq_of(poll["id"])
        assert await schedule.run_due() == []  # not due yet
        assert await schedule.next_due() == T0 + timedelta(seconds=30)
        fake_clock.move(30)
        assert await schedule.run_due() == [poll["id"]]
        assert await schedule.run_due() == []  # done: nothing to do twice
    finally:
        unsubscribe()
    assert await seq_of(poll["id"]) == before + 1
    assert (poll["id"], before + 1) in heard
    seen = await state(client, poll["id"])
    assert seen["closed_at"] == seen["closes_at"] and seen["state"] == "closed"
    assert await schedule.next_due() is None


async def test_a_time_given_with_another_offset_is_judged_as_the_same_instant(
    client: Client, make_member: MakeMember, make_poll: MakePoll, fake_clock: FakeClock
) -> None:
    """Through the domain function (an event's countdown calls it): stored in UTC, so the
    scheduler's comparison holds on SQLite's text timestamps too."""
    owner = await make_member()
    poll = await make_poll(owner)
    east = timezone(timedelta(hours=5, minutes=30))
    closes = (T0 + timedelta(seconds=30)).astimezone(east)
    view = await polls.schedule_poll(poll["id"], owner.id, closes_at=closes)
    assert view.closes_at == closes and view.closes_at.utcoffset() == timedelta(0)
    assert await schedule.next_due() == T0 + timedelta(seconds=30)
    fake_clock.move(29.999)
    assert await schedule.run_due() == []
    fake_clock.move(0.001)
    assert await schedule.run_due() == [poll["id"]]


async def test_the_scheduler_announces_an_opening_once(
    client: Client, make_member: MakeMember, fake_clock: FakeClock
) -> None:
    owner = await make_member()
    poll = await scheduled(client, owner, T0 + timedelta(seconds=10), T0 + timedelta(seconds=20))
    before = await seq_of(poll["id"])
    fake_clock.move(10)
    assert await schedule.run_due() == [poll["id"]]
    assert await schedule.run_due() == []
    assert await seq_of(poll["id"]) == before + 1
    assert (await state(client, poll["id"]))["state"] == "open"
    assert await schedule.next_due() == T0 + timedelta(seconds=20)


async def test_a_draft_is_never_due(
    client: Client, make_member: MakeMember, make_poll: MakePoll, fake_clock: FakeClock
) -> None:
    owner = await make_member()
    poll = await make_poll(owner, is_published=False)
    response = await client.patch(
        f"/api/v1/polls/{poll['id']}",
        json={"closes_at": (T0 + timedelta(seconds=5)).isoformat()},
        headers=owner.auth,
    )
    assert response.status_code == 200, await response.get_data()
    fake_clock.move(10)
    assert await schedule.run_due() == [] and await schedule.next_due() is None
    assert (await state_of_draft(client, owner, poll["id"]))["state"] == "draft"


async def state_of_draft(client: Client, owner: Any, poll_id: int) -> dict[str, Any]:
    response = await client.get(f"/api/v1/polls/{poll_id}", headers=owner.auth)
    return dict(await response.get_json())


async def test_the_running_scheduler_closes_a_poll_with_nobody_voting(
    client: Client, make_member: MakeMember
) -> None:
    """The app's own scheduler (started with the app), on the real clock: a poll set to close
    a moment ahead is closed in the database without any vote or read."""
    owner = await make_member()
    poll = await scheduled(client, owner, None, clock.now() + timedelta(seconds=0.5))

    async def closed() -> bool:
        rows = await Poll.select(Poll.closed_at).where(Poll.id == poll["id"])
        return rows[0]["closed_at"] is not None

    await until(closed, "the scheduler closes the poll", within=10)


@postgres_only
async def test_a_batch_straddling_closes_at_refuses_the_votes_decided_after_it(
    client: Client, make_member: MakeMember, fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seven votes wait behind a held row lock and go in one batch; the clock passes
    closes_at after the third is decided: those three count, the last four are refused 409,
    each judged by the clock when it is decided, under the lock."""
    from tests.test_vote_batches import poll_locked, rows, taken

    owner = await make_member()
    members = [await make_member() for _ in range(8)]
    poll = await scheduled(client, owner, None, T0 + timedelta(seconds=10))
    soup, salad = option_ids(poll)
    decided = 0
    original = votes._decide

    async def deciding(poll_id: int, locked: Any, cast: Any) -> bool | None:
        nonlocal decided
        try:
            return await original(poll_id, locked, cast)
        finally:
            decided += 1
            if decided == 4:  # the first alone, then three of the batch: time passes
                fake_clock.move(10)

    monkeypatch.setattr(votes, "_decide", deciding)
    async with poll_locked(poll["id"]):
        first = asyncio.create_task(vote(client, members[0], poll["id"], soup))
        await until(lambda: taken(poll["id"]), "the first vote is taken")
        rest = []
        for i, member in enumerate(members[1:], 1):
            rest.append(asyncio.create_task(vote(client, member, poll["id"], salad)))
            await until(lambda i=i: votes._batches.waiting(poll["id"]) == i, "the vote waits")
    answers = [await first, *[await task for task in rest]]
    assert [answer.status_code for answer in answers] == [201, 201, 201, 201] + [409] * 4
    assert await rows(poll["id"]) == [1, 3]
    seen = await state(client, poll["id"])
    assert seen["voters"] == 4 and seen["state"] == "closed"


SETTLE = """
import asyncio, json, sys
from datetime import datetime
from webapp import schedule
from webapp.db import start, stop

async def main():
    await start(2)
    try:
        changed = await schedule.run_due(datetime.fromisoformat(sys.argv[1]))
    finally:
        await stop()
    print(json.dumps(changed))

asyncio.run(main())
"""


@postgres_only
async def test_two_processes_racing_for_one_closing_make_it_once(
    client: Client, make_member: MakeMember, fake_clock: FakeClock
) -> None:
    """Two processes run the scheduler's round at once for the same due poll: exactly one of
    them closes it, and its seq moves by one."""
    owner = await make_member()
    polls = [await scheduled(client, owner, None, T0 + timedelta(seconds=1)) for _ in range(5)]
    before = {poll["id"]: await seq_of(poll["id"]) for poll in polls}
    due = (T0 + timedelta(seconds=2)).isoformat()
    env = server_env()
    env["DATABASE_URL"] = DB_URL
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", SETTLE, due, env=env, stdout=asyncio.subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs = [await proc.communicate() for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0]
    lines = [out.decode().splitlines()[-1] for out, _ in outputs]
    changed: list[int] = [poll_id for line in lines for poll_id in json.loads(line)]
    assert sorted(changed) == sorted(before)  # each poll closed by exactly one process
    for poll_id, seq in before.items():
        assert await seq_of(poll_id) == seq + 1


async def test_the_scheduler_retries_through_a_database_outage_then_works_again(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A round that cannot reach the database sleeps RETRY_S and tries again, logging once;
    the next round that works plans from the next due time again."""
    down = True

    async def run_due(now: datetime | None = None) -> list[int]:
        if down:
            raise ConnectionRefusedError("the database is away")
        return []

    async def next_due() -> datetime | None:
        return clock.now() + timedelta(seconds=3)

    monkeypatch.setattr(schedule, "run_due", run_due)
    monkeypatch.setattr(schedule, "next_due", next_due)
    scheduler = schedule.Scheduler()
    assert await scheduler._round() == schedule.RETRY_S
    assert await scheduler._round() == schedule.RETRY_S
    assert [r.message for r in caplog.records].count(
        "scheduler: database unavailable; retrying every 5.0 s"
    ) == 1
    down = False
    wait = await scheduler._round()
    assert 0 < wait <= 3
    assert "scheduler: working again" in [r.message for r in caplog.records]


def test_docs_state_the_schedulers_timings() -> None:
    """docs/live.md says how soon other processes hear of a schedule and how often the
    scheduler retries through an outage: the constants it names."""
    from pathlib import Path

    text = " ".join(Path(__file__).parent.parent.joinpath("docs", "live.md").read_text().split())
    assert f"every {schedule.RESCAN_S:g} s, to hear of schedules set on other processes" in text
    assert f"the timer retries every {schedule.RETRY_S:g} s" in text
