"""The benchmark: one command that seeds a database, starts real servers and loads them.

    python -m bench.run            # the full run (about 20 minutes), writes docs/benchmarks.md
    python -m bench.run --quick    # a small smoke run (a few minutes), writes bench/results/
    python -m bench.run --steps 1000,5000,10000 --ramp-budget 900   # every combination to
                                   # 10,000 viewers (about an hour: joins are slow, see below)
    python -m bench.run --report-only bench/results/<time>.json    # rewrite the report only

It installs what it needs first (pip install -r bench/requirements.txt, npm ci --prefix bench,
apt-get install -y wrk) unless --no-install, then:

0. Round trips: bench/statements.py counts the SQL statements of a vote, a read and a join.
1. Ingest: wrk with bench/ingest.lua POSTs votes, each from a new (user, poll) pair over
   keep-alive connections, over one poll and over 100 polls, at 1 and 2 workers (and once
   over 100 polls with a new connection per vote, for reference); the stored votes and
   running counts must equal the acknowledged ones. The same again with 200,000 votes stored
   in other polls. /proc gives the CPU used by each worker, PostgreSQL and the rest.
2. Reads: wrk GETs /api/v1/polls/{id} over keep-alive connections and with a new connection
   per request (on the same servers, before their ingest cases).
3. Fan-out, hot poll, footprint: bench/viewers.mjs holds N WebSocket viewers of one poll
   (1,000, then 5,000, then 10,000) with and without permessage-deflate, and sends spaced
   votes, timing each to the moment the last viewer holds it; the server's RSS (summed over its
   processes) before and after the viewers gives RSS per idle viewer. Each combination has a
   time budget for opening connections: when it runs out, the step is measured with the
   viewers reached and the larger steps are skipped.
   The hot poll sends 500 votes/s for 10 s at 1,000 viewers.
4. The same cases under Uvicorn, for reference.
5. py-spy samples one worker during one ingest case and during fan-out (a step that is not
   a target figure, so the profiler does not disturb those).

Every load loop is bounded in count and time and targets 127.0.0.1 only. Raw results go to
bench/results/<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import select
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import report, seed
from bench.servers import CpuMeter, Profiler, Server

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"


@dataclass
class Combo:
    """One fan-out run: a server, a worker count, compression offered or not."""

    server: str
    workers: int
    deflate: bool
    steps: list[int]
    ramp_budget: float  # seconds for opening connections, over all steps
    hot: bool  # run the hot poll at the first step


@dataclass
class Plan:
    users: int
    ingest_seconds: int
    ingest_connections: int
    many_polls: int
    ingest_servers: list[str]
    ingest_workers: list[int]
    stored_polls: int
    stored_voters: int
    reads_seconds: int
    reads_connections: int
    votes_per_step: int
    vote_interval_ms: int
    hot_rate: int
    hot_seconds: int
    viewer_procs: int
    connect_concurrency: int
    combos: list[Combo] = field(default_factory=list)


def full_plan() -> Plan:
    steps = [1000, 5000, 10000]
    combos = [
        # The target case first: 2 workers, no compression, up to 10,000 viewers.
        Combo("hypercorn", 2, False, steps, 120, True),
        Combo("hypercorn", 1, False, steps, 120, True),
        Combo("hypercorn", 2, True, steps, 120, False),
        Combo("hypercorn", 1, True, steps[:2], 60, False),
        Combo("uvicorn", 2, False, steps, 120, True),
        Combo("uvicorn", 1, False, steps[:2], 60, True),
        Combo("uvicorn", 2, True, steps[:2], 60, False),
        Combo("uvicorn", 1, True, steps[:1], 30, False),
    ]
    return Plan(
        users=60_000,
        ingest_seconds=8,
        ingest_connections=64,
        many_polls=100,
        ingest_servers=["hypercorn", "uvicorn"],
        ingest_workers=[1, 2],
        stored_polls=200,
        stored_voters=1000,
        reads_seconds=8,
        reads_connections=64,
        votes_per_step=20,
        vote_interval_ms=300,
        hot_rate=500,
        hot_seconds=10,
        viewer_procs=4,
        connect_concurrency=128,
        combos=combos,
    )


def quick_plan() -> Plan:
    steps = [100, 300]
    combos = [
        Combo("hypercorn", 2, False, steps, 30, True),
        Combo("hypercorn", 1, True, steps[:1], 15, False),
        Combo("uvicorn", 2, False, steps[:1], 15, True),
        Combo("uvicorn", 1, True, steps[:1], 15, False),
    ]
    return Plan(
        users=4000,
        ingest_seconds=3,
        ingest_connections=16,
        many_polls=100,
        ingest_servers=["hypercorn", "uvicorn"],
        ingest_workers=[2],
        stored_polls=20,
        stored_voters=100,
        reads_seconds=2,
        reads_connections=16,
        votes_per_step=5,
        vote_interval_ms=300,
        hot_rate=100,
        hot_seconds=3,
        viewer_procs=2,
        connect_concurrency=32,
        combos=combos,
    )


# ------------------------------------------------------------------ tools


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def ensure_tools(install: bool) -> None:
    """Install the harness's own extras when they are missing (or say what is missing)."""
    missing_py = [m for m in ("uvicorn", "uvloop", "httptools", "websockets") if not _has(m)]
    if missing_py or not _py_spy():
        _install(
            install,
            [sys.executable, "-m", "pip", "install", "-q", "-r", str(BENCH / "requirements.txt")],
            "Python extras",
        )
    if shutil.which("node") is None:
        _install(install, ["apt-get", "install", "-y", "-q", "nodejs", "npm"], "Node.js")
    if not (BENCH / "node_modules" / "ws" / "package.json").exists():
        _install(install, ["npm", "ci", "--prefix", str(BENCH), "--no-audit", "--no-fund"], "ws")
    if shutil.which("wrk") is None:
        if install and shutil.which("apt-get"):
            subprocess.run(["apt-get", "update", "-q"], check=False)
        _install(install, ["apt-get", "install", "-y", "-q", "wrk"], "wrk")


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _py_spy() -> str | None:
    return shutil.which("py-spy") or (
        str(Path(sys.executable).parent / "py-spy")
        if (Path(sys.executable).parent / "py-spy").exists()
        else None
    )


