"""GET /api/v1/polls/{id}/live: a WebSocket of live snapshots (see docs/live.md); and
GET /api/v1/events/{id}/live: an event's `event` messages with its current question's own.

`?format=html` streams the rendered results partial instead of JSON, for htmx pages.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any, cast
from urllib.parse import urlsplit

from quart import Blueprint, current_app, websocket
from werkzeug.datastructures import Headers

from webapp import callers
from webapp.accounts import Account
from webapp.errors import NotFound, Unauthorized
from webapp.events import get_event
from webapp.live.event_snapshots import current_poll_of
from webapp.live.frames import FrameSink, Pinger
from webapp.live.hub import CLOSE, HEARTBEAT, Format, Hub
from webapp.polls import poll_row

blueprint = Blueprint("live", __name__)

# Where webapp/hypercorn_patches/ puts a connection's FrameSink in the ASGI scope, and
# what screens the client's messages as they arrive (quart_ws._Delivery).
FRAMES_EXTENSION = "livepolls.frames"
INCOMING_EXTENSION = "livepolls.incoming"

MAX_INCOMING = 1024
CLOSE_NOT_FOUND = 4404
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN_ORIGIN = 4403
CLOSE_TOO_BIG = 1009
CLOSE_POLICY = 1008
# Clients need send nothing: a few messages are ignored, a flood closes the socket.
INCOMING_BURST = 20
INCOMING_PER_S = 2.0
CLOSE_SERVER_ERROR = 1011

log = logging.getLogger(__name__)


def _origin_allowed() -> bool:
    """Cross-site WebSocket hijacking guard, for connections that ride on the cookie."""
    origin = websocket.headers.get("Origin")
    if origin is None:
        return True  # not a browser: no ambient cookie to abuse
    allowed = current_app.extensions["settings"].allowed_origins
    if allowed:
        return origin in allowed
    return urlsplit(origin).netloc == websocket.headers.get("Host", "")


async def _websocket_account() -> Account | None:
    """Bearer header, `token` parameter (clients that cannot set headers), or the cookie."""
    token = callers.bearer_token(websocket.headers) or websocket.args.get("token", "")
    if token:
        account = await callers.token_account(token)
        if account is None:
            raise Unauthorized("invalid token")
        return account
    account = await callers.session_account()
    if account is not None and not _origin_allowed():
        raise PermissionError("origin not allowed")
    return account


class Screen:
    """What a stream does with a client's message: nothing, unless it is oversize (1009) or
    one of a flood (1008; a token bucket of `burst` messages at once, then `per_second` on
    average): reading and discarding costs the server for every message."""

    __slots__ = ("burst", "per_second", "tokens", "at")

    def __init__(self, burst: int = INCOMING_BURST, per_second: float = INCOMING_PER_S) -> None:
        self.burst, self.per_second = burst, per_second
        self.tokens = float(burst)
        self.at = time.monotonic()

    def __call__(self, data: str | bytes) -> tuple[int, str] | None:
        if len(data.encode() if isinstance(data, str) else data) > MAX_INCOMING:
            return CLOSE_TOO_BIG, "message too big"
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.per_second)
        self.at = now
        if self.tokens < 1:
            return CLOSE_POLICY, "too many messages"
        self.tokens -= 1
        return None


async def _read_until_refused() -> None:
    """Where the server cannot screen messages as they arrive: a task reads them."""
    screen = Screen()
    while True:
        refusal = screen(await websocket.receive())
        if refusal is not None:
            await websocket.close(*refusal)
            return


def _forget_the_handshake() -> None:
    """Once the stream starts nothing reads the handshake's headers, query or cookies again
    (the account, the format and the view were taken from them, and the request id): an
    idle viewer need not keep them. A browser's cookies and user agent are most of what it
    sends with the handshake."""
    ws = cast(Any, websocket)._get_current_object()
    ws.headers = Headers()
    for parsed in ("args", "cookies"):  # Werkzeug's cached parses of them
        ws.__dict__.pop(parsed, None)


def _screened() -> bool:
    """Under our Hypercorn runner, have the client's messages screened as they arrive
    (webapp/hypercorn_patches/quart_ws.py), which ends this handler on a refusal or when the
    client leaves: the handler's own task then sends, and no other waits (an idle viewer's
    memory is mostly its tasks and their frames; docs/benchmarks.md, "Viewer memory")."""
    extensions: dict[str, Any] = websocket.scope.get("extensions") or {}
    incoming = extensions.get(INCOMING_EXTENSION)
    if incoming is None:
        return False
    incoming.screen_with(Screen())
    return True


async def _with_reader(sender: Coroutine[Any, Any, None], what: str) -> None:
    """Elsewhere, two tasks: one sends the updates, one reads whatever the client sends.
    The first to end ends the stream: the reader when the client leaves or breaks the rules
    (which also interrupts a send blocked on a stalled socket), the sender when the hub
    closes it."""
    sending = asyncio.create_task(sender)
    reader = asyncio.create_task(_read_until_refused())
    try:
        await asyncio.wait((sending, reader), return_when=asyncio.FIRST_COMPLETED)
    finally:
        # Also when Quart cancels this handler (the client went away): no task outlives it.
        sending.cancel()
        reader.cancel()
        await asyncio.wait((sending, reader))
    if not reader.cancelled() and reader.exception() is not None:
        log.error("live stream of %s failed", what, exc_info=reader.exception())
        await _close_failed()


async def _close_failed() -> None:
    # 1011, not 1000: the client should reconnect rather than take it as the end.
    await websocket.close(CLOSE_SERVER_ERROR, "server error")


async def _send_updates(hub: Hub, poll_id: int, user_id: int | None, fmt: Format) -> None:
    # Under our Hypercorn runner: prebuilt frames straight to the socket (webapp/live/frames.py).
    extensions: dict[str, Any] = websocket.scope.get("extensions") or {}
    sink = cast(FrameSink | None, extensions.get(FRAMES_EXTENSION))
    pinger: Pinger = current_app.extensions["live"].pinger
    if sink is not None:
        pinger.add(sink)
    try:
        async for kind, message in hub.subscribe(poll_id, user_id, fmt, sink):
            if kind == CLOSE:
                await websocket.close(int(message))
                return
            if sink is not None:
                await sink.send(str(message))
            else:
                await websocket.send(str(message))
    except Exception:
        log.exception("live stream of poll %s failed", poll_id)
        await _close_failed()
    finally:
        if sink is not None:
            pinger.discard(sink)


@blueprint.websocket("/api/v1/polls/<id:poll_id>/live")
async def poll_live(poll_id: int) -> None:
    """Stream a poll's results: a snapshot at once, then one after every change."""
    await websocket.accept()
    fmt = cast(Format, "html" if websocket.args.get("format") == "html" else "json")
    try:
        account = await _websocket_account()
        await poll_row(poll_id, account.id if account else None)
    except Unauthorized:
        await websocket.close(CLOSE_UNAUTHORIZED, "invalid token")
        return
    except PermissionError:
        await websocket.close(CLOSE_FORBIDDEN_ORIGIN, "origin not allowed")
        return
    except NotFound:
        # Accept, then close: an HTTP rejection looks like a network failure to browsers.
        await websocket.close(CLOSE_NOT_FOUND, "no such poll")
        return
    except Exception:
        log.exception("live stream of poll %s could not start", poll_id)
        await websocket.close(CLOSE_SERVER_ERROR, "server error")
        return
    hub: Hub = current_app.extensions["live"].hub
    # view=audience (the presenter screen): what the room sees, whoever opened it.
    as_audience = websocket.args.get("view") == "audience"
    user_id = account.id if account and not as_audience else None
    _forget_the_handshake()
    # Awaited here, not in a helper: one coroutine frame fewer for every idle viewer.
    sender = _send_updates(hub, poll_id, user_id, fmt)
    await (sender if _screened() else _with_reader(sender, f"poll {poll_id}"))


