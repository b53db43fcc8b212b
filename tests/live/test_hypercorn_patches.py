"""The Hypercorn patches check that they fit before they apply; when they do not (another
Hypercorn) or are turned off, nothing is patched, the log says so, and Hypercorn's own pings
keep every viewer's connection alive. When they apply, an idle viewer's connection holds
what docs/benchmarks.md ("Viewer memory") says it does, and still works both ways."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import time
from collections import deque
from typing import Any

import h11
import pytest
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.protocol.ws_stream import Handshake, WSStream
from quart import Quart
from quart.asgi import ASGIWebsocketConnection
from quart.wrappers import Websocket
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import MakeMember, MakePoll
from tests.helpers import break_the_hub, until
from tests.live.servers import running_server
from tests.live.test_churn import first_results, served
from tests.live.test_servers import PING, RawWebSocket, api_for
from webapp import hypercorn_patches
from webapp.live.routes import CLOSE_POLICY, INCOMING_BURST, Screen


def test_another_hypercorn_is_not_patched(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(hypercorn_patches, "version", lambda _name: "0.19.2")
    accept = WSStream._accept
    with caplog.at_level(logging.WARNING, logger=hypercorn_patches.__name__):
        assert hypercorn_patches.apply() is False
    assert WSStream._accept is accept
    assert "Hypercorn 0.19.2, not 0.18.x" in caplog.text and "own pings" in caplog.text


def test_a_missing_internal_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(WSStream, "_send_wsproto_event")
    assert "no WSStream._send_wsproto_event" in hypercorn_patches.mismatches()
    assert hypercorn_patches.apply() is False


def test_the_pinned_hypercorn_fits() -> None:
    assert hypercorn_patches.mismatches() == []


def test_the_pinned_quart_fits_and_a_missing_part_of_it_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert hypercorn_patches.quart_mismatches() == []
    monkeypatch.delattr(ASGIWebsocketConnection, "_create_websocket_from_scope")
    assert "no ASGIWebsocketConnection._create_websocket_from_scope" in (
        hypercorn_patches.quart_mismatches()
    )


def test_a_deque_that_moved_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lean containers replace deques where asyncio keeps them: if a Python release
    keeps them elsewhere, the patches say so rather than patch blind."""

    class Elsewhere(asyncio.Queue[Any]):
        def _init(self, maxsize: int) -> None:
            self._queue = []  # type: ignore[var-annotated]

    monkeypatch.setattr(hypercorn_patches.asyncio, "Queue", Elsewhere)
    assert "no asyncio.Queue._queue" in hypercorn_patches.mismatches()


def _connection_tasks() -> list[str]:
    """The names of the tasks that serve viewers' connections (Hypercorn's, Quart's, ours)."""
    names = (
        "_server_callback",
        "_handle",
        "_handle_websocket",
        "ASGIWebsocketConnection.handle_websocket",
        "ASGIWebsocketConnection.handle_messages",
        "_send_updates",
        "_read_until_refused",
        "_send_relayed",
    )
    found = []
    for task in asyncio.all_tasks():
        name = getattr(task.get_coro(), "__qualname__", "")
        if name.endswith(names):
            found.append(name.rpartition("<locals>.")[2])
    return sorted(found)


def _only(kind: type, path: str) -> Any:
    (found,) = [o for o in gc.get_objects() if type(o) is kind and _path(o) == path]
    return found


def _path(o: Any) -> str | None:
    scope = getattr(o, "scope", None)
    return scope.get("path") if isinstance(scope, dict) else None


