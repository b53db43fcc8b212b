"""Group commit: requests for one key that arrive while that key's batch runs wait in the
process and then go in together, as one batch.

The first request for a quiet key goes alone and at once; while its batch runs, newcomers
queue; when it ends, everything queued (up to `max_batch`) is the next batch. The batch size
thus follows the load with no timer: at one request at a time nothing waits, under a burst
each batch takes what arrived during the one before. `run` answers a batch with one outcome
per request, in order: a value, or the exception that request raises.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")
T = TypeVar("T")


class GroupCommit(Generic[K, R, T]):
    def __init__(
        self,
        run: Callable[[K, list[R]], Awaitable[list[T | BaseException]]],
        max_batch: int = 100,
    ) -> None:
        self._run = run
        self._max = max_batch
        self._waiting: dict[K, list[tuple[R, asyncio.Future[T]]]] = {}
        self._leaders: dict[K, asyncio.Task[None]] = {}

    def running(self, key: K) -> bool:
        """Whether a batch for this key is running (or about to)."""
        return key in self._leaders

    def waiting(self, key: K) -> int:
        """Requests for this key waiting for the next batch."""
        return len(self._waiting.get(key, ()))

    async def submit(self, key: K, request: R) -> T:
        """The request's outcome once its batch has run (its exception raised). The batch
        runs whether or not the caller still waits: a cancelled caller's request still
        happens, as a shielded write would."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        # Retrieved even when the caller no longer waits, so asyncio does not log it.
        future.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._waiting.setdefault(key, []).append((request, future))
        if key not in self._leaders:
            # In a context of its own: not the first caller's request (see Hub._schedule).
            self._leaders[key] = asyncio.create_task(self._lead(key), context=contextvars.Context())
        return await asyncio.shield(future)

    async def _lead(self, key: K) -> None:
        try:
            while waiting := self._waiting.pop(key, None):
                batch, rest = waiting[: self._max], waiting[self._max :]
                if rest:
                    self._waiting[key] = rest
                try:
                    outcomes = await self._run(key, [request for request, _ in batch])
                except BaseException as exc:
                    failed: list[T | BaseException] = [exc] * len(batch)
                    _settle(batch, failed)
                    raise
                _settle(batch, outcomes)
        finally:
            del self._leaders[key]
            for _, future in self._waiting.pop(key, []):  # only when cancelled meanwhile
                if not future.done():
                    future.set_exception(asyncio.CancelledError())


def _settle(
    batch: Sequence[tuple[object, asyncio.Future[T]]], outcomes: list[T | BaseException]
) -> None:
    assert len(outcomes) == len(batch), "one outcome per request"
    for (_, future), outcome in zip(batch, outcomes, strict=True):
        if future.done():
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


# A batch's transaction: each request's outcome, in order, and the key's seq after the last
# change (None: nothing changed); it raises when the database refuses one of its writes.
Together = Callable[[K, list[R]], Awaitable[tuple[list[T | BaseException], int | None]]]


async def together_or_alone(
    key: K,
    batch: list[R],
    together: Together[K, R, T],
    *,
    undo: Callable[[R], None],
    written: Callable[[int], None],
    changed: Callable[[K, int], None],
) -> list[T | BaseException]:
    """Run the batch in one transaction (`together`); when the database refuses one of its
    writes (a guest ballot raced by another process, a person gone meanwhile), the batch is
    undone and each request goes alone, its own error its outcome. `undo` forgets a
    request's part in the undone transaction (its idempotency claim), `written` is told the
    size of each transaction that committed, `changed` the new seq of each."""
    if len(batch) > 1:
        try:
            outcomes, seq = await together(key, batch)
        except Exception:
            log.info("a batch of %s for %s went one by one", len(batch), key)
        else:
            written(len(batch))
            if seq is not None:
                changed(key, seq)
            return outcomes
    alone: list[T | BaseException] = []
    for request in batch:
        undo(request)
        try:
            outcomes, seq = await together(key, [request])
        except Exception as exc:
            alone.append(exc)
            continue
        written(1)
        if seq is not None:
            changed(key, seq)
        alone.append(outcomes[0])
    return alone
