"""Fan-out across processes: PostgreSQL NOTIFY after commit, one LISTEN connection per process.

A notice carries only "poll_id:seq" pairs, comma-separated (seq empty when the poll was
deleted), and "e<event_id>:seq" for events (#14), which a process that does not know events
skips as malformed; every process then reloads those polls and events itself. NOTIFY
serialises commits database-wide, so each process sends at most one notice per interval,
whatever the number of polls changing: the first at once, then one for everything that
changed meanwhile. A revocation notice names token digests ("t:...") or user ids ("u:...")
instead, for the processes' token caches (webapp/tokencache.py), and goes at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
from collections.abc import Callable, Mapping

import asyncpg

from webapp import metrics
from webapp.live.hub import Hub
from webapp.notices import Revoked
from webapp.tables import Poll

log = logging.getLogger(__name__)

CHANNEL = "livepolls"


# PostgreSQL's limit is 8,000 bytes per payload; longer batches go as several notices.
MAX_PAYLOAD = 7_900


def encode(changes: Mapping[int, int | None], prefix: str = "") -> list[str]:
    """Payloads for these changes, each under MAX_PAYLOAD (prefix "e": of events)."""
    payloads: list[str] = []
    current: list[str] = []
    size = 0
    for poll_id, seq in changes.items():
        item = f"{prefix}{poll_id}:{'' if seq is None else seq}"
        if current and size + len(item) + 1 > MAX_PAYLOAD:
            payloads.append(",".join(current))
            current, size = [], 0
        current.append(item)
        size += len(item) + 1
    if current:
        payloads.append(",".join(current))
    return payloads


def decode(payload: str) -> list[tuple[int, int | None]]:
    """The (poll_id, seq) pairs of a payload; malformed items are skipped."""
    changes: list[tuple[int, int | None]] = []
    for item in payload.split(","):
        poll_id, _, seq = item.partition(":")
        try:
            changes.append((int(poll_id), int(seq) if seq else None))
        except ValueError:
            continue
    return changes


def decode_events(payload: str) -> list[tuple[int, int | None]]:
    """The (event_id, seq) pairs of a payload: its "e"-prefixed items."""
    return decode(",".join(item[1:] for item in payload.split(",") if item.startswith("e")))


def encode_revoked(what: Revoked) -> list[str]:
    """Payloads naming revoked tokens ("t:<digest>") and users ("u:<id>"), which a poll
    notice's reader skips (neither is a poll id)."""
    items = [f"t:{digest}" for digest in what.digests] + [f"u:{uid}" for uid in what.user_ids]
    payloads: list[str] = []
    current: list[str] = []
    for item in items:
        if current and len(",".join([*current, item])) > MAX_PAYLOAD:
            payloads.append(",".join(current))
            current = []
        current.append(item)
    if current:
        payloads.append(",".join(current))
    return payloads


def decode_revoked(payload: str) -> Revoked:
    digests: list[str] = []
    user_ids: list[int] = []
    for item in payload.split(","):
        kind, _, value = item.partition(":")
        if kind == "t" and value:
            digests.append(value)
        elif kind == "u" and value.isdigit():
            user_ids.append(int(value))
    return Revoked(tuple(digests), tuple(user_ids))


def _merge(waiting: int | None, seq: int | None, known: bool) -> int | None:
    """A deletion (None) wins; otherwise the newest seq."""
    if seq is None or (known and waiting is None):
        return None
    return seq if waiting is None else max(waiting, seq)