async def test_an_idle_viewer_holds_two_tasks_only_and_no_deques_of_the_server(
    app: Quart, make_member: MakeMember, make_poll: MakePoll
) -> None:
    poll = await make_poll(await make_member())
    path = f"/api/v1/polls/{poll['id']}/live"
    hub = app.extensions["live"].hub
    async with served(app) as base:
        async with connect(base + path, ping_interval=None) as ws:
            await first_results(ws)
            await until(lambda: hub.viewer_count(poll["id"]) == 1, "the viewer counted")
            # Hypercorn's reading task and the app's task, which runs the handler, and the
            # handler sends the updates: no task of Quart's waiting for messages, none of its
            # own for the handler, none of the route's to send or to read.
            # (Waited for: the probe that found the server listening may still be closing.)
            await until(
                lambda: _connection_tasks() == ["_handle_websocket", "_server_callback"],
                "no tasks but Hypercorn's reading one and the app's",
            )
            stream = _only(WSStream, path)
            mailbox = stream.app_put.__self__
            assert isinstance(mailbox, hypercorn_patches.Mailbox)
            assert mailbox.consumer is not None, "events are handed over as they come"
            delivery: Any = mailbox.consumer
            assert isinstance(delivery.screen, Screen), "and screened as they come"
            connection = _only(hypercorn_patches.WebsocketConnection, path)
            protocol = stream.send.__self__  # H11Protocol, whose send is the TCPServer's
            server = protocol.send.__self__
            assert isinstance(server, TCPServer)
            stream_protocol: Any = server.writer._protocol  # type: ignore[attr-defined]
            waiters = {
                "the mailbox's": (mailbox._getters, mailbox._putters, mailbox._queue),
                "Quart's queue's": (connection.queue._getters, connection.queue._queue),
                "can_read's": (protocol.can_read._event._waiters,),
                "wsproto's": (stream.connection._events,),
                "the stream's drain": (stream_protocol._drain_waiters,),
            }
            assert [
                name for name, kept in waiters.items() if any(isinstance(w, deque) for w in kept)
            ] == []
            # What only the handshake needed.
            assert not isinstance(stream.handshake, Handshake)
            assert not isinstance(protocol.connection.h11_connection, h11.Connection)
            assert stream.scope["headers"] == ()
            # Nor does the route keep Quart's copy of them, or their parses, once it streams.
            (quart_websocket,) = [
                o for o in gc.get_objects() if issubclass(type(o), Websocket) and o.path == path
            ]
            assert len(quart_websocket.headers) == 0
            assert {"args", "cookies"}.isdisjoint(vars(quart_websocket))

            # The client's messages still reach the route's screen: a flood is closed on.
            for n in range(INCOMING_BURST + 5):
                await ws.send(json.dumps({"n": n}))
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == CLOSE_POLICY
        await until(lambda: hub.viewer_count(poll["id"]) == 0, "the hub lets the viewer go")
        await until(lambda: _connection_tasks() == [], "the connection's tasks end")


LEAN_PARTS = (
    hypercorn_patches.Mailbox,
    hypercorn_patches.WebsocketConnection,
    hypercorn_patches.quart_ws._Delivery,
    WSStream,
    TCPServer,
)


async def test_a_viewer_who_leaves_ends_the_handler_in_the_connection_s_task(
    app: Quart, make_member: MakeMember, make_poll: MakePoll
) -> None:
    """Quart cancels the handler when the client goes away; it still does, though the
    handler now runs in the connection's own task, which ends cleanly and leaves nothing in
    a reference cycle (tests/live/test_churn.py for why that matters)."""
    poll = await make_poll(await make_member())
    hub = app.extensions["live"].hub
    async with served(app) as base:
        ws = await connect(f"{base}/api/v1/polls/{poll['id']}/live", ping_interval=None)
        await first_results(ws)
        (task,) = [
            t
            for t in asyncio.all_tasks()
            if getattr(t.get_coro(), "__qualname__", "") == "_handle_websocket"
        ]
        gc.collect()
        gc.disable()  # what only the collector could free stays for it to find
        try:
            ws.transport.abort()  # no closing handshake: the connection just drops
            await until(task.done, "the connection's app task ends")
            assert not task.cancelled() and task.exception() is None
            await until(lambda: hub.viewer_count(poll["id"]) == 0, "the hub lets it go")
            gc.set_debug(gc.DEBUG_SAVEALL)
            gc.collect()
            in_cycles = sorted(type(o).__name__ for o in gc.garbage if type(o) in LEAN_PARTS)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
    assert in_cycles == [], "a closed connection left in a reference cycle"


