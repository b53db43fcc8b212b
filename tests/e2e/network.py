"""A bad network between the browser and the server: a TCP proxy that fails on demand.

Like tests/live/proxy.py (which takes a server's database away), with the two ways a phone's
network fails:

- `drop_hard()`: stop listening and reset every open connection (the server restarts, the
  Wi-Fi access point reboots): the browser learns at once, new connections are refused;
- `drop_silently()`: nothing more gets through, in either direction, and nothing says so:
  no FIN, no reset; new connections are accepted and then hear nothing (a NAT that forgot the
  connection, a phone between two networks). Only a timeout can tell;
- `restore()`: new connections work again. Connections caught in a silent drop stay dead,
  as they do when the path they used is gone.

Everything stays on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass(eq=False)
class _Link:
    """One browser connection and the server connection behind it (none while silent)."""

    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    dead: bool = False  # caught in a silent drop: forwards nothing, ever


class Network:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.silent = False
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._never = asyncio.Event()  # what a dead link waits for

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _pipe(
        self, link: _Link, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                if link.dead:
                    await self._never.wait()  # set only when the network is closed
                    break
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = _Link([writer], dead=self.silent)
        self._links.add(link)
        try:
            if link.dead:  # accepted, then nothing: the handshake never completes
                await self._never.wait()
                writer.close()
                return
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
            except OSError:
                writer.close()
                return
            link.writers.append(upstream_writer)
            await asyncio.gather(
                self._pipe(link, reader, upstream_writer),
                self._pipe(link, upstream_reader, writer),
            )
        finally:
            self._links.discard(link)

    async def drop_hard(self) -> None:
        """No new connections, and every open one reset."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for link in list(self._links):
            for writer in link.writers:
                _reset(writer)
        self._links.clear()

    async def drop_silently(self) -> None:
        """Nothing gets through any more, and nobody is told."""
        self.silent = True
        for link in self._links:
            link.dead = True

    async def restore(self) -> None:
        """New connections get through again (those of a silent drop stay dead)."""
        self.silent = False
        if self._server is None:
            await self.start()

    async def close(self) -> None:
        await self.drop_hard()
        self._never.set()


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:  # an RST, not a polite FIN
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
    writer.close()


@contextlib.asynccontextmanager
async def network_to(host: str, port: int) -> AsyncIterator[Network]:
    network = Network(host, port)
    await network.start()
    try:
        yield network
    finally:
        await network.close()
