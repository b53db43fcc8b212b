"""Real server processes for end-to-end tests: `python -m webapp.cli serve` on a free port.

Each server runs on the test database (tests.conftest.DB_URL) with cheap password hashing, logs
to a file of its own (shown when a test using it fails), and is always stopped on the way out:
SIGTERM first, SIGKILL if it does not exit in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx

from tests.conftest import DB_URL

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0
START_ATTEMPTS = 3


class ServerError(RuntimeError):
    """A server process did not start (its log is in the message)."""


def free_port() -> int:
    """A port nobody listens on right now (another process may still take it: see retries)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": DB_URL,
            "SECRET_KEY": "live-test-secret-key",
            "LIVEPOLLS_ARGON2_TIME_COST": "1",
            "LIVEPOLLS_ARGON2_MEMORY_KIB": "8",
            "LIVEPOLLS_RATE_LIMITS": "false",
            # Heartbeats only where a test asks for them: they interleave with the messages
            # a test waits for (tests/live/test_heartbeat.py runs them).
            "LIVEPOLLS_HEARTBEAT_S": "0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


@dataclass
class Server:
    port: int
    process: asyncio.subprocess.Process
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def live_url(self, poll_id: int, token: str | None = None) -> str:
        url = f"ws://{HOST}:{self.port}/api/v1/polls/{poll_id}/live"
        return url if token is None else f"{url}?token={quote(token)}"

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    def rss_kib(self) -> int:
        """Resident memory of the server process, from /proc (Linux)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise ServerError(f"no VmRSS for pid {self.pid}")

    def log(self, last: int = 4000) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return text[-last:]

    async def wait_exit(self, within: float) -> int | None:
        """The exit status, or None if the process is still running after `within` seconds."""
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(self.process.wait(), within)
        return None

    async def stop(self, grace: float = STOP_TIMEOUT) -> int:
        """SIGTERM, then SIGKILL if it has not exited within `grace` seconds; returns the status."""
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            if await self.wait_exit(grace) is None:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
        return await self.process.wait()


async def _wait_ready(server: Server, within: float) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(base_url=server.base_url, timeout=2, trust_env=False) as http:
        while time.monotonic() < deadline:
            if not server.running:
                raise ServerError(f"server exited with {server.process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get("/openapi.json")).status_code == 200:
                    return
            await asyncio.sleep(0.05)
    raise ServerError(f"server not ready within {within}s")


async def start_server(
    env: dict[str, str] | None = None, workers: int = 1, ready_timeout: float = READY_TIMEOUT
) -> Server:
    """Start one server and wait until it answers HTTP; retries on another port if it dies.

    With several workers, the process is their parent: signals go to it, not to a worker.
    """
    failures: list[str] = []
    for _ in range(START_ATTEMPTS):
        port = free_port()
        fd, log_name = tempfile.mkstemp(prefix=f"livepolls-server-{port}-", suffix=".log")
        with os.fdopen(fd, "wb") as log_file:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "webapp.cli",
                "serve",
                "--host",
                HOST,
                "--port",
                str(port),
                "--workers",
                str(workers),
                cwd=ROOT,
                env=server_env(env),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=asyncio.subprocess.STDOUT,
            )
        server = Server(port, process, Path(log_name))
        try:
            await _wait_ready(server, ready_timeout)
            return server
        except BaseException as exc:
            await server.stop()
            failures.append(f"port {port}: {exc}\n{server.log()}")
            server.log_path.unlink(missing_ok=True)
            if not isinstance(exc, ServerError):
                raise
    raise ServerError("could not start a server:\n" + "\n".join(failures))


def listeners(port: int) -> int:
    """Sockets listening on this TCP port on the machine, from /proc/net/tcp (Linux)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[1].rsplit(":", 1)[1] == f"{port:04X}" and fields[3] == "0A":
                    count += 1
    return count


async def wait_listening(server: Server, count: int, within: float = READY_TIMEOUT) -> None:
    """Until `count` workers listen on the server's port: the first to answer HTTP says
    nothing about the others, which may still be starting on a busy machine."""
    deadline = time.monotonic() + within
    while listeners(server.port) < count:
        if time.monotonic() > deadline:
            raise ServerError(f"{listeners(server.port)} of {count} workers listening")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running_server(
    env: dict[str, str] | None = None, workers: int = 1
) -> AsyncIterator[Server]:
    """A started server, stopped (killed if need be) however the block ends; its log goes to
    stderr at the end."""
    server = await start_server(env, workers)
    try:
        yield server
    finally:
        await server.stop()
        # Captured by pytest, so shown only when the test fails.
        print(f"--- server on port {server.port} (pid {server.pid}) ---", file=sys.stderr)
        print(server.log(), file=sys.stderr)
        server.log_path.unlink(missing_ok=True)


@contextlib.asynccontextmanager
async def running_servers(
    count: int, env: dict[str, str] | None = None
) -> AsyncIterator[list[Server]]:
    """Several servers on the same database, started one after another (each migrates first)."""
    async with contextlib.AsyncExitStack() as stack:
        yield [await stack.enter_async_context(running_server(env)) for _ in range(count)]
