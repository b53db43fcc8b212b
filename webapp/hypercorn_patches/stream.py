"""The patched parts of Hypercorn's WebSocket stream: the message-size and close-code fixes
(`handle_events`) and, once the upgrade is answered, the FrameSink and the shedding of
handshake-only state (`accept`)."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from hypercorn.protocol.events import StreamClosed
from hypercorn.protocol.h11 import H11Protocol, H11WSConnection
from hypercorn.protocol.ws_stream import WSStream
from wsproto.connection import ConnectionState
from wsproto.events import CloseConnection, Message, Ping
from wsproto.frame_protocol import CloseReason

from webapp.hypercorn_patches.lean import Waiters
from webapp.live.frames import FrameSink
from webapp.live.routes import FRAMES_EXTENSION

log = logging.getLogger(__name__)
_unsinked = False


def _size(event: Message) -> int:
    data = event.data
    return len(data.encode()) if isinstance(data, str) else len(data)


async def handle_events(self: WSStream) -> None:
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


class _Accepted:
    """What a WebSocket keeps of its handshake once it is answered."""

    accepted = True


_ACCEPTED = _Accepted()


class _Upgraded:
    """In place of h11's state, which an upgraded connection no longer uses."""

    def send(self, event: Any) -> bytes:
        raise RuntimeError(f"HTTP/1.1 {type(event).__name__} after the WebSocket upgrade")


_UPGRADED = _Upgraded()


def _shed(stream: WSStream) -> None:
    """Drop what the connection needed for the handshake only, and trade its deques."""
    stream.handshake = _ACCEPTED  # type: ignore[assignment]
    protocol = getattr(stream.send, "__self__", None)
    if isinstance(protocol, H11Protocol) and isinstance(protocol.connection, H11WSConnection):
        protocol.connection.h11_connection = _UPGRADED  # type: ignore[assignment]
    events = getattr(stream.connection, "_events", None)
    if isinstance(events, deque):
        stream.connection._events = Waiters(events)  # type: ignore[assignment]


async def accept(self: WSStream, message: Any) -> None:
    await _original_accept(self, message)
    _shed(self)
    writer = _connection_writer(self)
    extensions: Any = self.scope.get("extensions")
    if writer is not None and isinstance(extensions, dict):
        extensions[FRAMES_EXTENSION] = FrameSink(self, writer)
        return
    global _unsinked
    if not _unsinked:  # once per process: every such viewer is sent to through ASGI, unpinged
        _unsinked = True
        log.warning("a WebSocket without a reachable socket writer: sent through ASGI, unpinged")
