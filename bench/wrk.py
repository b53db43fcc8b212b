"""wrk runs (1 thread, a Lua script that prints one BENCH_JSON line) against a server."""

from __future__ import annotations

import json
import subprocess

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


def poll_spec(polls: list[seed.Poll]) -> str:
    return ";".join(f"{p.id}:{','.join(map(str, p.option_ids))}" for p in polls)
