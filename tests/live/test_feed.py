"""The cross-process change feed: its payloads, and how few NOTIFYs a burst costs."""

from __future__ import annotations

import asyncio

import asyncpg

from tests.conftest import DB_KIND, DB_URL
from webapp.live import feed
from webapp.live.feed import CHANNEL, MAX_PAYLOAD, PostgresFeed, decode, encode


def test_a_payload_carries_every_change_and_deletions() -> None:
    changes = {1: 5, 22: None, 333: 0}
    (payload,) = encode(changes)
    assert payload == "1:5,22:,333:0"
    assert decode(payload) == [(1, 5), (22, None), (333, 0)]


def test_long_batches_are_split_under_postgresqls_payload_limit() -> None:
    changes = {poll_id: 1_000_000 + poll_id for poll_id in range(1, 3001)}
    payloads = encode(changes)
    assert len(payloads) > 1
    assert all(len(p.encode()) <= MAX_PAYLOAD for p in payloads)
    assert dict(pair for p in payloads for pair in decode(p)) == changes


def test_malformed_items_are_skipped_not_fatal() -> None:
    assert decode("7:1,x:2,8,9:y,10:3") == [(7, 1), (8, None), (10, 3)]


def test_a_deletion_waiting_is_not_replaced_by_a_later_seq() -> None:
    assert feed._merge(None, None, known=True) is None
    assert feed._merge(None, 7, known=True) is None  # the deletion waiting wins
    assert feed._merge(None, 7, known=False) == 7
    assert feed._merge(5, 7, known=True) == 7
    assert feed._merge(9, 7, known=True) == 9


class Recorder:
    def __init__(self) -> None:
        self.changes: list[tuple[int, int | None]] = []

    def changed(self, poll_id: int, seq: int | None = None) -> None:
        self.changes.append((poll_id, seq))


# LISTEN/NOTIFY is PostgreSQL's: this runs (and exists) only in the PostgreSQL pass.
if DB_KIND == "postgres":

    async def test_a_burst_over_many_polls_costs_one_notify_per_interval() -> None:
        interval = 0.2
        sender = PostgresFeed(DB_URL, Recorder(), interval)  # type: ignore[arg-type]
        listener = await asyncpg.connect(DB_URL)
        notices: list[str] = []
        await listener.add_listener(CHANNEL, lambda *args: notices.append(args[-1]))
        try:
            sender.announce(1, 1)  # a quiet feed: goes out at once
            await asyncio.sleep(interval / 4)
            assert notices == ["1:1"]
            for seq in range(2, 12):  # a burst within one interval, over 100 polls
                for poll_id in range(1, 101):
                    sender.announce(poll_id, seq)
            sender.announce(50, None)  # and one deletion
            await asyncio.sleep(interval * 2.5)
        finally:
            await sender.stop()
            await listener.close()
        assert len(notices) == 2, notices
        latest = dict(decode(notices[1]))
        assert latest == {poll_id: (None if poll_id == 50 else 11) for poll_id in range(1, 101)}
