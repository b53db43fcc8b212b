"""The hub's own rules, with an in-memory snapshot source (the database paths are tested
through the WebSocket tests)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator

import pytest

from tests.helpers import until
from webapp.live.hub import (
    RETRY_MAX_S,
    RETRY_MIN_S,
    Format,
    Hub,
    Messages,
    PollChannel,
    Sink,
    Snapshot,
)

INTERVAL = 0.05


def snapshot(seq: int, version: str = "v1", checked: frozenset[int] | None = None) -> Snapshot:
    """A poll's snapshot at `seq`: its results message says which seq it was built from."""
    results = f"results:{seq}"
    return Snapshot(
        seq=seq,
        poll_version=version,
        results={
            ("json", True): results,
            ("json", False): "hidden",
            ("html", True): results,
            ("html", False): "hidden",
        },
        poll={"json": f"poll:{version}", "html": f"poll:{version}"},
        can_see=lambda user_id: user_id != 13,  # user 13 may not see the counts
        checked=checked,
    )


class Source:
    """A poll whose state tests change by hand; counts how often the hub loads it."""

    def __init__(self) -> None:
        self.seq = 0
        self.loads = 0
        self.version = "v1"
        self.exists = True
        self.failing = 0  # the next loads that fail, as with the database down

    async def load(self, poll_id: int, user_ids: frozenset[int]) -> Snapshot | None:
        self.loads += 1
        if self.failing:
            self.failing -= 1
            raise ConnectionError("the database is down")
        if not self.exists:
            return None
        return snapshot(self.seq, self.version)


class PlainMessages(Messages):
    def viewers(self, fmt: Format, count: int) -> str:
        return str(count)

    def deleted(self, fmt: Format) -> str:
        return '{"type": "deleted"}'


async def collect(
    stream: AsyncIterator[tuple[str, str | int]], into: list[tuple[str, str | int]]
) -> None:
    async for item in stream:
        into.append(item)


@pytest.fixture
def source() -> Source:
    return Source()


@pytest.fixture
def hub(source: Source) -> Hub:
    return Hub(source.load, PlainMessages(), INTERVAL, viewers_interval=INTERVAL)


async def watch(
    hub: Hub, poll_id: int = 1, user_id: int | None = None, sink: Sink | None = None
) -> tuple[list[tuple[str, str | int]], asyncio.Task]:
    """What the viewer's task receives (with a sink: only what the sink did not take)."""
    received: list[tuple[str, str | int]] = []
    task = asyncio.create_task(collect(hub.subscribe(poll_id, user_id, "json", sink), received))
    await asyncio.sleep(0.01)
    return received, task


async def stop(task: asyncio.Task) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def results(received: list[tuple[str, str | int]]) -> list[str | int]:
    return [message for kind, message in received if kind == "results"]


async def test_a_new_viewer_gets_the_current_snapshot_at_once(hub: Hub, source: Source) -> None:
    received, task = await watch(hub)
    assert results(received) == ["results:0"]
    assert ("viewers", "1") in received
    await stop(task)


async def test_the_first_change_on_a_quiet_poll_goes_out_without_waiting(
    hub: Hub, source: Source
) -> None:
    received, task = await watch(hub)
    await asyncio.sleep(INTERVAL * 2)
    source.seq = 1
    hub.changed(1, 1)
    await asyncio.sleep(0.01)
    assert results(received)[-1] == "results:1"
    await stop(task)


async def test_a_burst_is_coalesced_and_ends_with_the_final_state(hub: Hub, source: Source) -> None:
    received, task = await watch(hub)
    for seq in range(1, 101):
        source.seq = seq
        hub.changed(1, seq)
        await asyncio.sleep(0.002)
    await asyncio.sleep(INTERVAL * 3)
    sent = results(received)
    assert sent[-1] == "results:100"
    assert len(sent) <= 0.2 / INTERVAL + 4  # ~0.2 s of changes, one update per interval
    assert source.loads < 20
    await stop(task)


