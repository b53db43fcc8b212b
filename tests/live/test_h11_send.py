"""An HTTP/1.1 response goes out in one write (webapp/hypercorn_patches/h11_send.py): the head
waits for the first body chunk or the end, an end that frames nothing writes nothing, and a
streamed response still streams; what the client receives is the same response."""

from __future__ import annotations

from typing import Any

import h11
import httpx
import pytest
from hypercorn.asyncio.worker_context import WorkerContext
from hypercorn.config import Config
from hypercorn.events import Event, RawData
from hypercorn.protocol.events import Body, EndBody, Response, StreamClosed
from hypercorn.protocol.h11 import H11Protocol
from hypercorn.typing import ConnectionState
from quart import Quart

from tests.conftest import MakeMember, MakePoll
from tests.live.test_churn import served
from webapp import hypercorn_patches
from webapp.hypercorn_patches import h11_send


class Wire:
    """The protocol's writes, and the response a client parses out of them."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    async def send(self, event: Event) -> None:
        if isinstance(event, RawData):
            self.writes.append(event.data)

    def response(self) -> tuple[h11.Response, bytes, bool]:
        client = h11.Connection(h11.CLIENT)
        client.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
        client.send(h11.EndOfMessage())
        client.receive_data(b"".join(self.writes))
        head, body, ended = None, b"", False
        while (event := client.next_event()) is not h11.NEED_DATA:
            if isinstance(event, h11.Response):
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                ended = True
                break
        assert head is not None
        return head, body, ended


async def _protocol(wire: Wire) -> H11Protocol:
    """A server-side h11 protocol that has just read `GET /`."""
    protocol = H11Protocol(
        None,  # type: ignore[arg-type]
        Config(),
        WorkerContext(None),
        None,  # type: ignore[arg-type]
        ConnectionState({}),
        False,
        ("127.0.0.1", 1),
        ("127.0.0.1", 2),
        wire.send,
    )
    protocol.connection.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert isinstance(protocol.connection.next_event(), h11.Request)
    assert isinstance(protocol.connection.next_event(), h11.EndOfMessage)
    return protocol


async def _send(protocol: H11Protocol, *events: Any) -> None:
    for event in events:
        await h11_send.stream_send(protocol, event)


def _head(length: int | None = None) -> Response:
    headers = [(b"content-type", b"application/json")]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    return Response(stream_id=1, headers=headers, status_code=200)


async def test_a_response_with_a_length_goes_in_one_write_and_its_end_writes_nothing() -> None:
    wire = Wire()
    protocol = await _protocol(wire)
    await _send(protocol, _head(2))
    assert wire.writes == []  # the head waits for the body
    await _send(protocol, Body(stream_id=1, data=b"{}"), EndBody(stream_id=1))
    assert len(wire.writes) == 1
    head, body, ended = wire.response()
    assert (head.status_code, body, ended) == (200, b"{}", True)
    assert (b"content-type", b"application/json") in head.headers
    assert protocol.connection.our_state is h11.DONE


async def test_a_response_without_a_body_goes_out_at_its_end() -> None:
    wire = Wire()
    protocol = await _protocol(wire)
    await _send(protocol, Response(stream_id=1, headers=[(b"etag", b'"1"')], status_code=304))
    assert wire.writes == []
    await _send(protocol, EndBody(stream_id=1))
    assert len(wire.writes) == 1
    head, body, ended = wire.response()
    assert (head.status_code, body, ended) == (304, b"", True)


async def test_a_streamed_response_still_streams() -> None:
    """Without a length (chunked), each chunk goes when it comes; only the head waits, for
    the first one; the end writes the last chunk's marker."""
    wire = Wire()
    protocol = await _protocol(wire)
    await _send(protocol, _head(), Body(stream_id=1, data=b"a,b\n"))
    assert len(wire.writes) == 1 and wire.writes[0].endswith(b"a,b\n\r\n")
    await _send(protocol, Body(stream_id=1, data=b"1,2\n"))
    assert len(wire.writes) == 2
    await _send(protocol, EndBody(stream_id=1))
    assert wire.writes[-1] == b"0\r\n\r\n"
    head, body, ended = wire.response()
    assert (head.status_code, body, ended) == (200, b"a,b\n1,2\n", True)


async def test_a_head_still_held_when_the_stream_closes_is_written_first() -> None:
    wire = Wire()
    protocol = await _protocol(wire)
    await _send(protocol, _head(0), StreamClosed(stream_id=1))
    assert len(wire.writes) == 1 and wire.writes[0].startswith(b"HTTP/1.1 200 ")


async def test_a_head_whose_body_h11_refuses_still_goes_when_the_stream_closes() -> None:
    """More body than the Content-Length said: h11 refuses the chunk (an error, as from
    Hypercorn), and the head is written when the stream closes, as Hypercorn would have."""
    wire = Wire()
    protocol = await _protocol(wire)
    await _send(protocol, _head(1))
    with pytest.raises(h11.LocalProtocolError):
        await _send(protocol, Body(stream_id=1, data=b"too long"))
    assert wire.writes == []
    await _send(protocol, StreamClosed(stream_id=1))
    assert len(wire.writes) == 1 and wire.writes[0].startswith(b"HTTP/1.1 200 ")


def test_the_patch_takes_where_the_others_do() -> None:
    assert hypercorn_patches.apply() is True
    assert H11Protocol.stream_send is h11_send.stream_send


async def test_our_server_answers_request_after_request_on_one_connection(
    app: Quart, make_member: MakeMember, make_poll: MakePoll
) -> None:
    """Through our patched Hypercorn: whole responses (a 200 with a body, a 304 without, a
    HEAD's, a 404 problem), one after another on one kept-alive connection."""
    poll = await make_poll(await make_member())
    path = f"/api/v1/polls/{poll['id']}"
    one = httpx.Limits(max_connections=1)
    async with served(app) as url, httpx.AsyncClient(limits=one) as client:
        base = url.replace("ws://", "http://")
        first = await client.get(base + path)
        assert first.status_code == 200 and first.json()["id"] == poll["id"]
        again = await client.get(base + path, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        head = await client.head(base + path)  # the head alone, with the body's length
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == first.headers["content-length"]
        missing = await client.get(base + "/api/v1/polls/999999")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        assert (await client.get(base + path)).json() == first.json()
