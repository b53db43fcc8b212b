"""A fix to Hypercorn 0.18's WebSocket stream and one addition, applied when our server starts.

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

`apply` checks first that Hypercorn is the release these were written for (0.18) and has the
internals they replace or reach through; if not, or if LIVEPOLLS_HYPERCORN_PATCHES=off, it
patches nothing and says so in the log, and the worker keeps Hypercorn's own pings on
(webapp/server.py): the app then runs on Hypercorn as released, without the fixes above.
"""

from __future__ import annotations

import asyncio
import logging
from importlib.metadata import version
from typing import Any

from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.protocol.events import StreamClosed
from hypercorn.protocol.h11 import H11Protocol
from hypercorn.protocol.ws_stream import WSStream
from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import CloseConnection, Message, Ping
from wsproto.frame_protocol import CloseReason

from webapp.live.frames import FrameSink
from webapp.live.routes import FRAMES_EXTENSION

log = logging.getLogger(__name__)
WRITTEN_FOR = "0.18."
# What the patches replace, call or reach through.
INTERNALS = (
    (WSStream, "_handle_events"),
    (WSStream, "_accept"),
    (WSStream, "_send_wsproto_event"),
    (TCPServer, "run"),
    (TCPServer, "protocol_send"),
    (H11Protocol, "stream_send"),
)
_unsinked = False


def _size(event: Message) -> int:
    data = event.data
    return len(data.encode()) if isinstance(data, str) else len(data)


async def _handle_events(self: WSStream) -> None:
    for event in self.connection.events():
        if isinstance(event, Message):
            if getattr(self, "_refused", False):
                continue  # the rest of a refused message, or anything after it
            received = getattr(self, "_received", 0) + _size(event)
            if received > self.config.websocket_max_message_size:
                self.buffer.clear()
                self._refused = True  # type: ignore[attr-defined]
                await self._send_wsproto_event(CloseConnection(code=CloseReason.MESSAGE_TOO_BIG))
                continue
            self._received = received  # type: ignore[attr-defined]
            self.buffer.extend(event)
            if event.message_finished:
                await self.app_put(self.buffer.to_message())  # type: ignore[misc]
                self.buffer.clear()
                self._received = 0  # type: ignore[attr-defined]
        elif isinstance(event, Ping):
            await self._send_wsproto_event(event.response())
        elif isinstance(event, CloseConnection):
            if self.connection.state == ConnectionState.REMOTE_CLOSING:
                await self._send_wsproto_event(event.response())
            elif self.connection.state == ConnectionState.OPEN:
                # Not the client's close but wsproto's verdict on what it sent (1007 for
                # invalid UTF-8, 1002 for a protocol violation): tell the client before
                # closing, as RFC 6455 asks, instead of dropping the connection mute.
                await self._send_wsproto_event(CloseConnection(code=event.code))
            await self.send(StreamClosed(stream_id=self.stream_id))


_original_accept = WSStream._accept


def _connection_writer(stream: WSStream) -> asyncio.StreamWriter | None:
    """HTTP/1.1 over TCP: stream.send is H11Protocol.stream_send, whose send is
    TCPServer.protocol_send, which writes to the StreamWriter we want."""
    protocol = getattr(stream.send, "__self__", None)
    server = getattr(getattr(protocol, "send", None), "__self__", None)
    writer = getattr(server, "writer", None)
    return writer if isinstance(writer, asyncio.StreamWriter) else None


async def _accept(self: WSStream, message: Any) -> None:
    await _original_accept(self, message)
    writer = _connection_writer(self)
    extensions: Any = self.scope.get("extensions")
    if writer is not None and isinstance(extensions, dict):
        extensions[FRAMES_EXTENSION] = FrameSink(self, writer)
        return
    global _unsinked
    if not _unsinked:  # once per process: every such viewer is sent to through ASGI, unpinged
        _unsinked = True
        log.warning("a WebSocket without a reachable socket writer: sent through ASGI, unpinged")


_original_run = TCPServer.run


async def _run(self: TCPServer) -> None:
    """Hypercorn's connection, then its reference cycle broken: the connection holds its
    protocol, which holds the connection's own `protocol_send`. Every connection, a
    long-lived viewer's above all, would otherwise stay in memory after it closed until one
    of the collector's rare full collections (docs/benchmarks.md, "Viewer churn")."""
    try:
        await _original_run(self)
    finally:
        self.__dict__.pop("protocol", None)


def mismatches() -> list[str]:
    """How the installed Hypercorn differs from the one the patches were written for."""
    found = []
    installed = version("hypercorn")
    if not installed.startswith(WRITTEN_FOR):
        found.append(f"Hypercorn {installed}, not {WRITTEN_FOR}x")
    found += [f"no {cls.__name__}.{name}" for cls, name in INTERNALS if not hasattr(cls, name)]
    # webapp/live/frames.py reads the negotiated deflate settings from wsproto's protocol.
    if not hasattr(Connection(ConnectionType.SERVER), "_proto"):
        found.append("no wsproto Connection._proto")
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
    if WSStream._accept is not _accept:
        WSStream._handle_events = _handle_events  # type: ignore[method-assign]
        WSStream._accept = _accept  # type: ignore[method-assign]
        TCPServer.run = _run  # type: ignore[method-assign]
    return True