async def test_one_load_serves_every_viewer_of_a_change(hub: Hub, source: Source) -> None:
    watchers = [await watch(hub) for _ in range(50)]
    await asyncio.sleep(INTERVAL * 2)
    loads_before = source.loads
    source.seq = 1
    hub.changed(1, 1)
    await asyncio.sleep(INTERVAL)
    assert source.loads == loads_before + 1
    assert all(results(received)[-1] == "results:1" for received, _ in watchers)
    for _, task in watchers:
        await stop(task)


async def test_a_viewer_that_never_reads_holds_only_the_newest_message(
    hub: Hub, source: Source
) -> None:
    stream = hub.subscribe(1)
    first = await anext(stream)  # registered; now stop reading
    assert first == ("results", "results:0")
    for seq in range(1, 500):
        source.seq = seq
        hub.changed(1, seq)
        await asyncio.sleep(0)
    await asyncio.sleep(INTERVAL * 3)
    (viewer,) = hub._channels[1].viewers
    assert len(viewer.pending) <= 3  # one slot per message type, never a backlog
    assert viewer.pending["results"] == "results:499"
    await stream.aclose()


async def test_changes_to_unwatched_polls_cost_nothing(hub: Hub, source: Source) -> None:
    hub.changed(7, 3)
    await asyncio.sleep(INTERVAL)
    assert source.loads == 0


async def test_a_stale_notice_does_not_reload(hub: Hub, source: Source) -> None:
    received, task = await watch(hub)
    await asyncio.sleep(INTERVAL * 2)
    loads = source.loads
    hub.changed(1, 0)  # our own notice echoed back, already delivered
    await asyncio.sleep(INTERVAL)
    assert source.loads == loads
    await stop(task)


async def test_an_edit_sends_a_poll_message_before_the_results(hub: Hub, source: Source) -> None:
    received, task = await watch(hub)
    await asyncio.sleep(INTERVAL * 2)
    source.seq, source.version = 1, "v2"
    hub.changed(1, 1)
    await asyncio.sleep(0.02)
    kinds = [kind for kind, _ in received if kind in ("poll", "results")]
    assert kinds[-2:] == ["poll", "results"]
    await stop(task)


async def test_deletion_sends_deleted_then_closes(hub: Hub, source: Source) -> None:
    received, task = await watch(hub)
    source.exists = False
    hub.changed(1, None)
    await asyncio.wait_for(task, 1)
    assert received[-2:] == [("deleted", '{"type": "deleted"}'), ("close", 1000)]


async def test_close_all_closes_every_viewer_with_the_code(hub: Hub, source: Source) -> None:
    watchers = [await watch(hub, poll_id) for poll_id in (1, 2, 2)]
    await hub.close_all(1012)
    for received, task in watchers:
        await asyncio.wait_for(task, 1)
        assert received[-1] == ("close", 1012)
    late: list[tuple[str, str | int]] = []
    await collect(hub.subscribe(3), late)
    assert late == [("close", 1012)]


async def test_viewer_counts_follow_joins_and_leaves(hub: Hub, source: Source) -> None:
    first, first_task = await watch(hub)
    second, second_task = await watch(hub)
    await asyncio.sleep(INTERVAL * 2)
    assert ("viewers", "2") in first
    await stop(second_task)
    await asyncio.sleep(INTERVAL * 2)
    assert first[-1] == ("viewers", "1")
    assert hub.viewer_count(1) == 1
    await stop(first_task)
    await asyncio.sleep(INTERVAL * 2)
    assert hub.viewer_count(1) == 0
    assert 1 not in hub._channels


async def test_each_viewer_gets_the_variant_it_may_see(hub: Hub, source: Source) -> None:
    allowed, allowed_task = await watch(hub, user_id=7)
    withheld, withheld_task = await watch(hub, user_id=13)
    assert results(allowed) == ["results:0"]
    assert results(withheld) == ["hidden"]
    await stop(allowed_task)
    await stop(withheld_task)


