"""Real servers as subprocesses: start, wait until every worker is ready, measure, stop.

- `hypercorn`: the app's own command, `python -m webapp.cli serve --port P --workers N`
  (migrations, then Hypercorn with the app's patches and socket options).
- `uvicorn`: the reference, `uvicorn webapp.asgi:app --loop uvloop --http httptools
  --ws websockets-sansio --workers N` on the same, already migrated database.

Both get DATABASE_URL and SECRET_KEY, and no LIVEPOLLS_ENV. A server counts as ready when each
worker has logged that it serves (Hypercorn: "Running on", Uvicorn: "Application startup
complete") and the API answers. `rss_bytes` sums VmRSS over the server's whole process tree,
read from /proc. `stop` sends SIGTERM and, when the server has not exited after a grace
period, kills its whole process group; it records whether the shutdown was clean. Servers
still running when the harness exits are killed (atexit). `Profiler` runs py-spy on one worker
for a while and writes collapsed stacks.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
READY_LINE = {"hypercorn": "Running on", "uvicorn": "Application startup complete"}
_running: set[Server] = set()


@atexit.register
def _kill_leftovers() -> None:
    for server in list(_running):
        server.stop(grace=0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def children(pid: int) -> list[int]:
    """Every descendant of pid, from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rpartition(")")[2].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def rss_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class Server:
    def __init__(self, kind: str, workers: int, database_url: str, log_dir: Path) -> None:
        self.kind = kind
        self.workers = workers
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"{kind}-w{workers}-{self.port}.log"
        self.env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "bench-" + "k" * 40}
        self.env.pop("LIVEPOLLS_ENV", None)
        self.env["LIVEPOLLS_DATA_DIR"] = tempfile.mkdtemp(prefix="livepolls-bench-data-")
        # Thousands of votes a second from 127.0.0.1 would meet the per-address vote limit:
        # the throughput cases measure the server without limits (bench/ratelimit.py
        # measures what the limits cost).
        self.env.setdefault("LIVEPOLLS_RATE_LIMITS", "false")
        self.process: subprocess.Popen[bytes] | None = None
        self.clean_stop: bool | None = None
        self.stop_seconds: float | None = None

    def command(self) -> list[str]:
        if self.kind == "hypercorn":
            return [
                sys.executable,
                "-m",
                "webapp.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ]
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "webapp.asgi:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--ws",
            "websockets-sansio",
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "5",
        ]

    def start(self, probe_path: str, timeout: float = 90.0) -> Server:
        log = open(self.log_path, "wb")  # noqa: SIM115 (kept open for the child's lifetime)
        self.process = subprocess.Popen(
            self.command(),
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _running.add(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.kind} exited early:\n{self.log_path.read_text()[-3000:]}"
                )
            ready = self.log_path.read_text(errors="replace").count(READY_LINE[self.kind])
            if ready >= self.workers and self._answers(probe_path):
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.kind} not ready in {timeout}s:\n{self.log_path.read_text()}")

    def _answers(self, path: str) -> bool:
        try:
            with urllib.request.urlopen(self.base + path, timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def pids(self) -> list[int]:
        assert self.process is not None
        return [self.process.pid, *children(self.process.pid)]

    def worker_pids(self) -> list[int]:
        """The processes that serve requests (the lone process when there is one worker)."""
        pids = self.pids()
        if self.workers == 1:
            return [pids[0]]
        workers = []
        for pid in pids[1:]:
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"resource_tracker" not in cmdline:
                workers.append(pid)
        return workers

    def rss_bytes(self) -> int:
        return sum(rss_of(pid) for pid in self.pids())

    def stop(self, grace: float = 8.0) -> None:
        """SIGTERM; after `grace` seconds, SIGKILL for the whole process group."""
        _running.discard(self)
        if self.process is None or self.process.poll() is not None:
            return
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(grace)
            self.clean_stop = True
        except subprocess.TimeoutExpired:
            self.clean_stop = False
        finally:
            self.stop_seconds = time.monotonic() - started
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)  # and any worker left behind
            self.process.wait(10)
            shutil.rmtree(self.env["LIVEPOLLS_DATA_DIR"], ignore_errors=True)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of one process, from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def _postgres_pids() -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip() == "postgres":
                    found.append(int(entry))
            except OSError:
                continue
    return found


def _machine_busy() -> float:
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / _TICK


class CpuMeter:
    """Where the machine's CPU went during a case: server workers, PostgreSQL, the rest.

    PostgreSQL is every `postgres` process on the machine (other databases' too); "other" is
    the rest of the machine's busy time: the load generators, and anything else running.
    """

    def __init__(self, server: Server) -> None:
        self.workers = server.worker_pids()
        self.others = [pid for pid in server.pids() if pid not in self.workers]
        self.before = self._sample()
        self.started = time.monotonic()

    def _sample(self) -> dict[str, float]:
        sample = {f"worker {pid}": cpu_seconds(pid) for pid in self.workers}
        sample["server rest"] = sum(cpu_seconds(pid) for pid in self.others)
        sample["postgres"] = sum(cpu_seconds(pid) for pid in _postgres_pids())
        sample["machine"] = _machine_busy()
        return sample

    def stop(self) -> dict[str, Any]:
        """CPU used, in cores (CPU seconds per second of the case)."""
        after = self._sample()
        seconds = max(1e-6, time.monotonic() - self.started)
        used = {k: max(0.0, after[k] - self.before.get(k, 0.0)) / seconds for k in after}
        workers = [used[f"worker {pid}"] for pid in self.workers]
        server = sum(workers) + used["server rest"]
        return {
            "workers": workers,
            "server": server,
            "postgres": used["postgres"],
            "other": max(0.0, used["machine"] - server - used["postgres"]),
            "machine": used["machine"],
        }


class Profiler:
    """py-spy on one worker (100 samples/s) until finish(); collapsed stacks to a file."""

    def __init__(self, pid: int, out: Path, max_seconds: float = 120) -> None:
        self.out = out
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        command = [exe, "record", "--pid", str(pid), "--duration", str(int(max_seconds))]
        command += ["--rate", "100", "--format", "raw", "--output", str(out)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def finish(self, timeout: float = 60.0) -> Path | None:
        """Stop sampling now (on SIGINT py-spy writes what it has) and wait for the file."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            _, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None
        if not self.out.exists() or self.out.stat().st_size == 0:
            print(f"  py-spy failed: {err.decode(errors='replace')[-500:]}", flush=True)
            return None
        return self.out
