"""Fan-out across processes: PostgreSQL NOTIFY after commit, one LISTEN connection per process.

A notice carries only "poll_id:seq" (seq empty when the poll was deleted); every process then
reloads the poll itself. NOTIFY serialises commits database-wide, so each process sends at most
one per poll per interval: the first at once, then one trailing notice for the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Coroutine
from typing import Any

import asyncpg

from webapp.live.hub import Hub
from webapp.tables import Poll

log = logging.getLogger(__name__)

CHANNEL = "livepolls"


def encode(poll_id: int, seq: int | None) -> str:
    return f"{poll_id}:{'' if seq is None else seq}"


def decode(payload: str) -> tuple[int, int | None] | None:
    poll_id, _, seq = payload.partition(":")
    try:
        return int(poll_id), int(seq) if seq else None
    except ValueError:
        return None


class PostgresFeed:
    def __init__(
        self,
        dsn: str,
        hub: Hub,
        interval: float,
        check_every: float = 5.0,
        check_timeout: float = 2.0,
    ) -> None:
        self._dsn = dsn
        self._hub = hub
        self._interval = interval
        self._check_every = check_every
        self._check_timeout = check_timeout
        # poll id -> the newest seq waiting for the cool-down to end (None: nothing waiting).
        self._cooling: dict[int, int | None] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._listener: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    async def start(self) -> None:
        self._listener = asyncio.create_task(self._listen_forever())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.connected.wait(), 5)

    async def stop(self) -> None:
        for task in [self._listener, *self._tasks]:
            if task is not None:
                task.cancel()
        for task in [self._listener, *self._tasks]:
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def announce(self, poll_id: int, seq: int | None) -> None:
        """Tell the other processes about a committed change, coalesced per poll."""
        if seq is None:
            self._spawn(self._notify(poll_id, None))
            return
        if poll_id in self._cooling:
            waiting = self._cooling[poll_id]
            self._cooling[poll_id] = seq if waiting is None else max(waiting, seq)
            return
        self._cooling[poll_id] = None
        self._spawn(self._notify_then_cool(poll_id, seq))

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _notify_then_cool(self, poll_id: int, seq: int) -> None:
        try:
            while True:
                await self._notify(poll_id, seq)
                await asyncio.sleep(self._interval)
                waiting = self._cooling.get(poll_id)
                if waiting is None:
                    return
                seq = waiting
                self._cooling[poll_id] = None
        finally:
            self._cooling.pop(poll_id, None)

    async def _notify(self, poll_id: int, seq: int | None) -> None:
        try:
            await Poll.raw("SELECT pg_notify({}, {})", CHANNEL, encode(poll_id, seq))
        except Exception:
            log.exception("NOTIFY for poll %s failed", poll_id)

    def _on_notice(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        decoded = decode(payload)
        if decoded is not None:
            self._hub.changed(*decoded)

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
                self.connected.set()
                backoff = 0.1
                if not first:
                    # Notices sent while we were away are lost: reload what viewers watch.
                    self._hub.refresh_all()
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
