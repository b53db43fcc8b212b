"""Viewers who leave leave nothing behind: no reference cycles, no task that holds them.

The app runs under Hypercorn in this process, with our patches (webapp/hypercorn_patches/),
so that the server's own objects can be looked at. While viewers leave, the cyclic garbage
collector is off; then a collection with DEBUG_SAVEALL shows what only it could have freed:
no object of a closed connection may be among it. A connection caught in a reference cycle
stays in memory until one of the collector's full collections, which a busy server runs
rarely (webapp/server.py raises its thresholds): that was the memory "not given back after
viewers leave" (docs/benchmarks.md, "Viewer churn"). (A few closed connections may still be
reachable for a while without being in a cycle: asyncpg's timers, armed by a viewer's query,
keep that task's context until they fire. That is bounded by the pool, not a leak.)
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import json
import socket
import time
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

from hypercorn.asyncio.run import worker_serve
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.protocol.h11 import H11Protocol
from hypercorn.protocol.ws_stream import WSStream
from hypercorn.utils import wrap_app
from quart import Quart
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import MakeMember, MakePoll
from webapp import hypercorn_patches
from webapp.live.frames import FrameSink, Pinger
from webapp.live.hub import Format, Hub, Messages, Snapshot, Viewer
from webapp.server import make_config

# Per-connection objects of the server: none may outlive its connection.
SERVER_TYPES = (TCPServer, H11Protocol, WSStream, FrameSink)
# The tasks a viewer's connection runs (Hypercorn's, Quart's, the live route's).
TASK_NAMES = ("_server_callback", "_handle", "handle_websocket", "handle_messages", "_read_until")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _without_lifespan(app: Quart) -> Callable[..., Any]:
    """The app for Hypercorn, minus start-up and shut-down: the fixture already started it."""

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await app(cast(Any, scope), receive, send)

    return asgi


@contextlib.asynccontextmanager
async def served(app: Quart) -> AsyncIterator[str]:
    hypercorn_patches.apply()
    port = _free_port()
    config = make_config("127.0.0.1", port)
    config.errorlog = None
    stop = asyncio.Event()
    server = asyncio.create_task(
        worker_serve(
            wrap_app(_without_lifespan(app), config.wsgi_max_body_size, "asgi"),
            config,
            shutdown_trigger=stop.wait,
        )
    )
    try:
        await until(lambda: _listening(port), "the server listens")
        yield f"ws://127.0.0.1:{port}"
    finally:
        stop.set()
        await asyncio.wait_for(server, 15)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def until(check: Callable[[], bool], what: str, within: float = 15.0) -> None:
    """Wait for a condition, with a deadline (a failure names what never happened)."""
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"never happened: {what}"
        await asyncio.sleep(0.05)


async def first_results(ws: ClientConnection) -> None:
    while json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] != "results":
        pass


def _connection_object(o: object) -> str | None:
    """The type's name if `o` belongs to a viewer's connection (exact types: a dead weak
    proxy among the objects would raise on isinstance)."""
    kind = type(o)
    if kind in SERVER_TYPES or kind is Viewer:
        return kind.__qualname__
    if kind is asyncio.Task:
        coro = o.get_coro()  # type: ignore[attr-defined]
        if getattr(coro, "__qualname__", "").endswith(TASK_NAMES):
            return f"Task {coro.__qualname__}"
    return None


def connection_objects() -> list[weakref.ref[Any]]:
    found: list[weakref.ref[Any]] = [
        weakref.ref(o) for o in gc.get_objects() if type(o) in SERVER_TYPES
    ]
    for task in asyncio.all_tasks():
        if task.get_coro().__qualname__.endswith(TASK_NAMES):  # type: ignore[union-attr]
            found.append(weakref.ref(task))
    return found


def alive(refs: list[weakref.ref[Any]]) -> list[str]:
    return sorted(type(o).__qualname__ for ref in refs if (o := ref()) is not None)


def viewers_left() -> int:
    return sum(type(o) is Viewer for o in gc.get_objects())


async def test_closed_viewers_leave_nothing_for_the_garbage_collector(
    app: Quart, make_member: MakeMember, make_poll: MakePoll
) -> None:
    poll = await make_poll(await make_member())
    hub = app.extensions["live"].hub
    async with served(app) as base:
        url = f"{base}/api/v1/polls/{poll['id']}/live"
        # Both ways of leaving: a closing handshake, and a connection that just drops (and
        # permessage-deflate offered or not, as browsers do or do not).
        viewers = [
            await connect(url, compression="deflate" if n % 2 else None, ping_interval=None)
            for n in range(12)
        ]
        for ws in viewers:
            await first_results(ws)
        count = len(viewers)
        await until(lambda: hub.viewer_count(poll["id"]) == count, "all viewers counted")
        refs = connection_objects()
        assert sum(isinstance(ref(), FrameSink) for ref in refs) == count, alive(refs)
        tasks = [ref for ref in refs if isinstance(ref(), asyncio.Task)]
        gc.collect()
        gc.disable()
        try:
            for n, ws in enumerate(viewers):
                if n % 3 == 0:
                    ws.transport.abort()
                else:
                    await ws.close()
            del ws
            viewers.clear()
            await until(lambda: hub.viewer_count(poll["id"]) == 0, "the hub lets them go")
            await until(
                lambda: all(task is None or task.done() for task in (ref() for ref in tasks)),
                "every connection's tasks end",
            )
            # What only the collector could free: with this flag it keeps it in gc.garbage.
            # (By type: the collector clears weak references to what it finds.)
            gc.set_debug(gc.DEBUG_SAVEALL)
            gc.collect()
            in_cycles = sorted(name for o in gc.garbage if (name := _connection_object(o)))
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
    assert in_cycles == [], "closed connections left in reference cycles"
    assert viewers_left() == 0


class _Sink:
    def __init__(self) -> None:
        self.pings = 0

    def ping(self) -> None:
        self.pings += 1


async def test_the_pinger_does_not_keep_a_viewer_that_left() -> None:
    pinger = Pinger(interval=60)  # the next round of pings is a minute away
    sinks = [_Sink()]
    pinger.add(sinks[0])  # type: ignore[arg-type]
    pinger.start()
    try:
        await until(lambda: sinks[0].pings == 1, "the first ping")
        gone = weakref.ref(sinks[0])
        pinger.discard(sinks[0])  # type: ignore[arg-type]
        sinks.clear()
        assert gone() is None, "the pinger kept the viewer until its next round"
    finally:
        await pinger.stop()


REQUEST: contextvars.ContextVar[str | None] = contextvars.ContextVar("request", default=None)


class _Messages(Messages):
    def viewers(self, fmt: Format, count: int) -> str:
        return str(count)

    def deleted(self, fmt: Format) -> str:
        return "deleted"


def _snapshot(seq: int) -> Snapshot:
    return Snapshot(
        seq=seq,
        poll_version="v1",
        results={(f, v): f"results:{seq}" for f in ("json", "html") for v in (True, False)},
        poll={"json": "poll", "html": "poll"},
        can_see=lambda _user_id: True,
    )


async def test_the_hub_reloads_a_poll_in_no_viewer_s_context() -> None:
    """The task that reloads a poll for all its viewers is the hub's, not a copy of the
    context that scheduled it: that one (a viewer's or a vote's request) reaches its whole
    connection, which would stay in memory as long as the poll keeps changing."""
    seq = 0
    seen: list[str | None] = []

    async def load(poll_id: int, user_ids: frozenset[int]) -> Snapshot | None:
        seen.append(REQUEST.get())
        return _snapshot(seq)

    hub = Hub(load, _Messages(), 0.05, viewers_interval=0.05)

    async def viewer() -> None:
        REQUEST.set("a viewer's request")
        async for _ in hub.subscribe(1):
            pass

    watching = asyncio.create_task(viewer())
    try:
        await until(lambda: len(seen) == 1, "the viewer's first snapshot")

        def vote() -> None:
            nonlocal seq
            REQUEST.set("a vote's request")
            seq += 1
            hub.changed(1, seq)

        contextvars.copy_context().run(vote)
        await until(lambda: len(seen) == 2, "the reload after the vote")
        assert seen == ["a viewer's request", None]
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
