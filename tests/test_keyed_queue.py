"""KeyedQueue: transactions on the same row wait in-process, others do not."""

from __future__ import annotations

import asyncio

from webapp.db import KeyedQueue


async def test_holders_of_one_key_take_turns_and_other_keys_do_not_wait() -> None:
    queue = KeyedQueue()
    inside: dict[str, int] = {"a": 0, "b": 0}
    most: dict[str, int] = {"a": 0, "b": 0}

    async def hold(key: str) -> None:
        async with queue.hold(key):
            inside[key] += 1
            most[key] = max(most[key], inside[key])
            await asyncio.sleep(0.01)
            inside[key] -= 1

    started = asyncio.get_running_loop().time()
    await asyncio.gather(*(hold(key) for key in "ab" * 5))
    elapsed = asyncio.get_running_loop().time() - started
    assert most == {"a": 1, "b": 1}
    assert elapsed < 0.09  # the two keys' five turns each ran side by side (~0.05 s)
    assert len(queue) == 0  # nothing kept once nobody holds or waits


async def test_a_holder_that_fails_or_is_cancelled_releases_its_turn() -> None:
    queue = KeyedQueue()

    async def fail() -> None:
        async with queue.hold(1):
            raise ValueError

    async def hang() -> None:
        async with queue.hold(1):
            await asyncio.sleep(10)

    waiting = asyncio.create_task(hang())
    await asyncio.sleep(0)
    second = asyncio.create_task(fail())
    await asyncio.sleep(0)
    waiting.cancel()
    results = await asyncio.gather(waiting, second, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    assert isinstance(results[1], ValueError)
    assert len(queue) == 0
    async with asyncio.timeout(1), queue.hold(1):
        pass
