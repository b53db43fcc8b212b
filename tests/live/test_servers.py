"""The live WebSocket end to end: real `webapp.cli serve` processes (Hypercorn), real clients.

HTTP goes through httpx and WebSockets through the `websockets` package, or by hand where a
library will not misbehave on purpose (never reading, several frames in one write). Every wait
is bounded. The tests with several processes (LISTEN/NOTIFY, --workers) exist only when the
tests run on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import secrets
import signal
import socket
import struct
import sys
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import DB_KIND, DB_URL
from tests.live.servers import (
    HOST,
    Server,
    running_server,
    running_servers,
    server_env,
    wait_listening,
)
from webapp.live import frames

PASSWORD = "correct horse"
INTERVAL = 0.075  # the default LIVEPOLLS_LIVE_INTERVAL_MS
MESSAGE_TIMEOUT = 3.0
_names = itertools.count(1)
_RUN = secrets.token_hex(4)  # emails stay unique even on a database that was not cleaned

Message = dict[str, Any]


# --- HTTP ------------------------------------------------------------------------------------


@dataclass
class User:
    id: int
    email: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Api:
    """The few API calls these tests need, against one server."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def user(self) -> User:
        name = f"live{next(_names)}-{_RUN}"
        email = f"{name}@example.org"
        body = {"name": name, "email": email, "password": PASSWORD}
        response = await self.http.post("/api/v1/users", json=body)
        assert response.status_code == 201, response.text
        user_id = response.json()["id"]
        response = await self.http.post(
            "/api/v1/auth/tokens", json={"email": email, "password": PASSWORD}
        )
        assert response.status_code == 201, response.text
        return User(user_id, email, response.json()["token"])

    async def users(self, count: int, concurrency: int = 20) -> list[User]:
        slots = asyncio.Semaphore(concurrency)

        async def one() -> User:
            async with slots:
                return await self.user()

        return list(await asyncio.gather(*(one() for _ in range(count))))

    async def poll(
        self, owner: User, *, is_published: bool = True, options: list[str] | None = None
    ) -> Message:
        body = {
            "question": "Best editor?",
            "options": options or ["vim", "emacs", "nano"],
            "is_published": is_published,
        }
        response = await self.http.post("/api/v1/polls", json=body, headers=owner.auth)
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def patch(self, owner: User, poll: Message, **changes: Any) -> None:
        response = await self.http.patch(
            f"/api/v1/polls/{poll['id']}", json=changes, headers=owner.auth
        )
        assert response.status_code == 200, response.text

    async def delete(self, owner: User, poll: Message) -> None:
        response = await self.http.delete(f"/api/v1/polls/{poll['id']}", headers=owner.auth)
        assert response.status_code == 204, response.text

    async def vote(self, user: User, poll: Message, index: int) -> None:
        response = await self.http.post(
            f"/api/v1/polls/{poll['id']}/votes",
            json={"option_id": poll["options"][index]["id"]},
            headers=user.auth,
        )
        assert response.status_code in (200, 201), response.text

    async def withdraw(self, user: User, poll: Message) -> None:
        response = await self.http.delete(f"/api/v1/polls/{poll['id']}/votes", headers=user.auth)
        assert response.status_code == 204, response.text

    async def votes(self, pairs: Iterable[tuple[User, int]], poll: Message) -> None:
        """Cast these votes all at once (the client's connection limit is the only queue)."""
        await asyncio.gather(*(self.vote(user, poll, index) for user, index in pairs))


@contextlib.asynccontextmanager
async def api_for(server: Server, connections: int = 100) -> AsyncIterator[Api]:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(
        base_url=server.base_url, timeout=15, limits=limits, trust_env=False
    ) as http:
        yield Api(http)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    async with running_server() as started:
        yield started


@pytest.fixture
async def api(server: Server) -> AsyncIterator[Api]:
    async with api_for(server) as client:
        yield client


# --- WebSocket clients -------------------------------------------------------------------------


def watch(
    server: Server,
    poll_id: int,
    token: str | None = None,
    *,
    in_query: bool = False,
    **options: Any,
) -> connect:
    """A live connection to a poll, authenticated by header (or ?token=) when a token is given."""
    headers = {"Authorization": f"Bearer {token}"} if token and not in_query else None
    return connect(
        server.live_url(poll_id, token if in_query else None),
        additional_headers=headers,
        proxy=None,
        open_timeout=5,
        close_timeout=2,
        **options,
    )


