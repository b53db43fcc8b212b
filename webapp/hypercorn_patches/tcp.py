"""Hypercorn's per-connection read loop, leaner, and freed by reference counting when the
connection ends."""

from __future__ import annotations

import asyncio
from collections import deque
from ssl import SSLError
from typing import Any

from hypercorn.asyncio.task_group import TaskGroup
from hypercorn.asyncio.tcp_server import MAX_RECV, TCPServer
from hypercorn.events import Closed, RawData
from hypercorn.protocol import ProtocolWrapper
from hypercorn.typing import ConnectionState as HypercornConnectionState
from hypercorn.utils import parse_socket_addr

from webapp.hypercorn_patches.lean import Waiters


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


async def run(self: TCPServer) -> None:
    """Hypercorn's `TCPServer.run`, with its `_read_data` loop inline (and no `wait_for`
    without a read timeout): three coroutine frames fewer held by every idle connection.
    Then the connection's reference cycle is broken: it holds its protocol, which holds
    the connection's own `protocol_send`. Every connection, a long-lived viewer's above
    all, would otherwise stay in memory after it closed until one of the collector's rare
    full collections (docs/benchmarks.md, "Viewer churn")."""
    # The stream's protocol keeps its waiters on a full send buffer (none yet) in a deque.
    stream_protocol: Any = getattr(self.writer, "_protocol", None)
    if isinstance(getattr(stream_protocol, "_drain_waiters", None), deque):
        stream_protocol._drain_waiters = Waiters(stream_protocol._drain_waiters)
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
