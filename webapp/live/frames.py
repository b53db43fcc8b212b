"""WebSocket frames built once per message and written straight to each viewer's socket.

Every viewer of a poll receives the same messages, so the frame (and, for clients that
negotiated permessage-deflate, its compressed form) is built once and the same bytes are
written to every socket: no per-viewer trip through Quart, the ASGI send, Hypercorn's stream
and wsproto's framing and compressor.

A message shorter than COMPRESS_FROM goes uncompressed even where the client negotiated
permessage-deflate (RFC 7692 lets each message choose, by its RSV1 bit): it fits one TCP
segment either way, so compressing it saves no packet on a crowded network, and costs every
client (a phone, most often) an inflate per message.

Compressed frames are compressed without context (a fresh compressor per message), which
every client decompressor accepts whatever its window holds (RFC 7692: a message need not
refer to earlier ones). So the server keeps no zlib state per connection, and its data frames
never go through wsproto's per-connection compressor: mixing the two would leave the client's
window out of step with wsproto's.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import weakref
import zlib
from collections import OrderedDict
from typing import Any

from wsproto.connection import ConnectionState
from wsproto.extensions import PerMessageDeflate

# How much unsent data a viewer's socket may hold before its updates wait for it to drain
# (and, being latest-only, are replaced by newer ones meanwhile).
HIGH_WATER = 64 * 1024
_CACHED_FRAMES = 256
_DEFLATE_TRAILER = b"\x00\x00\xff\xff"
# Bytes of a message's text from which it is compressed (as the `ws` library's default).
COMPRESS_FROM = 1024

_frames: OrderedDict[tuple[str, int], bytes] = OrderedDict()


def _header(first_byte: int, length: int) -> bytes:
    if length < 126:
        return bytes((first_byte, length))
    if length < 1 << 16:
        return struct.pack("!BBH", first_byte, 126, length)
    return struct.pack("!BBQ", first_byte, 127, length)


def build(message: str, wbits: int = 0) -> bytes:
    """An unmasked server text frame; compressed with a window of 2**wbits when wbits > 0
    and the message is not short."""
    payload = message.encode()
    if not wbits or len(payload) < COMPRESS_FROM:
        return _header(0x81, len(payload)) + payload  # FIN, text
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -wbits)
    data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
    data = data.removesuffix(_DEFLATE_TRAILER)
    return _header(0xC1, len(data)) + data  # FIN, RSV1 (compressed), text


def frame(message: str, wbits: int = 0) -> bytes:
    """`build`, cached: one build per message, however many viewers it goes to."""
    key = (message, wbits)
    cached = _frames.get(key)
    if cached is None:
        cached = _frames[key] = build(message, wbits)
        if len(_frames) > _CACHED_FRAMES:
            _frames.popitem(last=False)
    else:
        _frames.move_to_end(key)  # least recently used goes first
    return cached


def _deflate_bits(connection: Any) -> int:
    """The compression window to use on this connection: 0 for none."""
    for extension in getattr(getattr(connection, "_proto", None), "extensions", ()):
        if isinstance(extension, PerMessageDeflate) and extension.enabled():
            bits = int(extension.server_max_window_bits)
            # zlib cannot make raw deflate with a 256-byte window: send those uncompressed.
            return min(bits, 15) if bits >= 9 else 0
    return 0


PING = b"\x89\x00"  # FIN, ping, no payload
CLOSE_STALLED = 1013  # "try again later": the connection could not keep up
PING_TICK = 0.1  # seconds between two slices of the pings


class FrameSink:
    """Writes prebuilt frames to one Hypercorn WebSocket connection's transport."""

    __slots__ = ("_stream", "_writer", "_transport", "wbits", "stalled_since", "__weakref__")

    def __init__(self, stream: Any, writer: asyncio.StreamWriter) -> None:
        # Weakly: the sink lives in the stream's own scope, and a strong reference back would
        # make a reference cycle of every connection, freed only by a full collection.
        self._stream = weakref.ref(stream)
        self._writer = writer
        self._transport = writer.transport
        self.wbits = _deflate_bits(stream.connection)
        # When the socket last went over HIGH_WATER without draining since (None: it keeps up).
        self.stalled_since: float | None = None

    def _backed_up(self) -> bool:
        if self._transport.get_write_buffer_size() <= HIGH_WATER:
            self.stalled_since = None
            return False
        if self.stalled_since is None:
            self.stalled_since = asyncio.get_running_loop().time()
        return True

    def close_stalled(self) -> None:
        """Drop a connection that has not drained for too long: its unsent data goes with it
        (a close frame is written first, though a peer that reads nothing never sees it)."""
        if not self._transport.is_closing():
            self._transport.write(struct.pack("!BBH", 0x88, 2, CLOSE_STALLED))
            self._transport.abort()

    def _open(self) -> bool:
        stream = self._stream()
        return (
            stream is not None
            and not stream.closed
            and stream.connection.state == ConnectionState.OPEN
            and not self._transport.is_closing()
        )

    def try_send(self, message: str) -> bool:
        """Write the message now if the socket keeps up; False: the caller queues it."""
        if self._backed_up() or not self._open():
            return False
        self._transport.write(frame(message, self.wbits))
        return True

    def ping(self) -> None:
        """A keep-alive ping; the client's pong needs no answer. Skipped while data waits."""
        if self._transport.get_write_buffer_size() == 0 and self._open():
            self._transport.write(PING)

    async def send(self, message: str) -> None:
        """Write the message (at once, before any await), then wait for the socket to drain."""
        if not self._open():
            return
        self._transport.write(frame(message, self.wbits))
        self._backed_up()
        with contextlib.suppress(OSError):  # reset, or dropped by TCP_USER_TIMEOUT
            await self._writer.drain()
        self._backed_up()