async def receive(ws: ClientConnection, within: float = MESSAGE_TIMEOUT) -> Message:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), within)))


async def next_of(ws: ClientConnection, kind: str, within: float = MESSAGE_TIMEOUT) -> Message:
    """The next message of this type, skipping others (viewer counts come and go)."""
    deadline = time.monotonic() + within
    while True:
        message = await receive(ws, max(0.0, deadline - time.monotonic()))
        if message["type"] == kind:
            return message


async def results_until(
    ws: ClientConnection, done: Callable[[Message], bool], within: float
) -> list[tuple[float, Message]]:
    """Results messages with their arrival time, up to the first one for which done() holds."""
    deadline = time.monotonic() + within
    seen: list[tuple[float, Message]] = []
    while True:
        try:
            message = await next_of(ws, "results", max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            last = seen[-1][1] if seen else None
            raise AssertionError(f"no matching results within {within}s; last: {last}") from None
        seen.append((time.monotonic(), message))
        if done(message):
            return seen


def total_is(total: int) -> Callable[[Message], bool]:
    return lambda message: message["total_votes"] == total


async def closed_with(
    ws: ClientConnection, within: float = MESSAGE_TIMEOUT
) -> tuple[int | None, list[Message]]:
    """Read until the server closes: its close code, and the messages that came before."""
    messages: list[Message] = []
    deadline = time.monotonic() + within
    try:
        while True:
            messages.append(await receive(ws, max(0.0, deadline - time.monotonic())))
    except ConnectionClosed as closed:
        return (closed.rcvd.code if closed.rcvd is not None else None), messages
    except TimeoutError:
        raise AssertionError(f"still open after {within}s; got {messages}") from None


async def viewer_count_reaches(
    ws: ClientConnection, count: int, within: float = MESSAGE_TIMEOUT
) -> None:
    deadline = time.monotonic() + within
    seen: list[int] = []
    while not seen or seen[-1] != count:
        try:
            message = await next_of(ws, "viewers", max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            raise AssertionError(f"viewer count never {count} in {within}s: {seen}") from None
        seen.append(message["count"])


def counts(message: Message) -> list[int]:
    return [option["votes"] for option in message["options"]]


TEXT, BINARY, CONTINUATION, CLOSE, PING = 0x1, 0x2, 0x0, 0x8, 0x9


def client_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """One masked frame, as a client must send it."""
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        header = bytes([(0x80 if fin else 0) | opcode, 0x80 | length])
    else:
        header = bytes([(0x80 if fin else 0) | opcode, 0x80 | 126]) + struct.pack("!H", length)
    return header + mask + bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))