# What an event's stream sends first when several are waiting: the event (which question is
# current) before that question's text and counts.
RELAY_KINDS = ("event", "poll", "results", "question_deleted", "deleted", "viewers", HEARTBEAT)


class Relay:
    """One event connection's mailbox, latest-only as a hub viewer's is, fed by two hub
    subscriptions: the event's, and its current question's (replaced when that changes)."""

    def __init__(self) -> None:
        self.pending: dict[str, str | int] = {}
        self.wake = asyncio.Event()

    def offer(self, kind: str, message: str | int) -> None:
        self.pending[kind] = message
        self.wake.set()

    def drop(self, *kinds: str) -> None:
        for kind in kinds:
            self.pending.pop(kind, None)


async def _follow_question(
    hub: Hub, poll_id: int, user_id: int | None, fmt: Format, relay: Relay
) -> None:
    async for kind, message in hub.subscribe(poll_id, user_id, fmt):
        if kind == CLOSE:
            return
        if kind in ("viewers", HEARTBEAT):  # the event's own count and heartbeat go instead
            continue
        relay.offer("question_deleted" if kind == "deleted" else kind, message)


async def _follow_event(
    live: Any, event_id: int, user_id: int | None, fmt: Format, relay: Relay
) -> None:
    question: asyncio.Task[None] | None = None
    following = 0
    try:
        async for kind, message in live.events.subscribe(event_id, None, fmt):
            if kind == CLOSE:
                relay.offer(CLOSE, message)
                return
            if kind != "results":  # viewers, heartbeat, deleted
                relay.offer(kind, message)
                continue
            current = current_poll_of(str(message), fmt) or 0
            if current != following:
                if question is not None:
                    question.cancel()
                    await asyncio.wait((question,))
                relay.drop("poll", "results", "question_deleted")
                following = current
                question = None
                if current:
                    question = asyncio.create_task(
                        _follow_question(live.hub, current, user_id, fmt, relay)
                    )
            relay.offer("event", message)
    finally:
        if question is not None:
            question.cancel()
            await asyncio.wait((question,))


