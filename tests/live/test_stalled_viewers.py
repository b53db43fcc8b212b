"""Viewers that never read their socket cost bounded memory, kernel included, and are dropped
once they have not drained for LIVEPOLLS_STALLED_VIEWER_S; viewers that read keep up.

Against a real server (the bound is the kernel's send buffer, set on the listening socket,
and the server's own high-water mark). The never-reading clients shrink their receive
buffers, so the data backs up in the server's send buffers, which `ss` reports per socket.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import socket
import subprocess
import time

import httpx
from websockets.asyncio.client import connect

from tests.helpers import until
from tests.live.servers import HOST, Server, running_server

STALLED = 40
SEND_BUFFER = 16 * 1024
STALLED_S = 3
OPTIONS = [f"Option {n} " + "x" * 150 for n in range(20)]  # big fragments fill buffers fast
SKMEM = re.compile(r"skmem:\(([^)]*)\)")


def stalled_viewer(server: Server, poll_id: int) -> socket.socket:
    """A WebSocket client that completes the handshake, then never reads again."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    sock.connect((HOST, server.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /api/v1/polls/{poll_id}/live?format=html HTTP/1.1\r\nHost: {HOST}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(1)  # byte by byte: nothing after the headers is read
    assert answer.startswith(b"HTTP/1.1 101"), answer
    return sock


def server_sockets(port: int) -> dict[int, dict[str, int]]:
    """The server side of each established connection: peer port -> skmem fields."""
    out = subprocess.run(
        ["ss", "-tmnH", "state", "established", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found: dict[int, dict[str, int]] = {}
    lines = out.splitlines()
    for line, memory in zip(lines[::2], lines[1::2], strict=False):
        peer = int(line.split()[3].rsplit(":", 1)[1])
        match = SKMEM.search(memory)
        if match:
            fields = {}
            for part in match.group(1).split(","):
                name = part.rstrip("0123456789")
                fields[name] = int(part[len(name) :])
            found[peer] = fields
    return found


async def test_never_reading_viewers_hold_bounded_memory_and_are_dropped() -> None:
    env = {
        "LIVEPOLLS_SEND_BUFFER_BYTES": str(SEND_BUFFER),
        "LIVEPOLLS_STALLED_VIEWER_S": str(STALLED_S),
        "LIVEPOLLS_LIVE_INTERVAL_MS": "10",
    }
    async with (
        running_server(env) as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=10, trust_env=False) as http,
    ):
        owner = {"name": "Owner", "email": "stall-owner@example.org", "password": "correct horse"}
        assert (await http.post("/api/v1/users", json=owner)).status_code == 201
        credentials = {"email": owner["email"], "password": owner["password"]}
        token = (await http.post("/api/v1/auth/tokens", json=credentials)).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        body = {"question": "Which?", "options": OPTIONS, "is_published": True}
        poll = (await http.post("/api/v1/polls", json=body, headers=auth)).json()
        poll_id, option_ids = poll["id"], [o["id"] for o in poll["options"]]

        stalled = [stalled_viewer(server, poll_id) for _ in range(STALLED)]
        ports = {sock.getsockname()[1] for sock in stalled}
        rss_before = server.rss_kib()
        url = f"ws://{HOST}:{server.port}/api/v1/polls/{poll_id}/live"
        async with connect(url, proxy=None, open_timeout=5) as reader:
            # Every vote is a change: each one's fragment goes to every viewer.
            peak = 0
            last_seq = 0
            deadline = time.monotonic() + 20
            n = 0
            while time.monotonic() < deadline:
                response = await http.post(
                    f"/api/v1/polls/{poll_id}/votes",
                    json={"option_id": option_ids[n % len(option_ids)]},
                    headers=auth,
                )
                assert response.status_code in (200, 201)
                last_seq = response.json()["seq"]
                n += 1
                if n % 20 == 0:
                    sockets = server_sockets(server.port)
                    held = [sockets[p]["w"] for p in ports if p in sockets]
                    peak = max([peak, *held])
                    if held and min(held) > SEND_BUFFER:  # every stalled socket backed up
                        break
            sockets = server_sockets(server.port)
            buffers = [sockets[p]["tb"] for p in ports if p in sockets]
            print(f"votes {n}, peak unsent per socket {peak} B, send buffers {max(buffers)} B")
            assert max(buffers) <= 4 * SEND_BUFFER, buffers
            assert peak <= 4 * SEND_BUFFER, peak
            # The reading viewer has the latest counts.
            seen = 0
            while seen < last_seq:
                message = await asyncio.wait_for(reader.recv(), 10)
                if '"type":"results"' in str(message):
                    seen = int(re.search(r'"seq":(\d+)', str(message)).group(1))  # type: ignore[union-attr]
            # The stalled ones are dropped by the server once they have not drained.
            await until(
                lambda: not (ports & set(server_sockets(server.port))),
                "the stalled viewers are dropped",
                within=STALLED_S * 5 + 10,
                every=0.1,
            )
            assert reader.state.name == "OPEN"
        growth = server.rss_kib() - rss_before
        print(f"server RSS growth {growth} KiB with {STALLED} stalled viewers")
        assert growth < 40 * 1024, f"the server's RSS grew {growth} KiB"
        for sock in stalled:
            with contextlib.suppress(OSError):
                sock.close()