class RawWebSocket:
    """A WebSocket client by hand, for what a library will not do: never read, or put several
    frames in one write."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.rsv1: list[bool] = []  # per frame read: the "compressed" bit
        self.response = ""

    @classmethod
    async def open(
        cls,
        server: Server,
        poll_id: int,
        receive_buffer: int | None = None,
        extensions: str | None = None,
    ) -> RawWebSocket:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if receive_buffer is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            sock.setblocking(False)
            await asyncio.wait_for(loop.sock_connect(sock, (HOST, server.port)), 5)
            key = base64.b64encode(os.urandom(16)).decode()
            request = (
                f"GET /api/v1/polls/{poll_id}/live HTTP/1.1\r\n"
                f"Host: {HOST}:{server.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                + (f"Sec-WebSocket-Extensions: {extensions}\r\n" if extensions else "")
                + "\r\n"
            )
            await asyncio.wait_for(loop.sock_sendall(sock, request.encode()), 5)
            client = cls(sock)
            while b"\r\n\r\n" not in client.buffer:
                assert await client._fill(5), f"closed during the handshake: {client.buffer!r}"
            response, _, client.buffer = client.buffer.partition(b"\r\n\r\n")
            assert response.startswith(b"HTTP/1.1 101"), response
            client.response = response.decode()
        except BaseException:
            sock.close()
            raise
        return client

    async def _fill(self, within: float) -> bool:
        """Read more; False at end of stream."""
        loop = asyncio.get_running_loop()
        chunk = await asyncio.wait_for(loop.sock_recv(self.sock, 65536), within)
        self.buffer += chunk
        return bool(chunk)

    async def send(self, *frames: bytes) -> None:
        """All the frames in one write, so the server reads them together."""
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.sock_sendall(self.sock, b"".join(frames)), 5)

    async def _frame(self, deadline: float) -> tuple[int, bytes] | None:
        """The server's next frame (servers do not mask), or None at end of stream."""
        while True:
            if len(self.buffer) >= 2:
                opcode, length = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F
                start = 2
                if length == 126:
                    length, start = struct.unpack("!H", self.buffer[2:4])[0], 4
                elif length == 127:
                    length, start = struct.unpack("!Q", self.buffer[2:10])[0], 10
                if len(self.buffer) >= start + length:
                    payload = self.buffer[start : start + length]
                    self.rsv1.append(bool(self.buffer[0] & 0x40))
                    self.buffer = self.buffer[start + length :]
                    return opcode, payload
            if not await self._fill(max(0.0, deadline - time.monotonic())):
                return None

    async def closing_handshake(self, within: float) -> int | None:
        """Wait for the server's close frame and answer it; the server must then end the TCP
        connection (RFC 6455 7.1.1). Returns the close code."""
        deadline = time.monotonic() + within
        code: int | None = None
        try:
            while (frame := await self._frame(deadline)) is not None:
                opcode, payload = frame
                if opcode == CLOSE:
                    code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                    await self.send(client_frame(CLOSE, payload))
                    while await self._fill(max(0.0, deadline - time.monotonic())):
                        pass
                    return code
        except TimeoutError:
            if code is None:
                raise AssertionError(f"no close frame within {within}s") from None
            raise AssertionError(
                f"closed with {code} and answered, but the server kept the TCP connection open"
            ) from None
        raise AssertionError("the server ended the connection without a close frame")

    async def next_text(self, within: float = MESSAGE_TIMEOUT) -> tuple[bool, bytes]:
        """The next text frame: (compressed, payload)."""
        deadline = time.monotonic() + within
        while (frame := await self._frame(deadline)) is not None:
            opcode, payload = frame
            if opcode == TEXT:
                return self.rsv1[-1], payload
        raise AssertionError("the server ended the connection")

    def close(self) -> None:
        self.sock.close()


# --- 1. updates after every change ----------------------------------------------------------


async def test_compressed_updates_each_inflate_on_their_own_and_plain_ones_match(
    server: Server, api: Api
) -> None:
    """With permessage-deflate the server compresses each message of 1 KiB or more without
    context (built once for every viewer, no zlib state kept per connection): each must
    inflate with a fresh decompressor and equal what a client without compression receives;
    a short one (a viewer count) goes uncompressed."""
    owner, voter = await api.users(2)
    # Options long enough that every results message is over 1 KiB.
    poll = await api.poll(owner, options=[f"{name} " + "x" * 190 for name in "abcde"])
    offer = "permessage-deflate; client_max_window_bits"
    deflated = await RawWebSocket.open(server, poll["id"], extensions=offer)
    plain = await RawWebSocket.open(server, poll["id"])
    try:
        assert "permessage-deflate" in deflated.response.lower()
        received: list[tuple[dict, dict]] = []
        short_plain = 0
        for option in (None, 0, 1, 2):
            if option is not None:
                await api.vote(voter, poll, option)
            while True:  # past viewer counts
                compressed, payload = await deflated.next_text()
                if not compressed:
                    assert len(payload) < frames.COMPRESS_FROM, "only short messages go plain"
                    short_plain += 1
                    continue
                inflated = zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff")
                assert len(inflated) >= frames.COMPRESS_FROM
                message = json.loads(inflated)
                assert message["type"] == "results"
                break
            while True:
                compressed, payload = await plain.next_text()
                assert not compressed
                plain_message = json.loads(payload)
                if plain_message["type"] == "results":
                    break
            received.append((message, plain_message))
        while not short_plain:  # the count of two viewers, sent since the plain one joined
            compressed, payload = await deflated.next_text()
            assert not compressed and json.loads(payload)["type"] in ("viewers", "heartbeat")
            short_plain += 1
    finally:
        deflated.close()
        plain.close()
    assert [a == b for a, b in received] == [True] * 4
    assert [counts(a)[:3] for a, _ in received] == [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]