async def _send_relayed(live: Any, event_id: int, user_id: int | None, fmt: Format) -> None:
    relay = Relay()
    follower = asyncio.create_task(_follow_event(live, event_id, user_id, fmt, relay))
    follower.add_done_callback(lambda _task: relay.wake.set())
    try:
        while True:
            await relay.wake.wait()
            relay.wake.clear()
            if follower.done() and not relay.pending:
                follower.result()  # it failed: raise that here
                return
            for kind in (*RELAY_KINDS, CLOSE):
                message = relay.pending.pop(kind, None)
                if message is None:
                    continue
                if kind == CLOSE:
                    await websocket.close(int(message))
                    return
                await websocket.send(str(message))
    except Exception:
        log.exception("live stream of event %s failed", event_id)
        await _close_failed()
    finally:
        follower.cancel()
        await asyncio.wait((follower,))


@blueprint.websocket("/api/v1/events/<id:event_id>/live")
async def event_live(event_id: int) -> None:
    """Follow an event: which question is current, and that question's results."""
    await websocket.accept()
    fmt = cast(Format, "html" if websocket.args.get("format") == "html" else "json")
    try:
        account = await _websocket_account()
        await get_event(event_id, None)
    except Unauthorized:
        await websocket.close(CLOSE_UNAUTHORIZED, "invalid token")
        return
    except PermissionError:
        await websocket.close(CLOSE_FORBIDDEN_ORIGIN, "origin not allowed")
        return
    except NotFound:
        await websocket.close(CLOSE_NOT_FOUND, "no such event")
        return
    except Exception:
        log.exception("live stream of event %s could not start", event_id)
        await websocket.close(CLOSE_SERVER_ERROR, "server error")
        return
    live = current_app.extensions["live"]
    as_audience = websocket.args.get("view") == "audience"
    user_id = account.id if account and not as_audience else None
    _forget_the_handshake()
    sender = _send_relayed(live, event_id, user_id, fmt)
    await (sender if _screened() else _with_reader(sender, f"event {event_id}"))
