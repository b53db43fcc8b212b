"""WebSocket protocol violations get a close frame with the right code (RFC 6455 7.4.1), not
a silent drop: 1007 for text that is not UTF-8, 1002 for an unmasked frame or a reserved
opcode. Raw frames by hand, since no client library sends these on purpose."""

from __future__ import annotations

import asyncio
import base64
import os
import struct

import httpx
import pytest

from tests.live.servers import HOST, Server, running_server


async def _poll_id(server: Server) -> int:
    async with httpx.AsyncClient(base_url=server.base_url, trust_env=False) as http:
        user = {"name": "Pro", "email": "protocol@example.org", "password": "correct horse"}
        assert (await http.post("/api/v1/users", json=user)).status_code == 201
        credentials = {"email": user["email"], "password": user["password"]}
        token = (await http.post("/api/v1/auth/tokens", json=credentials)).json()["token"]
        body = {"question": "Q?", "options": ["a", "b"], "is_published": True}
        response = await http.post(
            "/api/v1/polls", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        return int(response.json()["id"])


def masked(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes(((0x80 if fin else 0) | opcode, 0x80 | len(payload))) + mask + body


async def close_code_after(server: Server, poll_id: int, frame: bytes) -> int | None:
    """Open a socket, send `frame`, return the code of the server's close frame (None: the
    connection ended without one)."""
    reader, writer = await asyncio.open_connection(HOST, server.port)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /api/v1/polls/{poll_id}/live HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    writer.write(request.encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 101"), head
    writer.write(frame)
    await writer.drain()
    try:
        while True:
            first, second = await asyncio.wait_for(reader.readexactly(2), 5)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack("!H", await reader.readexactly(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", await reader.readexactly(8))[0]
            payload = await reader.readexactly(length)
            if first & 0x0F == 0x8:
                return int(struct.unpack("!H", payload[:2])[0]) if len(payload) >= 2 else None
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (masked(0x1, b"\xff\xfe not utf-8"), 1007),
        (bytes((0x81, 5)) + b"hello", 1002),  # unmasked: clients must mask
        (masked(0x3, b"x"), 1002),  # a reserved opcode
    ],
    ids=["invalid-utf8", "unmasked", "reserved-opcode"],
)
async def test_a_protocol_violation_gets_a_close_frame_with_its_code(
    frame: bytes, code: int
) -> None:
    async with running_server() as server:
        poll_id = await _poll_id(server)
        assert await close_code_after(server, poll_id, frame) == code