async def test_snapshot_then_an_update_after_vote_change_and_withdrawal(
    server: Server, api: Api
) -> None:
    owner, voter = await api.users(2)
    poll = await api.poll(owner)
    async with watch(server, poll["id"]) as ws:
        first = await receive(ws)
        expected = {
            "type": "results",
            "poll_id": poll["id"],
            "seq": 0,
            "options": [
                {"id": option["id"], "text": option["text"], "votes": 0, "percent": 0}
                for option in poll["options"]
            ],
            "total_votes": 0,
            "voters": 0,
            "closed": False,
        }
        # Clients must ignore fields they do not know, so the server may add some.
        assert {key: first.get(key) for key in expected} == expected
        await api.vote(voter, poll, 0)
        voted = await next_of(ws, "results")
        await api.vote(voter, poll, 1)
        changed = await next_of(ws, "results")
        await api.withdraw(voter, poll)
        withdrawn = await next_of(ws, "results")

    assert first["seq"] < voted["seq"] < changed["seq"] < withdrawn["seq"]
    assert (counts(voted), voted["total_votes"], voted["voters"]) == ([1, 0, 0], 1, 1)
    assert (counts(changed), changed["total_votes"], changed["voters"]) == ([0, 1, 0], 1, 1)
    assert (counts(withdrawn), withdrawn["total_votes"], withdrawn["voters"]) == ([0, 0, 0], 0, 0)


async def test_close_sends_poll_and_results_and_delete_sends_deleted_then_1000(
    server: Server, api: Api
) -> None:
    owner = await api.user()
    poll = await api.poll(owner)
    async with watch(server, poll["id"]) as ws:
        first = await next_of(ws, "results")
        await api.patch(owner, poll, closed=True)
        poll_message = await next_of(ws, "poll")
        results = await next_of(ws, "results")
        await api.delete(owner, poll)
        code, before_close = await closed_with(ws)

    assert poll_message["poll_id"] == poll["id"] and poll_message["closed"] is True
    assert poll_message["closed_at"] is not None
    assert results["closed"] is True and results["seq"] > first["seq"]
    assert [m["type"] for m in before_close if m["type"] != "viewers"] == ["deleted"]
    assert code == 1000


# --- 2. refusals -------------------------------------------------------------------------------


async def test_drafts_and_unknown_polls_close_with_4404_but_the_creator_sees_the_draft(
    server: Server, api: Api
) -> None:
    owner, other = await api.users(2)
    draft = await api.poll(owner, is_published=False)

    for token in (other.token, None):
        async with watch(server, draft["id"], token) as ws:
            code, messages = await closed_with(ws)
        assert (code, messages) == (4404, []), f"token={token!r}"
    async with watch(server, draft["id"] + 1000) as ws:
        assert await closed_with(ws) == (4404, [])

    for in_query in (False, True):
        async with watch(server, draft["id"], owner.token, in_query=in_query) as ws:
            first = await receive(ws)
        assert first["type"] == "results" and first["poll_id"] == draft["id"], in_query
        assert counts(first) == [0, 0, 0]


async def test_an_invalid_token_closes_with_4401(server: Server, api: Api) -> None:
    owner = await api.user()
    poll = await api.poll(owner)
    for in_query in (False, True):
        for poll_id in (poll["id"], poll["id"] + 1000):
            async with watch(server, poll_id, "not-a-token", in_query=in_query) as ws:
                result = await closed_with(ws)
            assert result == (4401, []), f"in_query={in_query}, poll_id={poll_id}"


# What a client sends in one write.
OVERSIZE: dict[str, list[bytes]] = {
    "2 KB text": [client_frame(TEXT, b"x" * 2048)],
    "2 KB binary": [client_frame(BINARY, b"x" * 2048)],
    "1025 bytes": [client_frame(TEXT, b"x" * 1025)],
    "2 KB text then a small one": [client_frame(TEXT, b"x" * 2048), client_frame(TEXT, b"hi")],
    "3 fragments of 500 bytes": [
        client_frame(TEXT, b"x" * 500, fin=False),
        client_frame(CONTINUATION, b"x" * 500, fin=False),
        client_frame(CONTINUATION, b"x" * 500, fin=False),
        client_frame(CONTINUATION, b"", fin=True),
    ],
    "1200 bytes of UTF-8 in 600 characters": [client_frame(TEXT, ("\u00e9" * 600).encode())],
}