async def test_a_poll_gone_before_the_first_load_sends_deleted_then_closes(
    hub: Hub, source: Source
) -> None:
    source.exists = False
    received: list[tuple[str, str | int]] = []
    await asyncio.wait_for(collect(hub.subscribe(1), received), 1)
    assert received[-2:] == [("deleted", '{"type": "deleted"}'), ("close", 1000)]


async def test_viewer_counts_go_out_at_most_once_per_viewers_interval(source: Source) -> None:
    hub = Hub(source.load, PlainMessages(), INTERVAL, viewers_interval=0.5)
    first, first_task = await watch(hub)
    others = [await watch(hub) for _ in range(20)]  # a crowd joins within ~0.2 s
    await asyncio.sleep(0.8)
    counts = [message for kind, message in first if kind == "viewers"]
    assert len(counts) <= 3  # the first at once, then at most one per 0.5 s
    assert counts[-1] == "21"
    for _, task in [(first, first_task), *others]:
        await stop(task)


async def test_a_viewer_joining_during_a_pending_edit_does_not_hide_it_from_the_others(
    hub: Hub, source: Source
) -> None:
    watching, task = await watch(hub)
    await asyncio.sleep(INTERVAL * 2)
    source.seq, source.version = 1, "v2"
    hub.changed(1, 1)  # first change on a quiet poll: delivered at once
    await asyncio.sleep(0.01)
    source.seq, source.version = 2, "v3"
    hub.changed(1, 2)  # a second edit inside the interval: pending
    newcomer, newcomer_task = await watch(hub)  # joins (and loads) while it is pending
    await asyncio.sleep(INTERVAL * 2)
    assert [m for kind, m in watching if kind == "poll"][-1] == "poll:v3"
    assert results(watching)[-1] == "results:2"
    await stop(task)
    await stop(newcomer_task)


# --- loads that finish out of order: an older snapshot never replaces a newer one -------------


class HeldLoads:
    """A loader whose every call waits until the test answers it, so that loads can be made to
    finish in any order (as two loads in flight against the database may)."""

    def __init__(self) -> None:
        self.calls: asyncio.Queue[asyncio.Future[Snapshot | None]] = asyncio.Queue()

    async def load(self, poll_id: int, user_ids: frozenset[int]) -> Snapshot | None:
        answer: asyncio.Future[Snapshot | None] = asyncio.get_running_loop().create_future()
        self.calls.put_nowait(answer)
        return await answer

    async def answer(self, reply: Snapshot) -> None:
        """Answer the oldest call not answered yet (waiting for it to be made)."""
        call = await asyncio.wait_for(self.calls.get(), 2)
        call.set_result(reply)
        await settle()

    async def next_call(self) -> asyncio.Future[Snapshot | None]:
        return await asyncio.wait_for(self.calls.get(), 2)


async def settle() -> None:
    """Let every task woken by an answer run until it next waits: the hub delivers a loaded
    snapshot without awaiting anything, so a few passes of the event loop are enough."""
    for _ in range(5):
        await asyncio.sleep(0)


def polls(received: list[tuple[str, str | int]]) -> list[str | int]:
    return [message for kind, message in received if kind == "poll"]


async def test_a_snapshot_older_than_the_channels_never_replaces_it(source: Source) -> None:
    """A load that returns an older poll than the last delivered one (seq 1 after seq 2) is
    dropped: viewers keep the newer state and a viewer joining later is served it too."""
    loads = HeldLoads()
    hub = Hub(loads.load, PlainMessages(), INTERVAL, viewers_interval=INTERVAL)
    watching, task = await watch(hub)
    await loads.answer(snapshot(0))
    assert results(watching) == ["results:0"]
    hub.changed(1, 2)
    await loads.answer(snapshot(2, "v2"))
    await until(lambda: results(watching) == ["results:0", "results:2"], "seq 2 delivered")
    hub.changed(1, 3)
    await loads.answer(snapshot(1, "v1"))  # older than what the viewers hold
    assert results(watching) == ["results:0", "results:2"]
    assert polls(watching) == ["poll:v2"]
    newcomer, newcomer_task = await watch(hub)  # served from the channel's snapshot
    assert results(newcomer) == ["results:2"]
    await stop(task)
    await stop(newcomer_task)