class PostgresFeed:
    def __init__(
        self,
        dsn: str,
        hub: Hub,
        interval: float,
        check_every: float = 5.0,
        check_timeout: float = 2.0,
        on_revoked: Callable[[Revoked], None] = lambda _what: None,
        on_connected: Callable[[], None] = lambda: None,
        events: Hub | None = None,
    ) -> None:
        self._dsn = dsn
        self._hub = hub
        self._events = events
        self._on_revoked = on_revoked
        self._on_connected = on_connected
        self._revocations: set[asyncio.Task[None]] = set()
        self._interval = interval
        self._check_every = check_every
        self._check_timeout = check_timeout
        # poll id -> its newest seq (None: deleted), waiting for the next notice.
        self._waiting: dict[int, int | None] = {}
        self._waiting_events: dict[int, int | None] = {}  # the same, for events
        self._sender: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    async def start(self) -> None:
        self._listener = asyncio.create_task(self._listen_forever())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.connected.wait(), 5)

    async def stop(self) -> None:
        for task in [self._listener, self._sender, *self._revocations]:
            if task is not None:
                task.cancel()
        for task in [self._listener, self._sender, *self._revocations]:
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def announce(self, poll_id: int, seq: int | None) -> None:
        """Tell the other processes about a committed change, batched per interval."""
        known = poll_id in self._waiting
        self._waiting[poll_id] = _merge(self._waiting.get(poll_id), seq, known)
        if self._sender is None:
            # Not in the context of the request that changed the poll (see Hub._schedule).
            self._sender = asyncio.create_task(self._send(), context=contextvars.Context())

    def announce_event(self, event_id: int, seq: int | None) -> None:
        """The same for an event: batched with the polls' changes, in the same notices."""
        known = event_id in self._waiting_events
        self._waiting_events[event_id] = _merge(self._waiting_events.get(event_id), seq, known)
        if self._sender is None:
            self._sender = asyncio.create_task(self._send(), context=contextvars.Context())

    def revoke(self, what: Revoked) -> None:
        """Tell the other processes about committed revocations, at once (not batched)."""
        task = asyncio.create_task(self._send_revoked(what), context=contextvars.Context())
        self._revocations.add(task)
        task.add_done_callback(self._revocations.discard)

    async def _send_revoked(self, what: Revoked) -> None:
        for payload in encode_revoked(what):
            await self._notify(payload)

    async def _send(self) -> None:
        try:
            while self._waiting or self._waiting_events:
                changes, self._waiting = self._waiting, {}
                event_changes, self._waiting_events = self._waiting_events, {}
                for payload in [*encode(changes), *encode(event_changes, "e")]:
                    await self._notify(payload)
                await asyncio.sleep(self._interval)
        finally:
            self._sender = None

    async def _notify(self, payload: str) -> None:
        try:
            await Poll.raw("SELECT pg_notify({}, {})", CHANNEL, payload)
        except Exception:
            log.exception("NOTIFY failed: %s", payload[:80])
        else:
            metrics.NOTIFY_SENT.inc()

    def _on_notice(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        metrics.NOTIFY_RECEIVED.inc()
        if payload.startswith(("t:", "u:")):
            self._on_revoked(decode_revoked(payload))
            return
        for poll_id, seq in decode(payload):
            self._hub.changed(poll_id, seq)
        if self._events is not None and "e" in payload:
            for event_id, seq in decode_events(payload):
                self._events.changed(event_id, seq)

    async def _listen_forever(self) -> None:
        backoff = 0.1
        first = True
        while True:
            lost = asyncio.Event()
            try:
                conn = await asyncpg.connect(
                    self._dsn,
                    timeout=5,
                    # Named per process, so operators (and tests) can tell listeners apart.
                    server_settings={"application_name": f"livepolls-listen-{os.getpid()}"},
                )
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                log.warning("LISTEN connection failed (%s); retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            try:
                conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._on_notice)
                # Revocations sent while we could not hear them are lost: start afresh.
                self._on_connected()
                self.connected.set()
                backoff = 0.1
                if not first:
                    # Notices sent while we were away are lost: reload what viewers watch.
                    self._hub.refresh_all()
                    if self._events is not None:
                        self._events.refresh_all()
                first = False
                await self._watch(conn, lost)
            finally:
                self.connected.clear()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), 1)
            log.warning("LISTEN connection lost; reconnecting")

    async def _watch(self, conn: asyncpg.Connection, lost: asyncio.Event) -> None:
        """Return when the connection dies: its termination callback or a failed check."""
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), self._check_every)
                return
            try:
                await asyncio.wait_for(conn.fetchval("SELECT 1"), self._check_timeout)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                return