async def test_client_frames_up_to_1024_bytes_are_ignored(server: Server, api: Api) -> None:
    owner = await api.user()
    poll = await api.poll(owner)
    async with watch(server, poll["id"]) as ws:
        await next_of(ws, "results")
        for message in ("hello", "x" * 1024, b"x" * 1024, "\u00e9" * 512):
            await ws.send(message)
        await api.vote(owner, poll, 0)
        after = await next_of(ws, "results")
    assert after["total_votes"] == 1


async def test_an_oversize_client_frame_closes_with_1009(server: Server, api: Api) -> None:
    owner = await api.user()
    poll = await api.poll(owner)
    async with watch(server, poll["id"]) as ws:
        await next_of(ws, "results")
        await ws.send("x" * 2048)
        code, _ = await closed_with(ws)
    assert code == 1009


@pytest.mark.parametrize("frames", OVERSIZE.values(), ids=OVERSIZE.keys())
async def test_any_oversize_client_message_closes_with_1009_and_ends_the_connection(
    server: Server, api: Api, frames: list[bytes]
) -> None:
    """1009, then the closing handshake completes and the server stops counting the viewer,
    whatever the shape of the oversize message and whatever follows it."""
    owner = await api.user()
    poll = await api.poll(owner)
    async with watch(server, poll["id"]) as observer:
        await next_of(observer, "results")
        client = await RawWebSocket.open(server, poll["id"])
        try:
            await viewer_count_reaches(observer, 2)
            await client.send(*frames)
            code = await client.closing_handshake(within=2)
        finally:
            client.close()
        assert code == 1009
        await viewer_count_reaches(observer, 1)


# --- 3. a client that never reads ------------------------------------------------------------


def server_send_queue(server: Server, sock: socket.socket) -> int:
    """Bytes the server's kernel holds for this client and has not had acknowledged."""
    client_port = sock.getsockname()[1]
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        remote_port = int(fields[2].rsplit(":", 1)[1], 16)
        if (local_port, remote_port) == (server.port, client_port):
            return int(fields[4].split(":")[0], 16)
    raise AssertionError(f"no server socket for client port {client_port}")


async def test_a_stalled_client_neither_delays_others_nor_grows_memory(
    server: Server, api: Api
) -> None:
    """Over loopback the kernel buffers megabytes for a client that does not read, so the
    server's own writes to it do not block here: this checks that the backlog stays out of
    everyone else's way and out of the server's memory."""
    owner = await api.user()
    voters = await api.users(200)
    options = [f"option {i:02d} " + "x" * 180 for i in range(20)]
    poll = await api.poll(owner, options=options)
    # Clients that never read, with receive buffers as small as the kernel allows.
    stalled = [await RawWebSocket.open(server, poll["id"], receive_buffer=1024) for _ in range(5)]
    try:
        async with watch(server, poll["id"]) as reader:
            await next_of(reader, "results")
            rss_before = server.rss_kib()
            reading = asyncio.create_task(results_until(reader, total_is(200), within=30))
            await api.votes(((voter, i % 20) for i, voter in enumerate(voters)), poll)
            votes_done = time.monotonic()
            try:
                seen = await asyncio.wait_for(reading, 2.5)
            finally:
                reading.cancel()
            rss_after = server.rss_kib()
            backlog = [server_send_queue(server, client.sock) for client in stalled]
    finally:
        for client in stalled:
            client.close()

    assert min(backlog) > 1024, f"the stalled clients did not fall behind: {backlog}"
    arrived, last = seen[-1]
    assert arrived - votes_done < 2.0, f"final counts came {arrived - votes_done:.2f}s late"
    assert counts(last) == [10] * 20 and last["voters"] == 200
    grown_mib = (rss_after - rss_before) / 1024
    assert grown_mib < 50, f"server RSS grew by {grown_mib:.1f} MiB"


