"""The in-process broadcast hub: per-poll viewers, coalesced snapshots, latest-only mailboxes.

Every message is a full snapshot, so a viewer that falls behind needs only the newest one of
each type: a slow client never delays the others and never grows memory. A change on a quiet
poll goes out at once; under a burst, viewers get at most one update per interval, and the
final state always follows the last change. Messages are built once per change, per format
(JSON or the HTML partial) and per visibility, and shared by every viewer they fit.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from webapp import metrics

log = logging.getLogger(__name__)

Format = Literal["json", "html"]
FORMATS: tuple[Format, ...] = ("json", "html")
CLOSE = "close"
# Viewers served between two yields to the event loop while an update goes out.
BATCH = 500
HEARTBEAT = "heartbeat"
HEARTBEAT_TICK = 0.1  # seconds between two slices of a round of heartbeats
# A poll read over HTTP keeps a snapshot here this long after its last read, for at most
# this many polls at once (webapp/live/__init__.py answers reads from it).
READ_TTL_S = 10.0
MAX_READ_CHANNELS = 1000
# The waits between two attempts to load a poll whose load failed (the database down).
RETRY_MIN_S = 0.05
RETRY_MAX_S = 5.0
# The order a viewer's pending messages go out in: the poll's text before the counts it
# labels, a heartbeat last (any message already proves the connection is alive).
KINDS = ("poll", "results", "viewers", "deleted", HEARTBEAT)


@dataclass(frozen=True)
class Snapshot:
    """What a poll's viewers should hold now."""

    seq: int
    poll_version: str
    results: Mapping[tuple[Format, bool], str]  # (format, visible) -> message
    poll: Mapping[Format, str]
    can_see: Callable[[int | None], bool]  # viewer's user id -> may see the counts
    # Users whose votes can_see was told about; None when visibility does not depend on votes.
    checked: frozenset[int] | None = None
    # The poll as the API shows it, by whether the counts are visible (webapp.polls.PollView).
    views: Mapping[bool, object] = field(default_factory=dict)

    def covers(self, user_id: int | None) -> bool:
        return self.checked is None or user_id is None or user_id in self.checked


# (poll id, user ids of the signed-in viewers) -> snapshot, or None when the poll is gone.
SnapshotLoader = Callable[[int, frozenset[int]], Awaitable[Snapshot | None]]


class Messages:
    """The messages that do not come from a snapshot; one instance per format set."""

    def viewers(self, fmt: Format, count: int) -> str:
        raise NotImplementedError

    def deleted(self, fmt: Format) -> str:
        raise NotImplementedError

    def heartbeat(self, fmt: Format, interval_s: float) -> str:
        raise NotImplementedError


class Sink(Protocol):
    """Writes a message straight to the viewer's socket (webapp/live/frames.py)."""

    def try_send(self, message: str) -> bool: ...


class Viewer:
    """One connection's mailbox: the latest message of each type, never a backlog.

    With a sink, a message goes straight to the socket while the socket keeps up and nothing
    is queued before it; otherwise it waits here for the viewer's own task to send it.
    """

    __slots__ = ("poll_id", "user_id", "fmt", "pending", "waiter", "seq", "sink", "__weakref__")

    def __init__(
        self, poll_id: int, user_id: int | None, fmt: Format, sink: Sink | None = None
    ) -> None:
        self.poll_id = poll_id
        self.user_id = user_id
        self.fmt: Format = fmt
        self.pending: dict[str, str | int] = {}
        # A future only while the viewer's task waits for a message: an idle viewer holds no
        # asyncio.Event (its waiter list and loop reference) between updates.
        self.waiter: asyncio.Future[None] | None = None
        self.seq = -1
        self.sink = sink

    def offer(self, kind: str, message: str | int) -> None:
        sink = self.sink
        # Straight to the socket only once the first snapshot went out through the queue, so
        # a new viewer's first message is always its results.
        if (
            sink is not None
            and self.seq >= 0
            and not self.pending
            and kind != CLOSE
            and sink.try_send(str(message))
        ):
            return
        self.pending[kind] = message
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


@dataclass
class PollChannel:
    viewers: set[Viewer] = field(default_factory=set)
    snapshot: Snapshot | None = None
    results_dirty: bool = False
    viewers_dirty: bool = False
    viewers_sent_at: float = float("-inf")
    flusher: asyncio.Task[None] | None = None
    changed_at: float | None = None  # when the change awaiting delivery reached us
    # Changes heard of, and how many of them the snapshot reflects (its load began after
    # them): the snapshot is the poll's current state while the two are equal.
    changes: int = 0
    reflected: int = 0
    read_until: float = float("-inf")  # kept for reads until then (event loop time)
    failed_loads: int = 0  # in a row: the database refused the last ones

    def user_ids(self) -> frozenset[int]:
        return frozenset(v.user_id for v in self.viewers if v.user_id is not None)


