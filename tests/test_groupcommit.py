"""Group commit on its own: a quiet key goes alone and at once; what arrives while a batch
runs goes together in the next; each request gets its own outcome."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers import until
from webapp.groupcommit import GroupCommit


class Recorder:
    """Runs batches of numbers, holding each batch until released; negative numbers fail."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()

    async def run(self, key: str, requests: list[int]) -> list[int | BaseException]:
        self.batches.append(requests)
        await self.release.wait()
        return [ValueError(n) if n < 0 else n * 10 for n in requests]


async def test_a_lone_request_goes_at_once_and_newcomers_wait_for_one_batch_together() -> None:
    recorder = Recorder()
    group: GroupCommit[str, int, int] = GroupCommit(recorder.run)
    first = asyncio.create_task(group.submit("poll", 1))
    await until(lambda: recorder.batches == [[1]], "the first request runs alone, unwaited")
    later = [asyncio.create_task(group.submit("poll", n)) for n in (2, -3, 4)]
    other_key = asyncio.create_task(group.submit("other", 5))
    await until(lambda: group.waiting("poll") == 3, "newcomers wait for the running batch")
    await until(lambda: [5] in recorder.batches, "another key does not wait for this one")
    recorder.release.set()
    assert await first == 10
    assert await later[0] == 20 and await later[2] == 40
    with pytest.raises(ValueError):
        await later[1]
    assert await other_key == 50
    assert sorted(recorder.batches) == [[1], [2, -3, 4], [5]]
    assert group.waiting("poll") == 0


async def test_batches_are_bounded() -> None:
    recorder = Recorder()
    group: GroupCommit[str, int, int] = GroupCommit(recorder.run, max_batch=2)
    tasks = [asyncio.create_task(group.submit("poll", n)) for n in range(5)]
    recorder.release.set()
    assert [await task for task in tasks] == [0, 10, 20, 30, 40]
    assert all(len(batch) <= 2 for batch in recorder.batches)
    assert [n for batch in recorder.batches for n in batch] == [0, 1, 2, 3, 4]


async def test_a_caller_that_stops_waiting_does_not_stop_its_request() -> None:
    recorder = Recorder()
    group: GroupCommit[str, int, int] = GroupCommit(recorder.run)
    gone = asyncio.create_task(group.submit("poll", 7))
    await until(lambda: recorder.batches == [[7]], "the request runs")
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    recorder.release.set()
    assert await group.submit("poll", 8) == 80  # the leader ran the cancelled one through
    assert recorder.batches == [[7], [8]]