# --- 4. bursts are coalesced -------------------------------------------------------------------


async def test_a_burst_of_votes_gives_few_updates_and_exact_final_counts(
    server: Server, api: Api
) -> None:
    owner = await api.user()
    voters = await api.users(100)
    poll = await api.poll(owner)
    async with contextlib.AsyncExitStack() as stack:
        viewers = [await stack.enter_async_context(watch(server, poll["id"])) for _ in range(3)]
        for ws in viewers:
            await next_of(ws, "results")
        async with asyncio.TaskGroup() as group:
            readers = [
                group.create_task(results_until(ws, total_is(100), within=10)) for ws in viewers
            ]
            started = time.monotonic()
            await api.votes(((voter, i % 2) for i, voter in enumerate(voters)), poll)
        seen_by_viewer = [task.result() for task in readers]

    for seen in seen_by_viewer:
        duration = seen[-1][0] - started
        messages = [message for _, message in seen]
        seqs = [message["seq"] for message in messages]
        assert seqs == sorted(set(seqs)), "seq must grow strictly"
        bound = duration / INTERVAL + 2
        assert len(messages) <= bound, f"{len(messages)} updates in {duration:.2f}s"
        assert len(messages) < 100, "no coalescing at all"
        last = messages[-1]
        assert (counts(last), last["total_votes"], last["voters"]) == ([50, 50, 0], 100, 100)


# --- keep-alive pings ------------------------------------------------------------------------


async def test_every_live_socket_is_pinged_each_interval() -> None:
    async with (
        running_server({"LIVEPOLLS_PING_INTERVAL_S": "1"}) as server,
        api_for(server) as api,
    ):
        owner = await api.user()
        poll = await api.poll(owner)
        clients = [await RawWebSocket.open(server, poll["id"]) for _ in range(3)]
        try:
            started = time.monotonic()
            pinged_at = []
            for client in clients:
                deadline = started + 5
                while (frame := await client._frame(deadline)) is not None:
                    if frame[0] == PING:
                        pinged_at.append(time.monotonic() - started)
                        break
        finally:
            for client in clients:
                client.close()
    assert len(pinged_at) == 3, "every viewer gets a ping"
    assert max(pinged_at) < 2.5, pinged_at


async def test_behind_a_trusted_proxy_live_sockets_still_get_direct_frames_and_pings() -> None:
    """LIVEPOLLS_PROXY_HOPS wraps the app in a proxy-headers middleware that copies the ASGI
    scope; the socket's frame writer, which the server adds to the scope later, must still
    reach the app (else no pings, and no direct frames)."""
    env = {"LIVEPOLLS_PROXY_HOPS": "1", "LIVEPOLLS_PING_INTERVAL_S": "1"}
    async with running_server(env) as server, api_for(server) as api:
        owner, voter = await api.users(2)
        poll = await api.poll(owner)
        client = await RawWebSocket.open(server, poll["id"])
        try:
            pinged = False
            deadline = time.monotonic() + 3
            while not pinged and (frame := await client._frame(deadline)) is not None:
                pinged = frame[0] == PING
            await api.vote(voter, poll, 1)
            while True:
                _, payload = await client.next_text()
                message = json.loads(payload)
                if message["type"] == "results" and message["total_votes"] == 1:
                    break
        finally:
            client.close()
    assert pinged


# --- 7. graceful shutdown ------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_stop_signal_closes_every_viewer_with_1012_and_exits_promptly(
    signum: signal.Signals,
) -> None:
    async with running_server() as server, api_for(server) as api:
        owner = await api.user()
        poll = await api.poll(owner)
        async with contextlib.AsyncExitStack() as stack:
            viewers = [
                await stack.enter_async_context(watch(server, poll["id"])),
                await stack.enter_async_context(watch(server, poll["id"], owner.token)),
                await stack.enter_async_context(
                    watch(server, poll["id"], owner.token, in_query=True)
                ),
            ]
            for ws in viewers:
                await next_of(ws, "results")
            sent = time.monotonic()
            server.process.send_signal(signum)
            closes = await asyncio.gather(*(closed_with(ws, within=5) for ws in viewers))
            status = await server.wait_exit(max(0.1, 5 - (time.monotonic() - sent)))
            elapsed = time.monotonic() - sent

    assert all(code in (1012, 1001) for code, _ in closes), closes
    assert status is not None, f"the server was still running 5s after {signum.name}"
    assert status == 0, f"exit status {status}"
    assert elapsed < 5


