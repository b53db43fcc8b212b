"""Fixes to Hypercorn 0.18's WebSocket stream, one addition and a leaner idle WebSocket,
applied when our server starts.

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
from collections.abc import Awaitable, Callable
from importlib.metadata import version
from ssl import SSLError
from typing import Any

from hypercorn.app_wrappers import ASGIWrapper
from hypercorn.asyncio.task_group import TaskGroup
from hypercorn.asyncio.tcp_server import MAX_RECV, TCPServer
from hypercorn.asyncio.worker_context import EventWrapper, WorkerContext
from hypercorn.events import Closed, RawData
from hypercorn.protocol import ProtocolWrapper
from hypercorn.protocol.events import StreamClosed
from hypercorn.protocol.h11 import H11Protocol, H11WSConnection
from hypercorn.protocol.ws_stream import WSStream
from hypercorn.typing import ConnectionState as HypercornConnectionState
from hypercorn.utils import parse_socket_addr
from quart import Quart
from quart.asgi import ASGIWebsocketConnection
from quart.signals import websocket_received
from quart.wrappers import Websocket
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
_unsinked = False


class _Waiters(list[Any]):
    """A list in place of the deques that asyncio's queues, events and streams and wsproto
    keep their waiters (and a queue its items) in: a deque allocates a block of 64 slots
    however few it holds, 760 bytes in all, and an idle connection's hold none or one."""

    __slots__ = ()

    def popleft(self) -> Any:
        return self.pop(0)


def _lean_event(event: asyncio.Event) -> asyncio.Event:
    event._waiters = _Waiters()  # type: ignore[assignment]
    return event


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
        stream.connection._events = _Waiters(events)  # type: ignore[assignment]


async def _accept(self: WSStream, message: Any) -> None:
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


class _EventWrapper(EventWrapper):
    """Hypercorn's event (each connection's `can_read` is one), on a lean asyncio.Event."""

    def __init__(self) -> None:
        super().__init__()
        _lean_event(self._event)


class _Queue(asyncio.Queue[Any]):
    """asyncio.Queue, with its waiters and items in lists."""

    def __init__(self, maxsize: int = 0) -> None:
        super().__init__(maxsize)
        self._getters = _Waiters()
        self._putters = _Waiters()
        _lean_event(self._finished)  # type: ignore[attr-defined]

    def _init(self, maxsize: int) -> None:
        self._queue = _Waiters()


class Mailbox(_Queue):
    """Hypercorn's queue of one WebSocket's events for the app (the app's `receive` is its
    `get`); an app may take them as they come instead (`consumer`), and keep no task
    waiting on the queue."""

    def __init__(self, maxsize: int = 0) -> None:
        super().__init__(maxsize)
        self.consumer: Callable[[Any], Awaitable[None]] | None = None

    async def put(self, item: Any) -> None:
        if self.consumer is not None:
            await self.consumer(item)
        else:
            await super().put(item)


_original_spawn_app = TaskGroup.spawn_app


async def _spawn_app(
    self: TaskGroup, app: Any, config: Any, scope: Any, send: Any
) -> Callable[[Any], Awaitable[None]]:
    """Hypercorn's, with a Mailbox for a WebSocket's events (HTTP keeps Hypercorn's queue)."""
    if scope["type"] != "websocket" or not isinstance(app, ASGIWrapper):
        return await _original_spawn_app(self, app, config, scope, send)
    mailbox = Mailbox(config.max_app_queue_size)
    self.spawn(_handle_websocket, app.app, config, scope, mailbox.get, send)
    return mailbox.put


async def _handle_websocket(app: Any, config: Any, scope: Any, receive: Any, send: Any) -> None:
    """Hypercorn's `_handle`, calling the ASGI app itself where Hypercorn goes through a
    wrapper that only drops two helpers for WSGI apps; and for Quart's own `asgi_app`
    (webapp/server.py serves it), what that does with a WebSocket: one coroutine frame
    fewer for each, kept as long as the connection is open."""
    try:
        if getattr(app, "__func__", None) is Quart.asgi_app:
            quart_app = app.__self__
            await quart_app.asgi_websocket_class(quart_app, scope)(receive, send)
        else:
            await app(scope, receive, send)
    except asyncio.CancelledError:
        raise
    except Exception:
        await config.log.exception("Error in ASGI Framework")
    finally:
        await send(None)


class _Delivery:
    """Hands a WebSocket's events to Quart as Hypercorn reads them, as Quart's own receiving
    task would: messages to the queue that `websocket.receive()` reads, and a disconnect
    cancels the handler."""

    __slots__ = ("queue", "task", "left")

    def __init__(self, queue: asyncio.Queue[Any], task: asyncio.Task[Any]) -> None:
        self.queue = queue
        self.task: asyncio.Task[Any] | None = task
        self.left = False

    async def __call__(self, event: Any) -> None:
        if event["type"] == "websocket.receive":
            message = event.get("bytes") or event["text"]
            await websocket_received.send_async(message)
            self.queue.put_nowait(message)
        elif event["type"] == "websocket.disconnect" and not self.left:
            self.left = True
            if self.task is not None:
                self.task.cancel()