async def test_without_the_patches_hypercorn_pings_the_viewers() -> None:
    env = {"LIVEPOLLS_HYPERCORN_PATCHES": "off", "LIVEPOLLS_PING_INTERVAL_S": "1"}
    async with running_server(env) as server:
        async with api_for(server) as api:
            owner = await api.user()
            poll = await api.poll(owner)
        viewer = await RawWebSocket.open(server, poll["id"])
        try:
            deadline = time.monotonic() + 15
            opcodes = []
            while PING not in opcodes:
                frame = await viewer._frame(deadline)
                assert frame is not None, "closed before any ping"
                opcodes.append(frame[0])
        finally:
            viewer.sock.close()
        assert "LIVEPOLLS_HYPERCORN_PATCHES=off" in server.log()


async def _close_code(ws: Any) -> int | None:
    """Read until the server closes; its close code."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    return closed.value.rcvd.code if closed.value.rcvd is not None else None


async def test_an_event_s_stream_sends_from_its_handler_and_closes_on_a_flood(
    app: Quart, client: Any, make_member: MakeMember
) -> None:
    """The event stream too: no task of the route's reads the client's messages, and the
    screen still closes on a flood, with the event's follower ending with the handler."""
    owner = await make_member()
    response = await client.post("/api/v1/events", json={"title": "Talk"}, headers=owner.auth)
    assert response.status_code == 201
    event = await response.get_json()
    async with served(app) as base:
        async with connect(f"{base}/api/v1/events/{event['id']}/live", ping_interval=None) as ws:
            while json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] != "event":
                pass
            await until(
                lambda: (
                    "_send_relayed" not in _connection_tasks()
                    and "_read_until_refused" not in _connection_tasks()
                    and "_handle_websocket" in _connection_tasks()
                ),
                "the handler sends the event's messages itself, and nothing reads",
            )
            for n in range(INCOMING_BURST + 5):
                await ws.send(json.dumps({"n": n}))
            assert await _close_code(ws) == CLOSE_POLICY
        await until(lambda: _connection_tasks() == [], "the connection's tasks end")


async def test_a_refusal_ends_the_stream_though_its_send_is_blocked(
    app: Quart, make_member: MakeMember, make_poll: MakePoll, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no reader task, the screen itself must interrupt a sender waiting on something
    else (here, forever): the refusal cancels the handler and closes with its code."""
    poll = await make_poll(await make_member())
    started = asyncio.Event()

    async def stuck(*_args: Any) -> None:
        started.set()
        await asyncio.Future()  # never done

    monkeypatch.setattr("webapp.live.routes._send_updates", stuck)
    async with served(app) as base:
        async with connect(f"{base}/api/v1/polls/{poll['id']}/live", ping_interval=None) as ws:
            await asyncio.wait_for(started.wait(), 10)
            for n in range(INCOMING_BURST + 5):
                await ws.send(json.dumps({"n": n}))
            assert await _close_code(ws) == CLOSE_POLICY
        await until(lambda: _connection_tasks() == [], "the connection's tasks end")


async def test_a_failing_stream_closes_with_1011_so_that_the_client_reconnects(
    app: Quart, make_member: MakeMember, make_poll: MakePoll, monkeypatch: pytest.MonkeyPatch
) -> None:
    poll = await make_poll(await make_member())

    break_the_hub(app, monkeypatch)
    async with (
        served(app) as base,
        connect(f"{base}/api/v1/polls/{poll['id']}/live", ping_interval=None) as ws,
    ):
        assert await _close_code(ws) == 1011