# --- 5, 6. several processes on PostgreSQL -------------------------------------------------

if DB_KIND == "postgres":
    LISTENERS = """
        SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = ANY($1::text[])
    """
    # Each process names its LISTEN connection livepolls-listen-<pid>: only these servers'
    # count, not a backend of an earlier test's server that PostgreSQL has yet to reap.

    def listener_names(*servers: Server) -> list[str]:
        return [f"livepolls-listen-{server.pid}" for server in servers]

    async def listener_pids(names: list[str]) -> set[int]:
        conn = await asyncpg.connect(DB_URL, timeout=5)
        try:
            return {row["pid"] for row in await conn.fetch(LISTENERS, names)}
        finally:
            await conn.close()

    async def kill_listeners(names: list[str]) -> set[int]:
        conn = await asyncpg.connect(DB_URL, timeout=5)
        try:
            query = f"SELECT pid, pg_terminate_backend(pid) FROM ({LISTENERS}) l"
            return {row["pid"] for row in await conn.fetch(query, names)}
        finally:
            await conn.close()

    async def wait_for_listeners(names: list[str], not_in: set[int], within: float) -> set[int]:
        count = len(names)
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            pids = await listener_pids(names) - not_in
            if len(pids) >= count:
                return pids
            await asyncio.sleep(0.1)
        raise AssertionError(f"fewer than {count} new LISTEN connections after {within}s")

    async def test_changes_through_one_server_reach_viewers_of_another() -> None:
        async with (
            running_servers(2) as (a, b),
            api_for(a) as api_a,
            api_for(b) as api_b,
        ):
            owner, first, second, *crowd = await api_a.users(63)
            poll = await api_a.poll(owner)
            async with watch(a, poll["id"]) as on_a, watch(b, poll["id"]) as on_b:
                await next_of(on_a, "results")
                await next_of(on_b, "results")
                await api_a.vote(first, poll, 1)
                one = await results_until(on_b, total_is(1), within=3)
                await api_b.vote(second, poll, 2)
                two = await results_until(on_a, total_is(2), within=3)
                # A burst through both servers at once: both sets of viewers end exact.
                await asyncio.gather(
                    api_a.votes(((voter, 0) for voter in crowd[:30]), poll),
                    api_b.votes(((voter, 1) for voter in crowd[30:]), poll),
                )
                async with asyncio.TaskGroup() as group:
                    burst = [
                        group.create_task(results_until(ws, total_is(62), within=5))
                        for ws in (on_a, on_b)
                    ]
                await api_a.patch(owner, poll, closed=True)
                closed_on_b = await next_of(on_b, "poll")
                await api_a.delete(owner, poll)
                deleted_on_b = await closed_with(on_b)

        assert counts(one[-1][1]) == [0, 1, 0]
        assert counts(two[-1][1]) == [0, 1, 1]
        for task in burst:
            last = task.result()[-1][1]
            assert (counts(last), last["voters"]) == ([30, 31, 1], 62)
        assert closed_on_b["closed"] is True
        code, messages = deleted_on_b
        assert [m["type"] for m in messages if m["type"] != "viewers"][-1] == "deleted"
        assert code == 1000

    async def test_two_workers_serve_every_viewer_and_stop_together_on_sigterm() -> None:
        async with running_server(workers=2) as server, api_for(server) as api:
            owner, *voters = await api.users(31)
            poll = await api.poll(owner)
            async with contextlib.AsyncExitStack() as stack:
                # Each worker has its own listening socket: the kernel spreads connections.
                viewers = [
                    await stack.enter_async_context(watch(server, poll["id"])) for _ in range(8)
                ]
                for ws in viewers:
                    await next_of(ws, "results")
                await api.votes(((voter, 2) for voter in voters), poll)
                async with asyncio.TaskGroup() as group:
                    for ws in viewers:
                        group.create_task(results_until(ws, total_is(30), within=5))
                sent = time.monotonic()
                server.process.send_signal(signal.SIGTERM)
                closes = await asyncio.gather(*(closed_with(ws, within=5) for ws in viewers))
                status = await server.wait_exit(max(0.1, 5 - (time.monotonic() - sent)))

        assert all(code in (1012, 1001) for code, _ in closes), closes
        assert status == 0, f"exit status {status} (None: still running 5s after SIGTERM)"

    async def test_two_workers_each_take_a_share_of_the_connections() -> None:
        """Each worker listens on its own SO_REUSEPORT socket, so a burst of connections
        spreads over both. Viewer counts are per process: a viewer on a worker holding n
        viewers sees n, so summing 1/n over all viewers counts the workers that took some."""
        async with running_server(workers=2) as server, api_for(server) as api:
            await wait_listening(server, 2)
            owner = await api.user()
            poll = await api.poll(owner)
            async with contextlib.AsyncExitStack() as stack:
                viewers = [
                    await stack.enter_async_context(watch(server, poll["id"])) for _ in range(24)
                ]
                # Each viewer's latest count, until every worker's viewers report it in full:
                # counts never exceed a worker's viewers, so the sum below reaches the number
                # of workers that took some only once every count is final.
                latest = [0] * len(viewers)
                settled = asyncio.Event()

                async def follow(index: int, ws: ClientConnection) -> None:
                    while True:
                        latest[index] = (await next_of(ws, "viewers", 30))["count"]
                        if all(latest) and round(sum(1 / count for count in latest), 6) == 2:
                            settled.set()

                readers = [asyncio.create_task(follow(i, ws)) for i, ws in enumerate(viewers)]
                try:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(settled.wait(), 15)
                finally:
                    for reader in readers:
                        reader.cancel()
                    await asyncio.gather(*readers, return_exceptions=True)
                final = list(latest)
        assert all(final), final
        assert round(sum(1 / count for count in final), 6) == 2, sorted(final)

    async def test_a_second_server_on_a_port_in_use_fails_instead_of_sharing_it() -> None:
        """Per-worker SO_REUSEPORT sockets must not let another server join the port."""
        async with running_server(workers=2) as server:
            second = await asyncio.create_subprocess_exec(
                *[sys.executable, "-m", "webapp.cli", "serve", "--host", HOST],
                *["--port", str(server.port), "--workers", "2"],
                env=server_env(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            try:
                output, _ = await asyncio.wait_for(second.communicate(), 30)
            except TimeoutError:
                second.kill()
                await second.wait()
                raise AssertionError("the second server kept running on a port in use") from None
        assert second.returncode != 0
        assert b"in use" in output, output[-500:]

    async def test_viewers_catch_up_after_the_listen_connections_are_killed() -> None:
        """B is frozen (SIGSTOP) while the listeners die and A takes votes, so B surely misses
        those NOTIFYs: once it runs again it must notice, reconnect and reload its viewers."""
        async with running_servers(2) as (a, b), api_for(a) as api_a:
            owner, *voters = await api_a.users(7)
            poll = await api_a.poll(owner)
            async with watch(a, poll["id"]) as on_a, watch(b, poll["id"]) as on_b:
                await next_of(on_a, "results")
                await next_of(on_b, "results")
                b.process.send_signal(signal.SIGSTOP)
                try:
                    killed = await kill_listeners(listener_names(a, b))
                    assert len(killed) == 2, f"expected the two servers' listeners: {killed}"
                    await api_a.votes(((voter, 0) for voter in voters[:4]), poll)
                    await results_until(on_a, total_is(4), within=5)
                finally:
                    b.process.send_signal(signal.SIGCONT)
                seen_on_b = await results_until(on_b, total_is(4), within=10)
                await wait_for_listeners(listener_names(a, b), not_in=killed, within=10)
                # Back to normal: later votes reach B through NOTIFY at once.
                await api_a.votes(((voter, 1) for voter in voters[4:]), poll)
                async with asyncio.TaskGroup() as group:
                    after_on_a = group.create_task(results_until(on_a, total_is(6), within=3))
                    after_on_b = group.create_task(results_until(on_b, total_is(6), within=3))

        assert counts(seen_on_b[-1][1]) == [4, 0, 0]
        assert counts(after_on_a.result()[-1][1]) == counts(after_on_b.result()[-1][1]) == [4, 2, 0]