async def test_a_viewer_holding_a_newer_snapshot_than_a_delivery_gets_nothing_older(
    source: Source,
) -> None:
    """A viewer that joined with a load of its own (its votes unchecked by the channel's
    snapshot) can hold a newer state than a change's load still in flight: when that older
    load lands, the other viewers move on, and this viewer gets neither its results nor its
    poll message."""
    loads = HeldLoads()
    hub = Hub(loads.load, PlainMessages(), INTERVAL, viewers_interval=INTERVAL)
    unchecked = frozenset[int]()  # visibility depends on votes, and nobody signed in is checked
    first, first_task = await watch(hub)
    await loads.answer(snapshot(0, "v1", unchecked))
    hub.changed(1, 1)
    in_flight = await loads.next_call()  # the change's load, still running
    joining, joining_task = await watch(hub, user_id=7)  # not covered: loads for itself
    await loads.answer(snapshot(2, "v3", unchecked))
    assert results(joining) == ["results:2"]
    in_flight.set_result(snapshot(1, "v2", unchecked))  # the older load lands last
    await settle()
    assert results(first) == ["results:0", "results:1"] and polls(first) == ["poll:v2"]
    assert results(joining) == ["results:2"]
    assert polls(joining) == []
    await stop(first_task)
    await stop(joining_task)


async def test_a_notice_older_than_the_snapshot_does_not_reload(hub: Hub, source: Source) -> None:
    received, task = await watch(hub)
    source.seq = 2
    hub.changed(1, 2)
    await until(lambda: results(received)[-1] == "results:2", "seq 2 delivered")
    loads = source.loads
    hub.changed(1, 1)  # a notice that arrives late, after the change it follows
    hub.changed(1, 2)  # and one for the change already delivered
    await asyncio.sleep(INTERVAL * 2)
    assert source.loads == loads
    await stop(task)


# --- straight to the socket: a viewer with a sink --------------------------------------------