def _install(install: bool, command: list[str], what: str) -> None:
    if not install:
        raise SystemExit(f"missing {what}: run {' '.join(command)} (or drop --no-install)")
    log(f"installing {what}: {' '.join(command)}")
    subprocess.run(command, check=True, timeout=900)


def raise_open_files() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def machine() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text().split("\n")
    mem_kib = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().split("\n")
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "cpu": cpu,
        "kernel": platform.release(),
        "load_start": os.getloadavg(),
    }


def versions(seeded: seed.Seeded) -> dict[str, str]:
    def pkg(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    def out(command: list[str]) -> str:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=10)
            return (done.stdout or done.stderr).strip().split("\n")[0]
        except OSError:
            return "not installed"

    ws_lock = json.loads((BENCH / "package-lock.json").read_text())
    commit = out(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = out(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", "webapp", "piccolo_migrations"]
    )
    return {
        "livepolls (git)": commit + (" with uncommitted changes" if dirty else ""),
        "Python": platform.python_version(),
        "Hypercorn": pkg("hypercorn"),
        "Quart": pkg("quart"),
        "Piccolo": pkg("piccolo"),
        "asyncpg": pkg("asyncpg"),
        "wsproto": pkg("wsproto"),
        "Uvicorn": pkg("uvicorn"),
        "uvloop": pkg("uvloop"),
        "httptools": pkg("httptools"),
        "websockets": pkg("websockets"),
        "PostgreSQL": seed.server_version(seeded),
        "Node": out(["node", "--version"]),
        "ws (npm)": ws_lock["packages"]["node_modules/ws"]["version"],
        "wrk": (out(["wrk", "-v"]).split() + ["?", "?"])[1],
        "py-spy": out([_py_spy() or "py-spy", "--version"]).split()[-1],
    }


# ------------------------------------------------------------------ wrk


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


# ------------------------------------------------------------------ ingest and reads


def ingest_case(
    server: Server,
    seeded: seed.Seeded,
    plan: Plan,
    polls: list[seed.Poll],
    profile_to: Path | None = None,
    keep_alive: bool = True,
) -> dict:
    profiler = Profiler(server.worker_pids()[0], profile_to) if profile_to is not None else None
    cpu = CpuMeter(server)
    result = wrk(
        "ingest.lua",
        server.base,
        plan.ingest_seconds,
        plan.ingest_connections,
        [seeded.token_prefix, str(seeded.users), "1", poll_spec(polls)],
        keep_alive,
    )
    result["cpu"] = cpu.stop()
    if profiler is not None:
        path = profiler.finish()
        result["profile"] = str(path) if path else None
    time.sleep(1.0)  # requests cut off by wrk finish (or roll back) on the server
    counts = seed.counts(seeded, polls)
    answered = result["s201"] + result["s200"] + result["other"]
    in_flight = max(0, result["issued"] - answered)
    stored = counts.vote_rows
    result.update(
        polls=len(polls),
        keep_alive=keep_alive,
        votes_per_second=result["s201"] / (result["duration_us"] / 1e6),
        in_flight=in_flight,
        stored=stored,
        lost=max(0, result["s201"] - stored),
        extra=max(0, stored - result["s201"] - in_flight),
        committed_unacknowledged=max(0, stored - result["s201"]),
        counts_consistent=counts.option_votes == stored and counts.voters == stored,
    )
    result["exact"] = (
        result["lost"] == 0
        and result["extra"] == 0
        and result["counts_consistent"]
        and result["other"] == 0
        and result["s200"] == 0
    )
    return result


def reads_case(server: Server, plan: Plan, path: str, keep_alive: bool) -> dict:
    cpu = CpuMeter(server)
    reads = wrk(
        "reads.lua",
        server.base + path,
        plan.reads_seconds,
        plan.reads_connections,
        [],
        keep_alive,
    )
    reads.update(
        server=server.kind,
        workers=server.workers,
        path=path,
        keep_alive=keep_alive,
        cpu=cpu.stop(),
    )
    split = [round(w, 2) for w in reads["cpu"]["workers"]]
    log(
        f"  reads{' (keep-alive)' if keep_alive else ''}: {reads['per_second']:.0f} req/s, "
        f"p99 {reads['p99_us'] / 1000:.1f} ms, errors {reads['errors']}, worker CPU {split}"
    )
    return reads


def record_stop(results: dict, server: Server, phase: str) -> None:
    results["stops"].append(
        {
            "server": server.kind,
            "workers": server.workers,
            "phase": phase,
            "clean": server.clean_stop,
            "seconds": server.stop_seconds,
        }
    )
    if server.clean_stop is False:
        log(f"  {server.kind} did not exit within 8 s of SIGTERM: killed")


def ingest_phase(
    seeded: seed.Seeded,
    plan: Plan,
    servers: list[str],
    workers: list[int],
    stored: bool,
    results: dict,
    logs: Path,
    profile: bool,
) -> None:
    """Per server: warm up, reads (first phase only), then 100 polls, then 1 poll.

    wrk cuts off the requests in flight when it stops, and a vote cut off mid-transaction can
    leave a pooled connection checked out (see docs/benchmarks.md), so the cases that matter
    most for the pool come first: reads, then the 100-poll case; the 1-poll case, bounded by
    the poll's row lock rather than by the pool, comes last.
    """
    for kind in servers:
        for count in workers:
            label = f"{kind} w{count} {'stored' if stored else 'empty'}"
            one = seed.create_polls(seeded, 1, f"ingest-1 {label}")
            many = seed.create_polls(seeded, plan.many_polls, f"ingest-{plan.many_polls} {label}")
            log(f"ingest: {label}: starting {kind} with {count} worker(s)")
            server = Server(kind, count, seeded.url, logs)
            with server.start(f"/api/v1/polls/{one[0].id}") as srv:
                path = f"/api/v1/polls/{one[0].id}"
                # Warm up: fill the connection pools and the code paths with a short read run.
                wrk("reads.lua", srv.base + path, 2, plan.ingest_connections, [])
                if not stored:
                    for keep_alive in (True, False):
                        results["reads"].append(reads_case(srv, plan, path, keep_alive))
                cases = [(f"{plan.many_polls} polls", many, True), ("1 poll", one, True)]
                if not stored:  # for reference: every vote from a new client connection
                    fresh = seed.create_polls(seeded, plan.many_polls, f"ingest-new {label}")
                    cases.append((f"{plan.many_polls} polls, new connections", fresh, False))
                for name, polls, keep_alive in cases:
                    prof = None
                    if profile and (kind, count, stored, polls is many) == (
                        "hypercorn",
                        1,
                        False,
                        True,
                    ):
                        prof = logs / "profile-ingest.txt"
                    vote_table = seed.vote_table_size(seeded)
                    case = ingest_case(srv, seeded, plan, polls, prof, keep_alive)
                    case.update(
                        server=kind,
                        workers=count,
                        stored_votes=stored,
                        case=name,
                        vote_table=vote_table,
                        profiled=prof is not None,
                    )
                    results["ingest"].append(case)
                    log(
                        f"  {name}: {case['votes_per_second']:.0f} votes/s, p50 "
                        f"{case['p50_us'] / 1000:.1f} ms, p99 {case['p99_us'] / 1000:.1f} ms, "
                        f"acked {case['s201']}, stored {case['stored']}, in flight at stop "
                        f"{case['in_flight']}, exact {case['exact']}"
                    )
                    if prof is not None:
                        results["profiles"]["ingest"] = {
                            "path": str(prof),
                            "what": f"{kind}, 1 worker, ingest over {plan.many_polls} polls",
                        }
                    seed.delete_votes(seeded, polls)
            record_stop(results, server, "after ingest (wrk cut off requests in flight)")


# ------------------------------------------------------------------ fan-out


class Viewers:
    """Drives bench/viewers.mjs: one JSON command per line, one JSON reply per line."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            ["node", str(BENCH / "viewers.mjs")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=BENCH,
            text=True,
            bufsize=1,
        )
        self._buffer = ""
        self._id = 0

    def call(self, timeout: float, **command: Any) -> dict:
        assert self.process.stdin is not None and self.process.stdout is not None
        self._id += 1
        self.process.stdin.write(json.dumps({"id": self._id, **command}) + "\n")
        self.process.stdin.flush()
        deadline = time.monotonic() + timeout
        fd = self.process.stdout.fileno()
        while "\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or self.process.poll() is not None:
                self.kill()
                raise RuntimeError(f"viewers.mjs: no answer to {command['cmd']} in {timeout}s")
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(fd, 1 << 20).decode()
                if not chunk:
                    continue
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition("\n")
        reply: dict = json.loads(line)
        if not reply.get("ok"):
            raise RuntimeError(f"viewers.mjs {command['cmd']}: {reply.get('error')}")
        return reply

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def vote_stats(votes: list[dict]) -> dict:
    http = [v["http_ms"] for v in votes]
    last = [v["last_viewer_ms"] for v in votes if v["last_viewer_ms"] is not None]
    return {
        "votes": len(votes),
        "statuses": sorted({v["status"] for v in votes}),
        "http_p50_ms": percentile(http, 50),
        "http_p99_ms": percentile(http, 99),
        "last_viewer_p50_ms": percentile(last, 50),
        "last_viewer_p99_ms": percentile(last, 99),
        "last_viewer_max_ms": max(last) if last else None,
        "timed_out": sum(1 for v in votes if v["timed_out"]),
        "raw": votes,
    }


def fanout_combo(
    seeded: seed.Seeded, plan: Plan, combo: Combo, logs: Path, results: dict, profile: bool
) -> dict:
    poll = seed.create_polls(seeded, 1, f"fanout {combo}")[0]
    out: dict[str, Any] = {**asdict(combo), "steps": []}
    next_user = 0
    acknowledged = 0

    def take(n: int) -> int:
        nonlocal next_user
        first, next_user = next_user, next_user + n
        return first

    vote_timeout = 10_000
    votes_time = plan.votes_per_step * (plan.vote_interval_ms / 1000 + vote_timeout / 1000) + 60
    server_ = Server(combo.server, combo.workers, seeded.url, logs)
    with server_.start(f"/api/v1/polls/{poll.id}") as server:
        viewers = Viewers()
        try:
            viewers.call(
                30,
                cmd="init",
                ws_url=server.base.replace("http://", "ws://") + f"/api/v1/polls/{poll.id}/live",
                http_base=server.base,
                poll_id=poll.id,
                option_ids=poll.option_ids,
                token_prefix=seeded.token_prefix,
                deflate=combo.deflate,
                procs=plan.viewer_procs,
            )
            zero = viewers.call(
                votes_time,
                cmd="votes",
                count=plan.votes_per_step,
                interval_ms=plan.vote_interval_ms,
                first_user=take(plan.votes_per_step),
                timeout_ms=vote_timeout,
            )
            out["zero_viewers"] = vote_stats(zero["votes"])
            acknowledged += sum(1 for v in zero["votes"] if v["status"] == 201)
            time.sleep(1.0)
            rss0 = server.rss_bytes()
            out["rss_before"] = rss0
            ramp_left = combo.ramp_budget
            for index, step in enumerate(combo.steps):
                profile_join = (
                    profile
                    and combo.server == "hypercorn"
                    and combo.workers == 2
                    and not combo.deflate
                    and index == len(combo.steps) - 1
                    and index > 0
                )
                joins = None
                if profile_join:
                    # The first 30 s of this step's joins (py-spy stops by itself then).
                    joins = Profiler(server.worker_pids()[0], logs / "profile-joins.txt", 30)
                connect = viewers.call(
                    ramp_left + 90,
                    cmd="connect",
                    total=step,
                    concurrency=plan.connect_concurrency,
                    max_seconds=max(1.0, ramp_left),
                )
                if joins is not None and joins.finish():
                    results["profiles"]["joins"] = {
                        "path": str(joins.out),
                        "what": f"{combo.server}, one of {combo.workers} workers, viewers "
                        f"joining (from {connect['total'] - connect['opened']:,} to "
                        f"{connect['total']:,})",
                    }
                ramp_left -= connect["seconds"]
                time.sleep(3.0)  # let the last viewer-count updates go out
                rss = server.rss_bytes()
                reached = connect["total"]
                log(
                    f"  {reached} viewers ({connect['opened']} opened in {connect['seconds']:.1f}s,"
                    f" {connect['per_second']:.0f}/s, {connect['failed']} failed, extensions "
                    f"{connect['extensions'] or 'none'}); RSS "
                    f"{(rss - rss0) / max(1, reached) / 1024:.1f} KiB per viewer"
                )
                profile_votes = (
                    profile
                    and combo.server == "hypercorn"
                    and combo.workers == 2
                    and not combo.deflate
                    and index == 1
                )
                prof = None
                if profile_votes:
                    prof = Profiler(server.worker_pids()[0], logs / "profile-fanout.txt")
                cpu = CpuMeter(server)
                measured = viewers.call(
                    votes_time,
                    cmd="votes",
                    count=plan.votes_per_step,
                    interval_ms=plan.vote_interval_ms,
                    first_user=take(plan.votes_per_step),
                    timeout_ms=vote_timeout,
                )
                cpu_used = cpu.stop()
                if prof is not None and prof.finish():
                    results["profiles"]["fanout"] = {
                        "path": str(prof.out),
                        "what": f"{combo.server}, one of "
                        f"{combo.workers} workers, {plan.votes_per_step} votes to {reached} "
                        "viewers",
                    }
                acknowledged += sum(1 for v in measured["votes"] if v["status"] == 201)
                stats = vote_stats(measured["votes"])
                entry: dict[str, Any] = {
                    "target": step,
                    "viewers": reached,
                    "connect": connect,
                    "rss": rss,
                    "rss_per_viewer": (rss - rss0) / max(1, reached),
                    "profiled": profile_votes,
                    "connect_profiled": joins is not None,
                    "cpu": cpu_used,
                    **stats,
                }
                log(
                    f"    fan-out p50 {stats['last_viewer_p50_ms']:.1f} ms, p99 "
                    f"{stats['last_viewer_p99_ms']:.1f} ms; vote HTTP p50 "
                    f"{stats['http_p50_ms']:.1f} ms"
                )
                if combo.hot and index == 0:
                    hot = viewers.call(
                        plan.hot_seconds * 4 + 90,
                        cmd="hot",
                        rate=plan.hot_rate,
                        seconds=plan.hot_seconds,
                        first_user=take(plan.hot_rate * plan.hot_seconds),
                        timeout_ms=vote_timeout,
                    )
                    acknowledged += hot["acknowledged"]
                    rates = hot.pop("messages_per_viewer_per_second")
                    e2e = hot.pop("e2e_ms")
                    http = hot.pop("http_ms")
                    hot.update(
                        messages_per_viewer_per_second_max=max(rates, default=None),
                        messages_per_viewer_per_second_mean=sum(rates) / len(rates)
                        if rates
                        else None,
                        e2e_p50_ms=percentile(e2e, 50),
                        e2e_p99_ms=percentile(e2e, 99),
                        http_p50_ms=percentile(http, 50),
                        http_p99_ms=percentile(http, 99),
                        achieved_rate=hot["acknowledged"] / hot["send_seconds"],
                    )
                    entry["hot"] = hot
                    log(
                        f"    hot poll: {hot['acknowledged']} votes in {hot['send_seconds']:.1f}s, "
                        f"{hot['messages_per_viewer_per_second_max']:.1f} msg/viewer/s max, "
                        f"e2e p99 {hot['e2e_p99_ms']:.0f} ms, exact viewers "
                        f"{hot['exact_viewers']}/{hot['viewers']}"
                    )
                out["steps"].append(entry)
                if reached < step:
                    log(f"    connection budget used up at {reached} of {step} viewers")
                    break
            closed = viewers.call(120, cmd="close")
            out["dropped"] = closed["dropped"]
        finally:
            viewers.kill()
    record_stop(results, server_, "after fan-out (viewers closed, all votes answered)")
    counts = seed.counts(seeded, [poll])
    out["db"] = asdict(counts)
    out["acknowledged"] = acknowledged
    out["db_exact"] = counts.vote_rows == acknowledged == counts.option_votes == counts.voters
    return out


def fanout_phase(
    seeded: seed.Seeded,
    plan: Plan,
    servers: list[str],
    workers: list[int],
    results: dict,
    logs: Path,
    profile: bool,
) -> None:
    for combo in plan.combos:
        if combo.server not in servers or combo.workers not in workers:
            continue
        log(
            f"fan-out: {combo.server} w{combo.workers} "
            f"{'deflate' if combo.deflate else 'no compression'}, steps {combo.steps}"
        )
        results["fanout"].append(fanout_combo(seeded, plan, combo, logs, results, profile))


# ------------------------------------------------------------------ round trips


def round_trips(seeded: seed.Seeded) -> dict[str, list[str]] | str:
    """bench/statements.py in a subprocess (it imports the app, configured by the environment)."""
    poll = seed.create_polls(seeded, 1, "round trips")[0]
    env = {**os.environ, "DATABASE_URL": seeded.url, "SECRET_KEY": "bench-" + "k" * 40}
    env.pop("LIVEPOLLS_ENV", None)
    command = [
        sys.executable,
        "-m",
        "bench.statements",
        seeded.token(0),
        seeded.token(1),
        str(poll.id),
        str(poll.option_ids[0]),
    ]
    try:
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        found: dict[str, list[str]] = json.loads(done.stdout)
        return found
    except (subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
        log(f"counting round trips failed: {exc}")
        return f"failed: {exc}"


# ------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, short runs")
    parser.add_argument("--servers", default="hypercorn,uvicorn")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--cases", default="ingest,fanout", help="ingest (with reads), fanout")
    parser.add_argument(
        "--steps", help="viewer counts for every fan-out combination, e.g. 1000,5000,10000"
    )
    parser.add_argument(
        "--ramp-budget", type=float, help="seconds for opening connections, per combination"
    )
    parser.add_argument("--no-profile", action="store_true", help="do not run py-spy")
    parser.add_argument("--no-install", action="store_true", help="fail if a tool is missing")
    parser.add_argument(
        "--report-only", metavar="RESULTS_JSON", help="only rewrite the report from saved results"
    )
    parser.add_argument(
        "--output",
        help="the Markdown report (default: docs/benchmarks.md, "
        "or bench/results/quick.md with --quick)",
    )
    args = parser.parse_args(argv)
    plan = quick_plan() if args.quick else full_plan()
    for combo in plan.combos:
        if args.steps:
            combo.steps = [int(n) for n in args.steps.split(",")]
        if args.ramp_budget is not None:
            combo.ramp_budget = args.ramp_budget
    servers = args.servers.split(",")
    workers = [int(w) for w in args.workers.split(",")]
    cases = set(args.cases.split(","))
    output = (
        Path(args.output)
        if args.output
        else (RESULTS / "quick.md" if args.quick else ROOT / "docs" / "benchmarks.md")
    )
    command = "python -m bench.run" + (" " + " ".join(argv if argv is not None else sys.argv[1:]))
    if args.report_only:
        saved = json.loads(Path(args.report_only).read_text())
        for entry in saved.get("profiles", {}).values():
            if Path(entry["path"]).exists():
                entry["summary"] = report.summarize_profile(Path(entry["path"]))
        output.write_text(report.with_kept_sections(report.render(saved), output))
        print(report.table(saved))
        return
    started = time.monotonic()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))
    ensure_tools(not args.no_install)
    raise_open_files()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    logs = RESULTS / stamp
    logs.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command.strip(),
        "quick": args.quick,
        "machine": machine(),
        "plan": asdict(plan),
        "ingest": [],
        "reads": [],
        "fanout": [],
        "stops": [],
        "profiles": {},
    }
    name = "livepolls_bench_quick" if args.quick else "livepolls_bench"
    log(f"database {name}: creating, migrating, seeding {plan.users} users")
    seeded = seed.setup(name, plan.users)
    results["versions"] = versions(seeded)
    results["statements"] = round_trips(seeded)
    profile = not args.no_profile
    try:
        if "ingest" in cases:
            ingest_servers = [k for k in plan.ingest_servers if k in servers]
            ingest_workers = [w for w in plan.ingest_workers if w in workers]
            ingest_phase(
                seeded, plan, ingest_servers, ingest_workers, False, results, logs, profile
            )
            stored_polls = seed.create_polls(seeded, plan.stored_polls, "stored")
            total = seed.store_votes(seeded, stored_polls, plan.stored_voters)
            results["stored_votes"] = plan.stored_polls * plan.stored_voters
            results["vote_table_after_storing"] = total
            log(f"stored {total} votes in {plan.stored_polls} other polls")
            ingest_phase(seeded, plan, ingest_servers, ingest_workers, True, results, logs, profile)
        if "fanout" in cases:
            fanout_phase(seeded, plan, servers, workers, results, logs, profile)
    finally:
        results["machine"]["load_end"] = os.getloadavg()
        results["seconds"] = time.monotonic() - started
        for key, entry in results["profiles"].items():
            entry["summary"] = report.summarize_profile(Path(entry["path"]))
            results["profiles"][key] = entry
        (RESULTS / f"{stamp}.json").write_text(json.dumps(results, indent=1, default=str))
        log(f"raw results: {RESULTS / f'{stamp}.json'}")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report.with_kept_sections(report.render(results), output))
    print(report.table(results))
    log(f"done in {results['seconds'] / 60:.1f} min; report: {output}")


if __name__ == "__main__":
    main()