async def _each(channel: PollChannel, action: Callable[[Viewer], None]) -> None:
    """Act on every viewer of the channel, yielding to the event loop every BATCH viewers so
    that requests (a vote's response among them) run between batches."""
    for i, viewer in enumerate(list(channel.viewers), 1):
        action(viewer)
        if i % BATCH == 0:
            await asyncio.sleep(0)


class Hub:
    def __init__(
        self,
        load: SnapshotLoader,
        messages: Messages,
        interval: float,
        viewers_interval: float = 1.0,
    ) -> None:
        self._load = load
        self._messages = messages
        self._interval = interval
        # Viewer counts go out less often than results: while a crowd joins, every join
        # would otherwise cost a message to every viewer at each interval.
        self._viewers_interval = viewers_interval
        self._channels: dict[int, PollChannel] = {}
        self._closing: int | None = None
        self._heartbeats: asyncio.Task[None] | None = None
        self._heartbeat_s = 0.0  # while heartbeats go out: their interval
        self._reading: set[int] = set()  # polls kept for reads

    def current(self, poll_id: int) -> Snapshot | None:
        """The snapshot of a watched poll when it reflects every change this process has
        heard of (a change committed through another process counts once its notice came);
        None when nobody watches it here or a reload is due."""
        channel = self._channels.get(poll_id)
        if channel is None or channel.snapshot is None or channel.reflected != channel.changes:
            return None
        return channel.snapshot

    def keep_for_reads(self, poll_id: int) -> None:
        """Hold the poll's snapshot for a while, kept current like a watched poll's, so
        that the next reads need no database (a poller's, or a crowd's loading the page)."""
        loop = asyncio.get_running_loop()
        channel = self._channels.get(poll_id)
        if channel is None:
            if len(self._reading) >= MAX_READ_CHANNELS or self._closing is not None:
                return
            channel = self._channels[poll_id] = PollChannel(results_dirty=True)
            self._schedule(poll_id, channel)
        channel.read_until = loop.time() + READ_TTL_S
        if poll_id not in self._reading:
            self._reading.add(poll_id)
            loop.call_later(READ_TTL_S, self._reads_end, poll_id, context=contextvars.Context())

    def _reads_end(self, poll_id: int) -> None:
        channel = self._channels.get(poll_id)
        left = channel.read_until - asyncio.get_running_loop().time() if channel else 0
        if channel is not None and left > 0:
            asyncio.get_running_loop().call_later(
                left, self._reads_end, poll_id, context=contextvars.Context()
            )
            return
        self._reading.discard(poll_id)
        if channel is not None:
            self._drop_if_idle(poll_id, channel)

    def _drop_if_idle(self, poll_id: int, channel: PollChannel) -> None:
        """Forget a channel nobody watches, no flush runs for and no reads keep."""
        if (
            not channel.viewers
            and channel.flusher is None
            and poll_id not in self._reading
            and self._channels.get(poll_id) is channel
        ):
            del self._channels[poll_id]

    def viewer_count(self, poll_id: int) -> int:
        channel = self._channels.get(poll_id)
        return len(channel.viewers) if channel else 0

    async def subscribe(
        self,
        poll_id: int,
        user_id: int | None = None,
        fmt: Format = "json",
        sink: Sink | None = None,
    ) -> AsyncGenerator[tuple[str, str | int], None]:
        """Register a viewer and yield (kind, message); the last may be ("close", code).

        With a sink, only what the sink could not take at once is yielded: the consumer must
        send each yielded message before it next awaits anything, or a newer message sent
        straight to the socket meanwhile could be overtaken by the older one.
        """
        if self._closing is not None:
            yield CLOSE, self._closing
            return
        viewer = Viewer(poll_id, user_id, fmt, sink)
        channel = self._channels.setdefault(poll_id, PollChannel())
        channel.viewers.add(viewer)
        channel.viewers_dirty = True
        metrics.VIEWERS.inc()
        try:
            snapshot = channel.snapshot
            heard = channel.changes
            # Load afresh when a reload is pending: the cache may predate the latest change.
            # Or when the last load failed and the snapshot misses a change heard of.
            missed = channel.failed_loads > 0 and channel.reflected != channel.changes
            stale = channel.results_dirty or missed
            if snapshot is None or stale or not snapshot.covers(user_id):
                snapshot = await self._load(poll_id, channel.user_ids())
            if snapshot is None:  # deleted since the connection was checked
                viewer.offer("deleted", self._messages.deleted(fmt))
                viewer.offer(CLOSE, 1000)
            else:
                # Only the first load becomes the channel's snapshot, or one of the same state
                # that knows more viewers' votes: replacing it with a newer state here would
                # hide a pending change of the poll from the flush that tells everyone else.
                held = channel.snapshot
                if held is None or (
                    snapshot.seq == held.seq
                    and snapshot.poll_version == held.poll_version
                    and channel.changes == heard
                    and (held.checked or frozenset()) <= (snapshot.checked or frozenset())
                ):
                    channel.snapshot = snapshot
                    channel.reflected = heard
                self._deliver_to(viewer, snapshot, poll_changed=False)
                if self._heartbeat_s > 0:
                    # At once, not at the next round: the snapshot may be held from long ago,
                    # and a page sets its clock by the server_time of what it last received
                    # (a countdown must not be minutes off for whoever joins late).
                    beat = self._messages.heartbeat(fmt, self._heartbeat_s)
                    viewer.offer(HEARTBEAT, beat)
            self._schedule(poll_id, channel)
            while True:
                if not viewer.pending:
                    # Awaited here rather than in a method of the viewer: one coroutine frame
                    # fewer held by every idle viewer.
                    viewer.waiter = asyncio.get_running_loop().create_future()
                    try:
                        await viewer.waiter
                    finally:
                        viewer.waiter = None
                for kind in (*KINDS, CLOSE):
                    message = viewer.pending.pop(kind, None)
                    if message is not None:
                        yield kind, message
                        if kind == CLOSE:
                            return
        finally:
            metrics.VIEWERS.dec()
            channel.viewers.discard(viewer)
            if channel.viewers:
                channel.viewers_dirty = True
                self._schedule(poll_id, channel)
            else:
                self._drop_if_idle(poll_id, channel)

    def changed(self, poll_id: int, seq: int | None = None) -> None:
        """A committed change (seq None: unknown). Polls nobody watches cost nothing."""
        channel = self._channels.get(poll_id)
        if channel is None:
            return
        if seq is not None and channel.snapshot is not None and channel.snapshot.seq >= seq:
            return
        if seq is None:
            # Not a step from the held state (a deletion, a new poll under an id that came
            # round again, a change from elsewhere): the next load replaces what is held,
            # even at a lower seq.
            channel.snapshot = None
        if channel.changed_at is None:
            channel.changed_at = time.perf_counter()
        channel.changes += 1
        channel.results_dirty = True
        self._schedule(poll_id, channel)

    def refresh_all(self) -> None:
        """Reload every watched poll (after the change feed may have missed something)."""
        for poll_id in list(self._channels):
            self.changed(poll_id)

    async def close_all(self, code: int) -> None:
        """Tell every viewer to close with this code (shutdown); new viewers are refused."""
        self._closing = code
        for channel in self._channels.values():
            for viewer in channel.viewers:
                viewer.offer(CLOSE, code)

    def start_heartbeats(self, interval_s: float) -> None:
        """Send every viewer a heartbeat every `interval_s` seconds (0: never), from one task
        started with the app: browsers hide WebSocket pings from pages, so this is how a page
        tells a connection that silently stopped carrying packets from a quiet poll."""
        if self._heartbeats is None and interval_s > 0:
            self._heartbeat_s = interval_s
            self._heartbeats = asyncio.create_task(
                self._beat(interval_s), context=contextvars.Context()
            )

    @property
    def heartbeating(self) -> bool:
        return self._heartbeats is not None and not self._heartbeats.done()

    async def stop_heartbeats(self) -> None:
        task, self._heartbeats = self._heartbeats, None
        self._heartbeat_s = 0.0
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _beat(self, interval_s: float) -> None:
        # A round is spread over the interval, a slice every HEARTBEAT_TICK, so thousands of
        # viewers never cost one burst; held weakly meanwhile, so a viewer that leaves during
        # the round is not kept (its connection with it) until the round ends.
        slices = max(1, round(interval_s / HEARTBEAT_TICK))
        while True:
            viewers = [
                weakref.ref(viewer)
                for channel in self._channels.values()
                for viewer in channel.viewers
            ]
            for i in range(slices):
                # Built per slice: each carries the server's time as it goes out.
                messages = {fmt: self._messages.heartbeat(fmt, interval_s) for fmt in FORMATS}
                for ref in viewers[i::slices]:
                    viewer = ref()
                    if viewer is not None and viewer.seq >= 0:
                        viewer.offer(HEARTBEAT, messages[viewer.fmt])
                await asyncio.sleep(interval_s / slices)

    def _schedule(self, poll_id: int, channel: PollChannel) -> None:
        if channel.flusher is None:
            # In a context of its own: a copy of the viewer's or request's that scheduled it
            # would keep that connection (its request context reaches all of it) alive for as
            # long as the poll keeps changing, long after that viewer left.
            channel.flusher = asyncio.create_task(
                self._flush(poll_id, channel), context=contextvars.Context()
            )

    async def _flush(self, poll_id: int, channel: PollChannel) -> None:
        try:
            while channel.results_dirty or channel.viewers_dirty:
                wait = self._interval
                if channel.results_dirty:
                    channel.results_dirty = False
                    heard = channel.changes
                    try:
                        snapshot = await self._load(poll_id, channel.user_ids())
                    except Exception:
                        if channel.failed_loads == 0:
                            log.exception("could not load poll %s for viewers: retrying", poll_id)
                        wait = self._retry_later(poll_id, channel)
                    else:
                        if channel.failed_loads:
                            log.info("loaded poll %s again for viewers", poll_id)
                            channel.failed_loads = 0
                        if snapshot is None:
                            self._delete(channel)
                            return
                        if await self._deliver(channel, snapshot):
                            channel.reflected = max(channel.reflected, heard)
                now = asyncio.get_running_loop().time()
                if (
                    channel.viewers_dirty
                    and now - channel.viewers_sent_at >= self._viewers_interval
                ):
                    channel.viewers_dirty = False
                    channel.viewers_sent_at = now
                    count = len(channel.viewers)
                    built: dict[Format, str] = {
                        fmt: self._messages.viewers(fmt, count) for fmt in FORMATS
                    }

                    def offer_count(viewer: Viewer, built: dict[Format, str] = built) -> None:
                        viewer.offer("viewers", built[viewer.fmt])

                    await _each(channel, offer_count)
                await asyncio.sleep(wait)
        finally:
            channel.flusher = None
            self._drop_if_idle(poll_id, channel)

    def _retry_later(self, poll_id: int, channel: PollChannel) -> float:
        """After a failed load: the change is still to be delivered, so load again (for as
        long as viewers or reads still want the poll) after the wait returned, which doubles
        with each failure in a row, from RETRY_MIN_S up to RETRY_MAX_S. Meanwhile they keep
        what they have (viewer counts still go out), and reads go to the database (the
        snapshot does not reflect every change heard of)."""
        channel.failed_loads += 1
        if channel.viewers or poll_id in self._reading:
            channel.results_dirty = True
        doubled = max(RETRY_MIN_S, self._interval) * 2 ** min(channel.failed_loads, 10)
        return float(min(RETRY_MAX_S, doubled))

    async def _deliver(self, channel: PollChannel, snapshot: Snapshot) -> bool:
        """Send a newer snapshot to every viewer; False when it was older than the one held."""
        previous = channel.snapshot
        if previous is not None and snapshot.seq < previous.seq:
            return False
        channel.snapshot = snapshot
        poll_changed = previous is None or previous.poll_version != snapshot.poll_version
        changed_at, channel.changed_at = channel.changed_at, None
        await _each(channel, lambda v: self._deliver_to(v, snapshot, poll_changed=poll_changed))
        # Once per delivery, not per viewer: a metric update costs a lock.
        metrics.UPDATES.inc(len(channel.viewers))
        if changed_at is not None and channel.viewers:
            metrics.FANOUT.observe(time.perf_counter() - changed_at)
        return True

    @staticmethod
    def _deliver_to(viewer: Viewer, snapshot: Snapshot, *, poll_changed: bool) -> None:
        if snapshot.seq < viewer.seq:
            return
        if poll_changed and viewer.seq >= 0:
            viewer.offer("poll", snapshot.poll[viewer.fmt])
        if snapshot.seq > viewer.seq:
            visible = snapshot.can_see(viewer.user_id)
            message = snapshot.results[(viewer.fmt, visible)]
            if viewer.seq < 0 and viewer.fmt == "html":
                # A page that reconnects may show a status line the poll has left meanwhile
                # (closed, reopened): its first message brings the current one too.
                message += snapshot.poll["html"]
            viewer.offer("results", message)
        viewer.seq = snapshot.seq

    def _delete(self, channel: PollChannel) -> None:
        channel.snapshot = None
        for viewer in channel.viewers:
            viewer.offer("deleted", self._messages.deleted(viewer.fmt))
            viewer.offer(CLOSE, 1000)
