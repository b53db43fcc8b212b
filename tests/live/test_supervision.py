"""Supervision of `serve --workers N` (PostgreSQL: several workers): a worker that dies is
replaced, a crash loop ends the server with a non-zero exit, and workers never outlive
their parent (no orphans holding the port)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

import httpx

from tests.live.servers import listeners, running_server, wait_listening

DEADLINE = 30.0


def tasks(pid: int) -> list[Path]:
    """The threads of a process, from /proc (Linux); none once it has exited."""
    try:
        return list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:  # exited (and reaped) between a check of it and this read
        return []


def children(pid: int) -> set[int]:
    """The worker processes of a parent, from /proc (Linux)."""
    found: set[int] = set()
    for task in tasks(pid):
        with contextlib.suppress(OSError):
            found |= {int(child) for child in (task / "children").read_text().split()}
    return {child for child in found if _is_worker(child)}


def processes(pid: int) -> dict[int, str]:
    """Every child of the parent with its command line (for failure messages)."""
    found: dict[int, str] = {}
    for task in tasks(pid):
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                with contextlib.suppress(OSError):
                    cmdline = Path(f"/proc/{child}/cmdline").read_text()
                    found[int(child)] = cmdline.replace("\0", " ")[-60:]
    return found


def _is_worker(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()
    return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):
        return "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0]
    return False


async def until(condition: object, what: str, within: float = DEADLINE) -> None:
    deadline = time.monotonic() + within
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within}s: {what}")
        await asyncio.sleep(0.1)


async def test_a_worker_killed_with_sigkill_is_replaced_and_logged() -> None:
    async with running_server(workers=2) as server:
        await wait_listening(server, 2)
        await until(lambda: len(children(server.pid)) == 2, "two workers")
        first = children(server.pid)
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        # The supervisor logs the death, then starts the replacement: wait for both.
        await until(
            lambda: f"worker {victim} exited with -9; restarting it" in server.log(100_000),
            f"the death of worker {victim} logged; workers {processes(server.pid)}",
        )
        await until(
            lambda: len(children(server.pid)) == 2 and victim not in children(server.pid),
            f"a new worker in place of the killed one; workers {processes(server.pid)}",
        )
        await wait_listening(server, 2)
        async with httpx.AsyncClient(base_url=server.base_url, trust_env=False) as http:
            for _ in range(10):  # new connections reach both workers, each answers
                assert (
                    await http.get("/healthz", headers={"Connection": "close"})
                ).status_code == 200
        assert server.running


async def test_workers_that_keep_dying_end_the_server_with_a_non_zero_exit() -> None:
    async with running_server({"LIVEPOLLS_WORKER_RESTARTS": "2"}, workers=2) as server:
        await until(lambda: len(children(server.pid)) == 2, "two workers")
        killed: set[int] = set()

        def kill_the_workers() -> bool:
            if not server.running:
                return True
            for pid in children(server.pid) - killed:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            return False

        await until(kill_the_workers, "the server gives up")
        status = await server.wait_exit(DEADLINE)
        assert status not in (None, 0), status
        assert "giving up" in server.log(100_000)


async def test_workers_exit_when_their_parent_is_killed() -> None:
    async with running_server(workers=2) as server:
        await wait_listening(server, 2)
        await until(lambda: len(children(server.pid)) == 2, "two workers")
        workers = children(server.pid)
        os.kill(server.pid, signal.SIGKILL)
        await until(lambda: not any(alive(pid) for pid in workers), "the orphans exit")
        await until(lambda: listeners(server.port) == 0, "the port is free")
