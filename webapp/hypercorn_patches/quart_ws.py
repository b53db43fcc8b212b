"""Quart's WebSocket handler run in the connection's own app task, handed the client's
events as Hypercorn reads them (`Mailbox`, `WebsocketConnection`): two tasks fewer per
connection than Quart's own."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from hypercorn.app_wrappers import ASGIWrapper
from hypercorn.asyncio.task_group import TaskGroup
from quart import Quart
from quart.asgi import ASGIWebsocketConnection
from quart.signals import websocket_received
from quart.wrappers import Websocket

from webapp.hypercorn_patches.lean import LeanQueue
from webapp.live.routes import INCOMING_EXTENSION


class Mailbox(LeanQueue):
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


async def spawn_app(
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


# A screen's verdict on one client message: None to let it be, or the close code and reason.
Refusal = tuple[int, str] | None


class _Delivery:
    """Hands a WebSocket's events to Quart as Hypercorn reads them, as Quart's own receiving
    task would: messages to the queue that `websocket.receive()` reads, and a disconnect
    cancels the handler.

    A handler that reads nothing can say so (`screen_with`, found in the scope's extensions
    at INCOMING_EXTENSION): each message then goes to its screen instead of the queue, and a
    refusal ends the handler and closes the connection with the screen's code, so no task of
    the handler's needs to wait for messages it would only discard."""

    __slots__ = ("queue", "task", "ended", "screen", "refusal")

    def __init__(self, queue: asyncio.Queue[Any], task: asyncio.Task[Any]) -> None:
        self.queue = queue
        self.task: asyncio.Task[Any] | None = task
        self.ended = False  # the client left, or a message was refused
        self.screen: Callable[[str | bytes], Refusal] | None = None
        self.refusal: Refusal = None

    def screen_with(self, screen: Callable[[str | bytes], Refusal]) -> None:
        self.screen = screen

    async def __call__(self, event: Any) -> None:
        if event["type"] == "websocket.receive":
            if self.ended:
                return
            message = event.get("bytes") or event["text"]
            await websocket_received.send_async(message)
            if self.screen is None:
                self.queue.put_nowait(message)
                return
            refusal = self.screen(message)
            if refusal is not None:
                self.refusal = refusal
                self._end()
        elif event["type"] == "websocket.disconnect":
            self._end()

    def _end(self) -> None:
        if not self.ended:
            self.ended = True
            if self.task is not None:
                self.task.cancel()


class WebsocketConnection(ASGIWebsocketConnection):
    """Quart's WebSocket connection, which under our Hypercorn runs the handler in the
    connection's app task and is handed the client's events by the Mailbox: Quart's own
    runs the handler in a task of its own, and one more task to wait for the events. Any
    other server (or Quart's test client) gets Quart's as released."""

    def __init__(self, app: Quart, scope: Any) -> None:
        super().__init__(app, scope)
        self.queue = LeanQueue()
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
        extensions: dict[str, Any] = self.scope.setdefault("extensions", {})
        try:
            while not mailbox.empty():  # what came before the handler started
                await delivery(mailbox.get_nowait())
            mailbox.consumer = delivery
            extensions[INCOMING_EXTENSION] = delivery
            await self.handle_websocket(self._create_websocket_from_scope(send), send)
        except asyncio.CancelledError:
            # The client left or a message was refused (ours, and only ours): the handler's
            # end, as with Quart's.
            if not (delivery.ended and task.uncancel() == 0):
                raise
            if delivery.refusal is not None:
                await self._close_connection(*delivery.refusal)
        finally:
            # Nothing of the task left in this frame, which a CancelledError keeps, and no
            # way back to it from the scope.
            mailbox.consumer = delivery.task = None
            extensions.pop(INCOMING_EXTENSION, None)
            del task
