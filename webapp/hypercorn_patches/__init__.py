"""Fixes to Hypercorn 0.18's WebSocket stream, one addition, a leaner idle WebSocket and
responses in one write, applied when our server starts.

The fixes: the message size limit counts characters for text, and after refusing a message
with 1009 Hypercorn stops reading that batch of frames, so the client's close reply may never
be handled and the connection stays open. Ours counts bytes, drops the refused message and
keeps reading until the closing handshake completes. And a frame wsproto cannot accept
(invalid UTF-8, an unmasked frame, a reserved opcode) closed the connection without a close
frame; ours sends wsproto's code (1007 or 1002) first. And every closed connection (its
TCPServer and protocol refer to each other) stayed in memory as a reference cycle until a
full garbage collection; ours breaks the cycle when the connection ends.

The addition: once a WebSocket is accepted, the app finds a `FrameSink` for it in
`scope["extensions"]["livepolls.frames"]`, to write prebuilt frames straight to the socket
(webapp/live/frames.py), and pings it from one task per process (`Pinger`), so our server
turns Hypercorn's own per-connection ping task off. Where the connection's writer cannot be
found (HTTP/2, which our server does not offer), the extension is absent and the app sends
through ASGI as usual.

And an idle viewer's connection holds less (docs/benchmarks.md, "Viewer memory"): Quart's
WebSocket handler runs in the connection's own app task, which takes the client's messages
from Hypercorn as they arrive (`Mailbox`, `WebsocketConnection`), where Quart runs two more
tasks, one waiting for them and one for the handler; asyncio's queues and events, asyncio's
stream and wsproto keep their waiters in lists (`_Waiters`), not in deques of 64 slots; the
connection's reading loop and its app task wait through fewer coroutine frames; and h11's
state, the handshake and the scope's raw headers (Quart keeps its own copy) are dropped
once the upgrade is answered.

And an HTTP/1.1 response goes out in one write, its head with its first body chunk, where
Hypercorn writes the head, the body and the end separately (`h11_send`).

`apply` checks first that Hypercorn is the release these were written for (0.18) and has the
internals they replace or reach through; if not, or if LIVEPOLLS_HYPERCORN_PATCHES=off, it
patches nothing and says so in the log, and the worker keeps Hypercorn's own pings on
(webapp/server.py): the app then runs on Hypercorn as released, without the fixes above.
Likewise Quart (0.22) for `WebsocketConnection`: another Quart keeps its own class (which
reads the Mailbox as it would any queue), and the rest still applies.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from importlib.metadata import version
from typing import Any

from hypercorn.asyncio.task_group import TaskGroup
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.asyncio.worker_context import WorkerContext
from hypercorn.protocol.h11 import H11Protocol, H11WSConnection
from hypercorn.protocol.ws_stream import WSStream
from quart import Quart
from quart.asgi import ASGIWebsocketConnection
from wsproto.connection import Connection, ConnectionType

from webapp.hypercorn_patches.h11_send import stream_send
from webapp.hypercorn_patches.lean import LeanEventWrapper
from webapp.hypercorn_patches.quart_ws import Mailbox, WebsocketConnection, spawn_app
from webapp.hypercorn_patches.stream import accept, handle_events
from webapp.hypercorn_patches.tcp import run

__all__ = ["Mailbox", "WebsocketConnection", "apply", "mismatches", "quart_mismatches"]

log = logging.getLogger(__name__)
WRITTEN_FOR = "0.18."
# What the patches replace, call or reach through.
INTERNALS = (
    (WSStream, "_handle_events"),
    (WSStream, "_accept"),
    (WSStream, "_send_wsproto_event"),
    (TCPServer, "run"),
    (TCPServer, "_read_data"),
    (TCPServer, "_idle_timeout"),
    (TCPServer, "protocol_send"),
    (H11Protocol, "stream_send"),
    (H11WSConnection, "send"),
    (TaskGroup, "spawn_app"),
    (WorkerContext, "event_class"),
)
QUART_WRITTEN_FOR = "0.22."
# What WebsocketConnection overrides or calls of Quart's.
QUART_INTERNALS = (
    (Quart, "asgi_websocket_class"),
    (Quart, "asgi_app"),
    (ASGIWebsocketConnection, "_create_websocket_from_scope"),
    (ASGIWebsocketConnection, "handle_websocket"),
    (ASGIWebsocketConnection, "send_data"),
    (ASGIWebsocketConnection, "accept_connection"),
    (ASGIWebsocketConnection, "close_connection"),
)


def mismatches() -> list[str]:
    """How the installed Hypercorn differs from the one the patches were written for."""
    found = []
    installed = version("hypercorn")
    if not installed.startswith(WRITTEN_FOR):
        found.append(f"Hypercorn {installed}, not {WRITTEN_FOR}x")
    found += [f"no {cls.__name__}.{name}" for cls, name in INTERNALS if not hasattr(cls, name)]
    # webapp/live/frames.py reads the negotiated deflate settings from wsproto's protocol.
    connection = Connection(ConnectionType.SERVER)
    if not hasattr(connection, "_proto"):
        found.append("no wsproto Connection._proto")
    # The deques traded for lists: each must be where it was, and used as a deque.
    if not isinstance(getattr(connection, "_events", None), deque):
        found.append("no wsproto Connection._events")
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for name in ("_getters", "_putters", "_queue"):
        if not isinstance(getattr(queue, name, None), deque):
            found.append(f"no asyncio.Queue.{name}")
    if not isinstance(getattr(asyncio.Event(), "_waiters", None), deque):
        found.append("no asyncio.Event._waiters")
    return found


def quart_mismatches() -> list[str]:
    """How the installed Quart differs from the one WebsocketConnection was written for."""
    found = []
    installed = version("quart")
    if not installed.startswith(QUART_WRITTEN_FOR):
        found.append(f"Quart {installed}, not {QUART_WRITTEN_FOR}x")
    found += [f"no {c.__name__}.{name}" for c, name in QUART_INTERNALS if not hasattr(c, name)]
    return found


def apply(enabled: bool = True) -> bool:
    """Patch Hypercorn, once per process; False, with a warning, when turned off or when it
    is not the Hypercorn they fit (the caller then keeps Hypercorn's own pings)."""
    if not enabled:
        log.warning("LIVEPOLLS_HYPERCORN_PATCHES=off: Hypercorn as released, with its own pings")
        return False
    found = mismatches()
    if found:
        log.warning(
            "Hypercorn not patched (%s): it runs as released, with its own pings, and without "
            "our WebSocket fixes; install the pinned release",
            "; ".join(found),
        )
        return False
    if WSStream._accept is not accept:
        WSStream._handle_events = handle_events  # type: ignore[method-assign]
        WSStream._accept = accept  # type: ignore[method-assign]
        TCPServer.run = run  # type: ignore[method-assign]
        H11Protocol.stream_send = stream_send  # type: ignore[method-assign]
        TaskGroup.spawn_app = spawn_app  # type: ignore[method-assign]
        WorkerContext.event_class = LeanEventWrapper
        found = quart_mismatches()
        if found:  # Quart's own class then takes the Mailbox's events as from any queue
            log.warning("Quart's WebSocket connection as released (%s)", "; ".join(found))
        else:  # Quart's own hook; the class is Quart's wherever there is no Mailbox
            Quart.asgi_websocket_class = WebsocketConnection
    return True
