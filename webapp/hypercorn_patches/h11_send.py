"""An HTTP/1.1 response in one write: Hypercorn's `H11Protocol.stream_send`, holding a final
response's head until its body (or its end) comes.

Hypercorn writes the head, each body chunk and the end of the message separately, each
through the connection's send lock, `write` and `drain`: for the usual response of one
chunk that is two `send` calls to the kernel and a third, empty write. Here the head goes
out with the first chunk (or, with no body, with the end), and an end that frames nothing
(a response with a Content-Length) writes nothing. A streamed response still streams: only
the head waits, for the first chunk. Every other event is Hypercorn's own handling.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from itertools import chain

import h11
from hypercorn.events import RawData
from hypercorn.protocol.events import Body, EndBody, Response, StreamClosed
from hypercorn.protocol.events import Event as StreamEvent
from hypercorn.protocol.h11 import H11Protocol
from hypercorn.typing import H11SendableEvent

HELD = "_livepolls_head"
hypercorn_stream_send: Callable[[H11Protocol, StreamEvent], Awaitable[None]] = (
    H11Protocol.stream_send
)


def _bytes(protocol: H11Protocol, event: H11SendableEvent) -> bytes | None:
    """h11's bytes for the event; None where Hypercorn's `_send_h11_event` would send nothing
    (the client broke the protocol first)."""
    try:
        return protocol.connection.send(event)
    except h11.LocalProtocolError:
        if protocol.connection.their_state != h11.ERROR:
            raise
        return None


async def stream_send(self: H11Protocol, event: StreamEvent) -> None:
    if isinstance(event, Response) and event.status_code >= 200:
        headers = list(chain(event.headers, self.config.response_headers("h11")))
        if self.keep_alive_requests >= self.config.keep_alive_max_requests:
            headers.append((b"connection", b"close"))
        head = _bytes(self, h11.Response(headers=headers, status_code=event.status_code))
        if head is not None:
            setattr(self, HELD, head)
    elif isinstance(event, (Body, EndBody)):
        part = h11.Data(data=event.data) if isinstance(event, Body) else h11.EndOfMessage()
        data = _bytes(self, part)  # if h11 refuses it, the head still goes at StreamClosed
        held: bytes = self.__dict__.pop(HELD, b"")
        if held or data:
            await self.send(RawData(data=held + (data or b"")))
    else:
        if isinstance(event, StreamClosed) and HELD in self.__dict__:
            await self.send(RawData(data=self.__dict__.pop(HELD)))
        await hypercorn_stream_send(self, event)