def _ping(sinks: list[weakref.ref[FrameSink]]) -> None:
    for ref in sinks:
        sink = ref()
        if sink is not None:
            sink.ping()


class Pinger:
    """Pings every open WebSocket of the process from one task, each every `interval` seconds.

    (Hypercorn's own pings take a task per connection: with thousands of viewers that task
    costs more memory than anything else the connection holds. TCP keepalive and
    TCP_USER_TIMEOUT, set by webapp/server.py, then drop peers that stopped answering.)
    """

    def __init__(self, interval: float, stalled_limit: float = 0) -> None:
        self.interval = interval
        self.stalled_limit = stalled_limit
        self._sinks: weakref.WeakSet[FrameSink] = weakref.WeakSet()
        self._task: asyncio.Task[None] | None = None
        self._stalls: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start pinging (from the app's start-up: the task must not carry a connection's
        context); an interval of 0 means no pings. Also drops viewers whose sockets have not
        drained for `stalled_limit` seconds (0: never)."""
        if self._task is None and self.interval > 0:
            self._task = asyncio.create_task(self._run())
        if self._stalls is None and self.stalled_limit > 0:
            self._stalls = asyncio.create_task(self._drop_stalled())

    async def _drop_stalled(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(1.0, self.stalled_limit / 2))
            now = loop.time()
            for sink in list(self._sinks):
                since = sink.stalled_since
                if since is not None and now - since >= self.stalled_limit:
                    sink.close_stalled()
                    self._sinks.discard(sink)

    def add(self, sink: FrameSink) -> None:
        self._sinks.add(sink)

    def discard(self, sink: FrameSink) -> None:
        self._sinks.discard(sink)

    async def _run(self) -> None:
        # Spread over the interval, a slice every PING_TICK: pinging thousands of sockets at
        # once would bring their pongs back at once, a burst of work that delays whatever
        # update is going out at the time. The sinks are held weakly meanwhile: a plain list
        # would keep every viewer that left during the interval (its whole connection with
        # it) in memory until the interval ends.
        slices = max(1, round(self.interval / PING_TICK))
        while True:
            sinks = [weakref.ref(sink) for sink in self._sinks]
            for i in range(slices):
                _ping(sinks[i::slices])
                await asyncio.sleep(self.interval / slices)

    async def stop(self) -> None:
        for task in (self._task, self._stalls):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._stalls = None
