"""Viewers on a poll's live WebSocket, held by child processes (webapp.loadtest.viewers).

One Python process reads only so many messages a second, and the load test must not become
what it measures, so viewers are spread over processes. Each child reads its orders as one
JSON line on stdin (the WebSocket URL, how many viewers, in batches of how many), opens them,
and writes one JSON line on stdout every half second: viewers connected, failures and closes
by kind, its CPU time, and the new rises of its seq floor (webapp.loadtest.stats.Floor), with
times on the machine's monotonic clock, which every process shares. A line "stop" (or the end
of stdin) closes the viewers; the last line it writes says "final". Ctrl-C is the parent's to
handle: a child ignores SIGINT and stops when told.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from webapp.loadtest.stats import Floor

REPORT_EVERY_S = 0.5
# The longest the viewers take to open: one still connecting, or still without its first
# message, then is a failure ("timeout") or is left out of the ready report, so a server
# that accepts connections and never answers cannot hold a run (whatever --batch is).
OPENING_S = 120.0
RESULTS_PREFIX = '{"type":"results"'
SEQ_KEY = '"seq":'


def seq_of(message: str | bytes) -> int | None:
    """The seq of a `results` message (compact JSON, type first), without parsing it all:
    at thousands of viewers, a full json.loads per message is most of the client's CPU."""
    if isinstance(message, bytes):
        message = message.decode()
    if not message.startswith(RESULTS_PREFIX):
        return None
    at = message.rfind(SEQ_KEY)
    if at < 0:
        return None
    end = at + len(SEQ_KEY)
    stop = end
    while stop < len(message) and message[stop].isdigit():
        stop += 1
    return int(message[end:stop]) if stop > end else None


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def failure_kind(exc: BaseException) -> str:
    """A failed connection, by kind: refused, timeout, an HTTP status, or the error's name."""
    from websockets.exceptions import InvalidStatus

    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, InvalidStatus):
        return f"http {exc.response.status_code}"
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"os error {exc.errno}"
    return type(exc).__name__


@dataclass
class Crowd:
    """One child's viewers and what happened to them."""

    floor: Floor = field(default_factory=Floor)
    connected: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    closed: Counter[str] = field(default_factory=Counter)
    messages: int = 0
    stopping: bool = False
    sent_rises: int = 0
    sockets: set[Any] = field(default_factory=set)
    expected: int = 0
    opened: int = 0  # viewers that had their first message, failed, or closed before it
    settled: asyncio.Event = field(default_factory=asyncio.Event)

    def attempted(self, done: int = 1) -> None:
        """`done` more viewers are past their opening: failed, or with their first message
        (until then a viewer is not in the floor, and a vote could pass it unmeasured)."""
        self.opened += done
        if self.opened >= self.expected:
            self.settled.set()

    def report(self, kind: str) -> dict[str, Any]:
        rises = self.floor.rises[self.sent_rises :]
        self.sent_rises = len(self.floor.rises)
        return {
            "kind": kind,
            "connected": self.connected,
            "watching": self.floor.viewers,
            "failed": dict(self.failed),
            "closed": dict(self.closed),
            "messages": self.messages,
            "floor": self.floor.value,
            "rises": rises,
            "cpu_s": round(cpu_seconds(), 3),
        }


def _connector() -> Any:
    from websockets.asyncio.client import connect

    class Connect(connect):
        """websockets' connect, but a redirect is an error: never another address."""

        def process_redirect(self, exc: Exception) -> Exception | str:
            return exc

    return Connect


async def watch(
    crowd: Crowd,
    viewer: int,
    url: str,
    deflate: bool,
    gate: asyncio.Semaphore,
    deadline: float,
) -> None:
    """One viewer: connect (at most `gate`'s count at once, by the loop's time `deadline`),
    then note every results seq."""
    from websockets.exceptions import ConnectionClosed

    connect = _connector()
    try:
        async with asyncio.timeout_at(deadline), gate:
            ws = await connect(
                url,
                compression="deflate" if deflate else None,
                proxy=None,
                open_timeout=30,
                ping_interval=None,  # the server pings; a busy client must not time itself out
                close_timeout=5,
                max_size=1 << 16,
                max_queue=4,
                user_agent_header="livepolls-loadtest",
            )
    except Exception as exc:
        crowd.failed[failure_kind(exc)] += 1
        crowd.attempted()
        return
    crowd.connected += 1
    crowd.sockets.add(ws)
    greeted = False
    try:
        async for message in ws:
            crowd.messages += 1
            seq = seq_of(message)
            if seq is not None:
                crowd.floor.seen(viewer, seq, time.monotonic())
                if not greeted:
                    greeted = True
                    crowd.attempted()
    except ConnectionClosed:
        pass
    finally:
        if not greeted:
            crowd.attempted()
        crowd.sockets.discard(ws)
        crowd.floor.drop(viewer, time.monotonic())
        if not crowd.stopping:
            code = ws.close_code
            crowd.closed[str(code if code is not None else 1006)] += 1


def emit(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")
    sys.stdout.flush()


async def serve_orders() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    orders = json.loads(await reader.readline())
    crowd = Crowd(expected=int(orders["count"]))
    crowd.attempted(0)  # none to open: settled at once
    gate = asyncio.Semaphore(int(orders["batch"]))
    first = int(orders["first"])
    deadline = loop.time() + OPENING_S
    viewers = [
        asyncio.create_task(
            watch(crowd, first + n, orders["url"], bool(orders["deflate"]), gate, deadline)
        )
        for n in range(int(orders["count"]))
    ]

    async def ready() -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(deadline):
                await crowd.settled.wait()
        emit(crowd.report("ready"))

    async def status() -> None:
        while True:
            await asyncio.sleep(REPORT_EVERY_S)
            emit(crowd.report("status"))

    readiness = asyncio.create_task(ready())
    reporter = asyncio.create_task(status())
    await reader.readline()  # "stop", or the end of stdin: the parent is done or gone
    crowd.stopping = True
    reporter.cancel()
    readiness.cancel()
    await asyncio.gather(*(ws.close() for ws in list(crowd.sockets)), return_exceptions=True)
    for task in viewers:  # those still connecting, or reading
        task.cancel()
    await asyncio.gather(*viewers, return_exceptions=True)
    emit(crowd.report("final"))


def raise_file_limit() -> int:
    """Raise the soft limit of open files to the hard limit; the limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise_file_limit()
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(serve_orders())
    os._exit(0)  # skip the interpreter's teardown of thousands of sockets


if __name__ == "__main__":
    main()
