"""Lean containers for an idle connection: lists where asyncio and wsproto keep deques."""

from __future__ import annotations

import asyncio
from typing import Any

from hypercorn.asyncio.worker_context import EventWrapper


class Waiters(list[Any]):
    """A list in place of the deques that asyncio's queues, events and streams and wsproto
    keep their waiters (and a queue its items) in: a deque allocates a block of 64 slots
    however few it holds, 760 bytes in all, and an idle connection's hold none or one."""

    __slots__ = ()

    def popleft(self) -> Any:
        return self.pop(0)


def lean_event(event: asyncio.Event) -> asyncio.Event:
    event._waiters = Waiters()  # type: ignore[assignment]
    return event


class LeanEventWrapper(EventWrapper):
    """Hypercorn's event (each connection's `can_read` is one), on a lean asyncio.Event."""

    def __init__(self) -> None:
        super().__init__()
        lean_event(self._event)


class LeanQueue(asyncio.Queue[Any]):
    """asyncio.Queue, with its waiters and items in lists."""

    def __init__(self, maxsize: int = 0) -> None:
        super().__init__(maxsize)
        self._getters = Waiters()
        self._putters = Waiters()
        lean_event(self._finished)  # type: ignore[attr-defined]

    def _init(self, maxsize: int) -> None:
        self._queue = Waiters()