class WebsocketConnection(ASGIWebsocketConnection):
    """Quart's WebSocket connection, which under our Hypercorn runs the handler in the
    connection's app task and is handed the client's events by the Mailbox: Quart's own
    runs the handler in a task of its own, and one more task to wait for the events. Any
    other server (or Quart's test client) gets Quart's as released."""

    def __init__(self, app: Quart, scope: Any) -> None:
        super().__init__(app, scope)
        self.queue = _Queue()
        self._send: Any = None

    def _create_websocket_from_scope(self, send: Any) -> Websocket:
        websocket = super()._create_websocket_from_scope(send)
        # The connection's own methods, where Quart gives the websocket a partial of each.
        self._send = send
        websocket._send = self._send_data
        websocket._accept = self._accept_connection
        websocket._close = self._close_connection
        return websocket

    async def _send_data(self, data: str | bytes) -> None:
        await self.send_data(self._send, data)

    async def _accept_connection(self, headers: Any, subprotocol: str | None) -> None:
        await self.accept_connection(self._send, headers, subprotocol)
        # Quart copied the raw headers into websocket.headers, and the access log has its
        # line: nothing reads these again.
        self.scope["headers"] = ()

    async def _close_connection(self, code: int, reason: str) -> None:
        await self.close_connection(self._send, code, reason)

    async def __call__(self, receive: Any, send: Any) -> None:
        mailbox = getattr(receive, "__self__", None)
        task = asyncio.current_task()
        if not isinstance(mailbox, Mailbox) or task is None:
            await super().__call__(receive, send)
            return
        delivery = _Delivery(self.queue, task)
        try:
            while not mailbox.empty():  # what came before the handler started
                await delivery(mailbox.get_nowait())
            mailbox.consumer = delivery
            await self.handle_websocket(self._create_websocket_from_scope(send), send)
        except asyncio.CancelledError:
            # The client left (ours, and only ours): the handler's end, as with Quart's.
            if not (delivery.left and task.uncancel() == 0):
                raise
        finally:
            # Nothing of the task left in this frame, which a CancelledError keeps.
            mailbox.consumer = delivery.task = None
            del task


def _protocol(server: TCPServer, group: TaskGroup) -> ProtocolWrapper:
    """The connection's protocol, as Hypercorn's `TCPServer.run` makes it (out of the
    coroutine: its locals would stay in the frame for as long as the connection is open)."""
    sock = server.writer.get_extra_info("socket")
    ssl_object = server.writer.get_extra_info("ssl_object")
    return ProtocolWrapper(
        server.app,
        server.config,
        server.context,
        group,
        HypercornConnectionState(server.state),
        ssl_object is not None,
        parse_socket_addr(sock.family, sock.getpeername()),
        parse_socket_addr(sock.family, sock.getsockname()),
        server.protocol_send,
        "http/1.1" if ssl_object is None else ssl_object.selected_alpn_protocol(),
    )


async def _run(self: TCPServer) -> None:
    """Hypercorn's `TCPServer.run`, with its `_read_data` loop inline (and no `wait_for`
    without a read timeout): three coroutine frames fewer held by every idle connection.
    Then the connection's reference cycle is broken: it holds its protocol, which holds
    the connection's own `protocol_send`. Every connection, a long-lived viewer's above
    all, would otherwise stay in memory after it closed until one of the collector's rare
    full collections (docs/benchmarks.md, "Viewer churn")."""
    # The stream's protocol keeps its waiters on a full send buffer (none yet) in a deque.
    stream_protocol: Any = getattr(self.writer, "_protocol", None)
    if isinstance(getattr(stream_protocol, "_drain_waiters", None), deque):
        stream_protocol._drain_waiters = _Waiters(stream_protocol._drain_waiters)
    del stream_protocol
    try:
        async with TaskGroup(self.loop) as group:
            self._task_group = group
            self.protocol = _protocol(self, group)
            await self.protocol.initiate()
            await self.idle_task.restart(group, self._idle_timeout)
            timeout = self.config.read_timeout
            while not self.reader.at_eof():
                try:
                    if timeout is None:
                        data = await self.reader.read(MAX_RECV)
                    else:
                        data = await asyncio.wait_for(self.reader.read(MAX_RECV), timeout)
                except (ConnectionError, OSError, TimeoutError, SSLError):
                    break
                await self.protocol.handle(RawData(data))
                del data
            await self.protocol.handle(Closed())
    except OSError:
        pass
    finally:
        await self._close()
        self.__dict__.pop("protocol", None)


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
    if WSStream._accept is not _accept:
        WSStream._handle_events = _handle_events  # type: ignore[method-assign]
        WSStream._accept = _accept  # type: ignore[method-assign]
        TCPServer.run = _run  # type: ignore[method-assign]
        TaskGroup.spawn_app = _spawn_app  # type: ignore[method-assign]
        WorkerContext.event_class = _EventWrapper
        found = quart_mismatches()
        if found:  # Quart's own class then takes the Mailbox's events as from any queue
            log.warning("Quart's WebSocket connection as released (%s)", "; ".join(found))
        else:  # Quart's own hook; the class is Quart's wherever there is no Mailbox
            Quart.asgi_websocket_class = WebsocketConnection
    return True