class FakeSink:
    """A socket that takes messages while `open_` and keeps what it took, in order."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.open_ = True

    def try_send(self, message: str) -> bool:
        if self.open_:
            self.sent.append(message)
        return self.open_


async def test_after_the_first_snapshot_a_sink_that_keeps_up_takes_every_message(
    hub: Hub, source: Source
) -> None:
    sink = FakeSink()
    received, task = await watch(hub, sink=sink)
    await asyncio.sleep(INTERVAL * 2)
    source.seq = 1
    hub.changed(1, 1)
    await asyncio.sleep(INTERVAL)
    # The first snapshot goes through the viewer's task (so it is surely the first message);
    # everything after it straight to the socket.
    assert received == [("results", "results:0")]
    assert [m for m in sink.sent if m.startswith("results")] == ["results:1"]
    assert "1" in sink.sent  # the viewer count went the same way
    await stop(task)


async def test_a_new_viewers_first_message_is_its_results_even_while_its_load_is_slow(
    source: Source,
) -> None:
    """A signed-in viewer the snapshot has not checked waits for a load of its own; the
    viewer count that goes out meanwhile must not reach it before its results."""

    async def slow_load(poll_id: int, user_ids: frozenset[int]) -> Snapshot | None:
        await asyncio.sleep(INTERVAL * 3)
        snapshot = await source.load(poll_id, user_ids)
        assert snapshot is not None
        return dataclasses.replace(snapshot, checked=frozenset())  # covers nobody signed in

    hub = Hub(slow_load, PlainMessages(), INTERVAL, viewers_interval=INTERVAL)

    def watch_into(sink: FakeSink, user_id: int | None) -> asyncio.Task:
        async def send_queued() -> None:  # what the route does with queued messages
            async for _, message in hub.subscribe(1, user_id, "json", sink):
                sink.sent.append(str(message))

        return asyncio.create_task(send_queued())

    first, second = FakeSink(), FakeSink()
    tasks = [watch_into(first, None)]
    async with asyncio.timeout(2):
        while "1" not in first.sent:  # noqa: ASYNC110 (the first count: the flusher runs)
            await asyncio.sleep(0.001)
    tasks.append(watch_into(second, 7))
    await asyncio.sleep(INTERVAL * 5)
    assert second.sent[0] == "results:0", second.sent
    assert "2" in second.sent  # the count did go out meanwhile, after the results
    for task in tasks:
        await stop(task)


async def test_what_a_full_sink_refuses_goes_through_the_viewers_queue(
    hub: Hub, source: Source
) -> None:
    sink = FakeSink()
    received, task = await watch(hub, sink=sink)
    await asyncio.sleep(INTERVAL * 2)
    sink.open_ = False  # the socket's buffer is full: updates must wait
    for seq in (1, 2, 3):
        source.seq = seq
        hub.changed(1, seq)
        await asyncio.sleep(INTERVAL * 1.5)
    # The viewer's task got them instead (it sends each and waits for the socket to drain).
    assert results(received) == ["results:0", "results:1", "results:2", "results:3"]
    assert not [m for m in sink.sent if m.startswith("results")]
    sink.open_ = True
    source.seq = 4
    hub.changed(1, 4)
    await asyncio.sleep(INTERVAL * 1.5)
    # Nothing was queued any more, so the next update went straight to the socket.
    assert sink.sent[-1] == "results:4"
    assert results(received)[-1] == "results:3"
    await stop(task)


async def test_while_something_is_queued_newer_messages_queue_behind_it(
    hub: Hub, source: Source
) -> None:
    sink = FakeSink()
    stream = hub.subscribe(1, None, "json", sink)
    assert await asyncio.wait_for(anext(stream), 1) == ("results", "results:0")
    pending = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(INTERVAL * 2)  # the viewer count goes straight to the socket
    assert sink.sent == ["1"]
    sink.open_ = False
    source.version = "v2"  # a poll edit: "poll" is queued, then "results" must not overtake it
    source.seq = 1
    hub.changed(1, 1)
    await asyncio.sleep(INTERVAL * 2)
    sink.open_ = True
    first = await asyncio.wait_for(pending, 1)
    second = await asyncio.wait_for(anext(stream), 1)
    assert (first, second) == (("poll", "poll:v2"), ("results", "results:1"))
    assert "results:1" not in sink.sent
    await stream.aclose()


async def test_close_never_goes_to_the_sink(hub: Hub, source: Source) -> None:
    sink = FakeSink()
    received, task = await watch(hub, sink=sink)
    await hub.close_all(1012)
    await asyncio.wait_for(task, 1)
    assert received[-1] == ("close", 1012)
    assert all(isinstance(message, str) for message in sink.sent)


class BeatingMessages(PlainMessages):
    def __init__(self) -> None:
        self.beats = 0

    def heartbeat(self, fmt: Format, interval_s: float) -> str:
        self.beats += 1
        return f"beat:{fmt}:{interval_s}"


async def test_heartbeats_reach_every_viewer_after_its_snapshot_until_stopped(
    source: Source,
) -> None:
    messages = BeatingMessages()
    hub = Hub(source.load, messages, INTERVAL, viewers_interval=INTERVAL)
    first, first_task = await watch(hub, poll_id=1)
    other, other_task = await watch(hub, poll_id=2, user_id=7)
    hub.start_heartbeats(0.05)
    hub.start_heartbeats(0.05)  # a second start changes nothing
    try:
        for received in (first, other):
            await until(lambda r=received: ("heartbeat", "beat:json:0.05") in r, "a heartbeat")
            kinds = [kind for kind, _ in received]
            assert kinds.index("results") < kinds.index("heartbeat")
            await until(lambda r=received: r.count(("heartbeat", "beat:json:0.05")) >= 3, "more")
        assert hub.heartbeating
    finally:
        await hub.stop_heartbeats()
    assert not hub.heartbeating
    await stop(first_task)
    await stop(other_task)


async def test_no_heartbeats_with_an_interval_of_zero(source: Source) -> None:
    messages = BeatingMessages()
    hub = Hub(source.load, messages, INTERVAL, viewers_interval=INTERVAL)
    received, task = await watch(hub)
    hub.start_heartbeats(0)
    assert not hub.heartbeating
    await stop(task)


async def test_a_change_whose_load_fails_is_loaded_again_until_it_reaches_the_viewers(
    hub: Hub, source: Source, caplog: pytest.LogCaptureFixture
) -> None:
    """The database refuses three loads in a row: the viewer keeps what it has, the hub
    tries again (logging the first failure only) and the change reaches it with no other
    change to prompt it; reads meanwhile do not take the held snapshot as current."""
    received, task = await watch(hub)
    source.seq, source.failing = 1, 3
    with caplog.at_level(logging.INFO, logger="webapp.live.hub"):
        hub.changed(1, 1)
        await until(lambda: source.failing == 0, "three loads fail")
        assert hub.current(1) is None
        await until(lambda: results(received)[-1:] == ["results:1"], "the change arrives")
    assert results(received) == ["results:0", "results:1"]
    held = hub.current(1)
    assert held is not None and held.seq == 1
    retrying = [r for r in caplog.records if "could not load poll 1" in r.getMessage()]
    assert len(retrying) == 1 and any("again" in r.getMessage() for r in caplog.records)
    await stop(task)


async def test_a_failed_load_after_an_unknown_change_does_not_say_the_poll_is_deleted(
    hub: Hub, source: Source
) -> None:
    """A change of unknown seq drops the held snapshot; if its load then fails, the viewers
    are not told the poll is gone (it is not): the load is retried."""
    received, task = await watch(hub)
    source.seq, source.failing = 2, 1
    hub.changed(1, None)
    await until(lambda: results(received)[-1:] == ["results:2"], "the change arrives")
    assert not [kind for kind, _ in received if kind in ("deleted", "close")]
    assert not task.done()
    await stop(task)


async def test_viewer_counts_still_go_out_while_loads_fail(hub: Hub, source: Source) -> None:
    first, first_task = await watch(hub)
    second, second_task = await watch(hub)
    await until(lambda: ("viewers", "2") in first, "both counted")
    source.seq, source.failing = 1, 1_000_000  # down for the rest of the test
    hub.changed(1, 1)
    await until(lambda: source.loads >= 4, "loads fail")
    await stop(second_task)
    await until(lambda: first[-1:] == [("viewers", "1")], "the count moves anyway")
    assert results(first) == ["results:0"]  # nothing stale or invented meanwhile
    await stop(first_task)


def test_the_wait_between_failed_loads_doubles_to_a_cap_whatever_the_interval() -> None:
    """From RETRY_MIN_S even with an interval of 0 (no tight loop on a database that is
    down), doubling, then RETRY_MAX_S however long the outage lasts (no overflow)."""
    for interval in (0.0, INTERVAL):
        hub = Hub(Source().load, PlainMessages(), interval)
        channel = PollChannel()
        waits = [hub._retry_later(1, channel) for _ in range(5000)]
        assert waits[0] == 2 * max(RETRY_MIN_S, interval)
        assert waits[1] == 2 * waits[0] and waits == sorted(waits)
        assert waits[-1] == RETRY_MAX_S
