"""What the rate limits cost: per hit in process, and per request over HTTP.

    DATABASE_URL=postgresql://... python -m bench.ratelimit     # about a minute

Prints the figures as JSON and writes them to the "Rate limiter cost" section of
docs/benchmarks.md (a section bench.run keeps when it rewrites the rest of that file).

1. In process, `RateLimits.hit` on each storage: PostgreSQL (the shared default: one upsert
   per hit) and memory (votes' per-process counters), one task after another for latency,
   and 32 tasks at once for throughput, each on keys of its own.
2. Over HTTP against a real `livepolls serve` (1 worker, PostgreSQL), 32 keep-alive clients
   for a fixed time, limits on and off: wrong-password sign-ins (two shared hits each,
   cheap argon2 so the limiter shows) and votes (two per-process hits each).

Every loop is bounded in time and count and targets 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from bench.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = 32
HTTP_SECONDS = 8.0
HITS = 2000


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def in_process(database_url: str) -> dict[str, Any]:
    """Per-hit latency and throughput of RateLimits.hit on PostgreSQL and in memory."""
    from limits.aio.storage import MemoryStorage

    from webapp import db
    from webapp.config import Settings
    from webapp.ratelimit_store import DatabaseStorage
    from webapp.ratelimits import RateLimits

    settings = Settings.from_env(
        {"DATABASE_URL": database_url, "SECRET_KEY": "bench", "LIVEPOLLS_RATE_LIMITS": "true"}
    )
    await db.start(CONCURRENCY + 2)
    results: dict[str, Any] = {}
    try:
        for name, storage in (("postgresql", DatabaseStorage()), ("memory", MemoryStorage())):
            limits = RateLimits(settings, storage, storage)
            run = secrets.token_hex(4)
            latencies = []
            for n in range(HITS // 4):
                started = time.perf_counter()
                await limits.hit("signin_address", f"{run}-seq-{n % 50}")
                latencies.append((time.perf_counter() - started) * 1000)

            async def worker(w: int, limits: RateLimits = limits, run: str = run) -> None:
                for n in range(HITS // CONCURRENCY):
                    await limits.hit("signin_address", f"{run}-par-{w}-{n % 10}")

            started = time.perf_counter()
            await asyncio.gather(*(worker(w) for w in range(CONCURRENCY)))
            elapsed = time.perf_counter() - started
            results[name] = {
                "hit_ms_p50": round(_percentile(latencies, 0.5), 3),
                "hit_ms_p99": round(_percentile(latencies, 0.99), 3),
                "hits_per_s_32_tasks": round((HITS // CONCURRENCY) * CONCURRENCY / elapsed),
            }
    finally:
        await db.stop()
    return results


@contextlib.asynccontextmanager
async def _server(database_url: str, limits: bool) -> AsyncIterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-" + "k" * 40,
        "LIVEPOLLS_DATA_DIR": tempfile.mkdtemp(prefix="livepolls-bench-"),
        "LIVEPOLLS_ARGON2_TIME_COST": "1",
        "LIVEPOLLS_ARGON2_MEMORY_KIB": "8",
        "LIVEPOLLS_RATE_LIMITS": "true" if limits else "false",
        # High enough never to refuse: the cost of counting is what is measured.
        "LIVEPOLLS_LIMIT_SIGNIN_PER_ADDRESS": "10000000/hour",
        "LIVEPOLLS_LIMIT_SIGNIN_PER_EMAIL": "10000000/hour",
        "LIVEPOLLS_LIMIT_VOTES_PER_ACCOUNT": "10000000/hour",
        "LIVEPOLLS_LIMIT_VOTES_PER_ADDRESS": "10000000/hour",
        "LIVEPOLLS_LIMIT_SIGNUP_PER_ADDRESS": "10000000/hour",
    }
    command = [sys.executable, "-m", "webapp.cli", "serve", "--port", str(port)]
    process = await asyncio.create_subprocess_exec(
        *command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, trust_env=False) as http:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/openapi.json")).status_code == 200:
                        break
                await asyncio.sleep(0.2)
            else:
                raise RuntimeError("server did not start")
        yield base
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


async def _load(base: str, request: Callable[[httpx.AsyncClient, int], Awaitable[int]]) -> dict:
    counts = {"ok": 0, "other": 0}
    latencies: list[float] = []
    stop = time.monotonic() + HTTP_SECONDS

    async def client(c: int) -> None:
        async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=10) as http:
            n = 0
            while time.monotonic() < stop and n < 100_000:
                started = time.perf_counter()
                status = await request(http, c * 100_000 + n)
                latencies.append((time.perf_counter() - started) * 1000)
                counts["ok" if status < 500 and status != 429 else "other"] += 1
                n += 1

    started = time.monotonic()
    await asyncio.gather(*(client(c) for c in range(CONCURRENCY)))
    elapsed = time.monotonic() - started
    return {
        "requests_per_s": round((counts["ok"] + counts["other"]) / elapsed),
        "p50_ms": round(_percentile(latencies, 0.5), 2),
        "p99_ms": round(_percentile(latencies, 0.99), 2),
        "refused_or_failed": counts["other"],
    }


async def over_http(database_url: str) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for limits in (False, True):
        async with _server(database_url, limits) as base:
            async with httpx.AsyncClient(base_url=base, trust_env=False) as http:
                email = f"bench-{secrets.token_hex(4)}@example.org"
                body = {"name": "Bench", "email": email, "password": "correct horse"}
                assert (await http.post("/api/v1/users", json=body)).status_code == 201
                signed = await http.post(
                    "/api/v1/auth/tokens", json={"email": email, "password": "correct horse"}
                )
                token = signed.json()["token"]
                auth = {"Authorization": f"Bearer {token}"}
                poll = await http.post(
                    "/api/v1/polls",
                    json={"question": "Q?", "options": ["a", "b"], "is_published": True},
                    headers=auth,
                )
                options = [o["id"] for o in poll.json()["options"]]
                poll_id = poll.json()["id"]

            async def sign_in(http: httpx.AsyncClient, n: int, email: str = email) -> int:
                body = {"email": email, "password": f"wrong {n}"}
                return (await http.post("/api/v1/auth/tokens", json=body)).status_code

            async def vote(
                http: httpx.AsyncClient,
                n: int,
                poll_id: int = poll_id,
                auth: dict = auth,
                options: list[int] = options,
            ) -> int:
                body = {"option_id": options[n % 2]}
                return (
                    await http.post(f"/api/v1/polls/{poll_id}/votes", json=body, headers=auth)
                ).status_code

            key = "limits_on" if limits else "limits_off"
            results[key] = {
                "wrong_sign_ins": await _load(base, sign_in),
                "votes_one_voter": await _load(base, vote),
            }
    return results


async def measure(database_url: str) -> dict[str, Any]:
    return {"in_process": await in_process(database_url), "http": await over_http(database_url)}


def _per_request_ms(off: dict, on: dict) -> str:
    """What the limits add to one request, from the two throughputs (CPU-bound, 1 worker)."""
    return f"{1000 / on['requests_per_s'] - 1000 / off['requests_per_s']:.2f}"


def render(results: dict[str, Any]) -> str:
    mem, pg = results["in_process"]["memory"], results["in_process"]["postgresql"]
    off, on = results["http"]["limits_off"], results["http"]["limits_on"]
    rows = []
    for case, label in (
        ("wrong_sign_ins", "wrong-password sign-in (2 shared hits: address, account)"),
        ("votes_one_voter", "vote (2 per-process hits: account, address)"),
    ):
        a, b = off[case], on[case]
        rows.append(
            f"| {label} | {a['requests_per_s']:,} | {b['requests_per_s']:,} "
            f"| {a['p50_ms']} / {b['p50_ms']} | {_per_request_ms(a, b)} |"
        )
    return "\n".join(
        [
            "## Rate limiter cost",
            "",
            "Measured by `python -m bench.ratelimit` (PostgreSQL, one `livepolls serve` worker,",
            f"{CONCURRENCY} keep-alive clients in one Python process on the same 2 cores, "
            f"{HTTP_SECONDS:.0f} s per case; limits set high enough never to refuse).",
            "",
            "| one hit of `RateLimits.hit` | p50 | p99 | hits/s, 32 tasks |",
            "| --- | --- | --- | --- |",
            f"| PostgreSQL (shared: sign-in, sign-up, guests, codes, polls) "
            f"| {pg['hit_ms_p50']} ms | {pg['hit_ms_p99']} ms | {pg['hits_per_s_32_tasks']:,} |",
            f"| memory (per process: votes) | {mem['hit_ms_p50']} ms | {mem['hit_ms_p99']} ms "
            f"| {mem['hits_per_s_32_tasks']:,} |",
            "",
            "| request | req/s, limits off | req/s, limits on | p50 ms off / on "
            "| added per request (ms) |",
            "| --- | --- | --- | --- | --- |",
            *rows,
            "",
            "A shared hit is one upsert round trip to PostgreSQL (about 0.8 ms here, most of it",
            "the round trip and PostgreSQL's CPU on this shared machine); a sign-in pays two, "
            "before",
            "any password hash. Votes count in process memory and pay about 10 µs a hit, which is",
            "lost in the noise of a vote's own cost.",
        ]
    )


def main() -> None:
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres"):
        raise SystemExit("set DATABASE_URL to a PostgreSQL database (it gets a few tables)")
    subprocess.run(
        [sys.executable, "-m", "webapp.cli", "migrate"], cwd=ROOT, check=True, stdout=sys.stderr
    )
    results = asyncio.run(measure(database_url))
    print(json.dumps(results, indent=2))
    from bench.report import replace_section

    replace_section(ROOT / "docs" / "benchmarks.md", "ratelimit", render(results))


if __name__ == "__main__":
    main()
