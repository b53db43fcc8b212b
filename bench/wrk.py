"""wrk runs (1 thread, a Lua script that prints one BENCH_JSON line) against a server."""

from __future__ import annotations

import json
import signal
import subprocess
import time

from bench import seed
from bench.tools import BENCH


def wrk(
    script: str, url: str, seconds: int, connections: int, args: list[str], keep_alive: bool = True
) -> dict:
    """One wrk run (1 thread). With keep_alive each connection carries request after request,
    as from a reverse proxy's upstream pool or a client that reuses its connection; without,
    every request comes on a new connection, as from a new client."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    if not keep_alive:
        command += ["-H", "Connection: close"]
    command += ["-s", str(BENCH / script), url, "--", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            result: dict = json.loads(line.removeprefix("BENCH_JSON "))
            result["per_second"] = result["requests"] / (result["duration_us"] / 1e6)
            return result
    raise RuntimeError(f"wrk failed:\n{done.stdout}\n{done.stderr}")


def wrk_until(script: str, url: str, connections: int, args: list[str], limit_s: int) -> dict:
    """One wrk run (1 thread) of a script that prints "BENCH_ALL_ANSWERED" once its last
    request is answered: wrk is stopped then (SIGINT, as Ctrl-C), and `duration_us` is the
    time from its start to that line, not wrk's own -d (at most `limit_s`)."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{limit_s}s", "--timeout", "30s"]
    command += ["-s", str(BENCH / script), url, "--", *args]
    started = time.monotonic()
    pipe = subprocess.PIPE
    with subprocess.Popen(command, stdout=pipe, stderr=pipe, text=True) as run:
        assert run.stdout is not None
        answered = None
        for line in run.stdout:
            if line.startswith("BENCH_ALL_ANSWERED"):
                answered = time.monotonic() - started
                run.send_signal(signal.SIGINT)
            elif line.startswith("BENCH_JSON "):
                result: dict = json.loads(line.removeprefix("BENCH_JSON "))
                if answered is not None:
                    result["duration_us"] = answered * 1e6
                result["all_answered"] = answered is not None
                run.wait(30)
                return result
        stderr = run.stderr.read() if run.stderr else ""
    raise RuntimeError(f"wrk failed:\n{stderr}")


def poll_spec(polls: list[seed.Poll]) -> str:
    return ";".join(f"{p.id}:{','.join(map(str, p.option_ids))}" for p in polls)
