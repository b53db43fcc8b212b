"""KeyedQueue: transactions on the same row wait in-process, others do not."""

from __future__ import annotations

import asyncio

from webapp.db import KeyedQueue


async def test_holders_of_one_key_take_turns_in_order_and_other_keys_do_not_wait() -> None:
    queue = KeyedQueue()
    entered: list[str] = []
    inside = {name: asyncio.Event() for name in ("a1", "a2", "a3", "b1")}
    leave = {name: asyncio.Event() for name in inside}

    async def hold(key: str, name: str) -> None:
        async with queue.hold(key):
            entered.append(name)
            inside[name].set()
            await leave[name].wait()

    # Started in this order, so a2 and a3 have asked for "a" before b1 asks for "b".
    tasks = [asyncio.create_task(hold(name[0], name)) for name in ("a1", "a2", "a3", "b1")]
    async with asyncio.timeout(2):
        await inside["b1"].wait()  # "b" is free while a1 holds "a"
        assert entered == ["a1", "b1"]  # a2 and a3 wait for a1
        leave["b1"].set()
        leave["a1"].set()
        await inside["a2"].wait()
        assert entered == ["a1", "b1", "a2"]  # one holder of "a" at a time, in turn
        leave["a2"].set()
        await inside["a3"].wait()
        leave["a3"].set()
        await asyncio.gather(*tasks)
    assert entered == ["a1", "b1", "a2", "a3"]
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
