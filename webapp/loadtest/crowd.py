"""The parent's side of the viewer processes (webapp.loadtest.viewers): start them, follow
their reports, add them up, stop them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from webapp.loadtest.viewers import OPENING_S

STOP_TIMEOUT_S = 30.0


@dataclass
class Child:
    process: asyncio.subprocess.Process
    count: int
    last: dict[str, Any] = field(default_factory=dict)
    rises: list[tuple[int, float]] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    final: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.Task[None] | None = None
    reports: int = 0
    heard: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            report = json.loads(line)
            self.rises += [(int(seq), float(at)) for seq, at in report["rises"]]
            self.last = report
            self.reports += 1
            async with self.heard:
                self.heard.notify_all()
            if report["kind"] in {"ready", "final"}:
                self.ready.set()
            if report["kind"] == "final":
                self.final.set()
        self.ready.set()  # the process ended: nothing more will come
        self.final.set()
        async with self.heard:
            self.heard.notify_all()

    @property
    def had_viewers(self) -> bool:
        return int(self.last.get("connected", 0)) > 0

    @property
    def caught_up_to(self) -> int | None:
        """The lowest seq its watching viewers have, or None when none watch any more."""
        floor = self.last.get("floor")
        return int(floor) if floor is not None else None


@dataclass(frozen=True)
class Totals:
    connected: int
    watching: int
    failed: dict[str, int]
    closed: dict[str, int]
    messages: int
    cpu_s: list[float]


class Crowd:
    """`viewers` viewers on `url`, spread evenly over `processes` child processes."""

    def __init__(self, url: str, viewers: int, processes: int, batch: int, deflate: bool):
        self.url = url
        self.viewers = viewers
        self.processes = processes
        self.batch = batch
        self.deflate = deflate
        self.children: list[Child] = []
        self.heard = asyncio.Condition()

    async def start(self) -> None:
        first = 0
        for n in range(self.processes):
            count = self.viewers // self.processes + (n < self.viewers % self.processes)
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "webapp.loadtest.viewers",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=1 << 24,
            )
            child = Child(process, count, heard=self.heard)
            orders = {
                "url": self.url,
                "count": count,
                "first": first,
                "batch": max(1, self.batch // self.processes),
                "deflate": self.deflate,
            }
            assert process.stdin is not None
            process.stdin.write((json.dumps(orders) + "\n").encode())
            await process.stdin.drain()
            child.reader = asyncio.create_task(child.read())
            self.children.append(child)
            first += count

    async def wait_ready(self, within: float = OPENING_S + STOP_TIMEOUT_S) -> None:
        """Until every child reported its viewers open (each does by its OPENING_S), or
        `within` seconds: then the run goes on with the viewers reported so far."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await asyncio.gather(*(child.ready.wait() for child in self.children))

    async def until(self, condition: Callable[[], bool], within: float) -> bool:
        """Wait (at most `within` s) until `condition()` holds after some child's report."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within), self.heard:
                await self.heard.wait_for(condition)
        return condition()

    async def next_reports(self, within: float = 5.0) -> None:
        """Until every running child has reported once more (what it saw until now)."""
        seen = [child.reports for child in self.children]
        await self.until(
            lambda: all(
                child.reports > before or child.final.is_set()
                for child, before in zip(self.children, seen, strict=True)
            ),
            within,
        )

    def totals(self) -> Totals:
        failed: Counter[str] = Counter()
        closed: Counter[str] = Counter()
        for child in self.children:
            failed.update(child.last.get("failed", {}))
            closed.update(child.last.get("closed", {}))
        for child in self.children:
            if child.process.returncode not in {None, 0}:
                failed["viewer process died"] += child.count - child.last.get("connected", 0)
        return Totals(
            connected=sum(int(c.last.get("connected", 0)) for c in self.children),
            watching=sum(int(c.last.get("watching", 0)) for c in self.children),
            failed=dict(failed),
            closed=dict(closed),
            messages=sum(int(c.last.get("messages", 0)) for c in self.children),
            cpu_s=[float(c.last.get("cpu_s", 0.0)) for c in self.children],
        )

    def floors(self) -> list[list[tuple[int, float]]]:
        """Each process's floor rises, for the processes that had viewers."""
        return [child.rises for child in self.children if child.had_viewers]

    def caught_up(self, seq: int) -> bool:
        """Whether every viewer still watching has `seq`."""
        return all((at := child.caught_up_to) is None or at >= seq for child in self.children)

    async def stop(self) -> None:
        for child in self.children:
            stdin = child.process.stdin
            if stdin is not None and not stdin.is_closing():
                with contextlib.suppress(ConnectionError):
                    stdin.write(b"stop\n")
                    await stdin.drain()
                    stdin.close()
        for child in self.children:
            try:
                await asyncio.wait_for(child.final.wait(), STOP_TIMEOUT_S)
                await asyncio.wait_for(child.process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    child.process.kill()
                await child.process.wait()
            if child.reader is not None:
                await child.reader
