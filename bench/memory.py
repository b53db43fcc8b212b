"""What an idle live viewer costs the server in memory, and where it goes.

    python -m bench.memory                                 # about 6 minutes, writes the doc
    python -m bench.memory --workers 1 --viewers 5000 --trace 0 --no-write   # a quick look
    python -m bench.memory --compression none,deflate      # with and without compression
    python -m bench.memory --before bench/results/memory-<time>.json   # next to an older run
    python -m bench.memory --env MALLOC_ARENA_MAX=2 --no-write         # try a server setting
    python -m bench.memory --report-only bench/results/memory-<time>.json --before ...

Starts `livepolls serve --workers N` (bench/servers.py) through bench/memprobe.py on a fresh
PostgreSQL database of its own (`livepolls_mem`, recreated each run), with one published
poll. A few viewers join and leave first, so that the baseline holds what the first viewer
loads (templates, the poll's snapshot, database connections, prepared statements). Then
bench/viewers.mjs (4 Node processes, 128 handshakes at a time) opens idle viewers step by
step; at each step, once every viewer holds its first snapshot and the server's RSS has
stopped moving, the harness records the RSS of the whole process tree (the growth divided by
the viewers is what bench.run's *KiB/viewer* is) and has every worker report (SIGUSR1,
bench/memprobe.py) its RSS, glibc's and pymalloc's figures and the objects it holds, counted
and sized by type. Their growth from the baseline, divided by the viewers, is per viewer.

With --trace N (default 5,000; 0: none), one more server (1 worker, no compression) runs
under tracemalloc and N viewers join it: the growth of its traced memory, by allocating file
and line, divided by N. Tracing costs memory of its own, so RSS figures come from the runs
without it.

Prints a summary, saves every figure to bench/results/memory-<time>.json and writes the
"Viewer memory" section of docs/benchmarks.md (kept when bench.run rewrites the rest of that
file) unless --no-write. Every loop is bounded in count and time and targets 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import seed
from bench.churn import server_connections, settled_rss, wait_for
from bench.patches import webapp_state
from bench.servers import Server
from bench.tools import raise_open_files
from bench.viewers import Viewers, open_viewers

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DATABASE = "livepolls_mem"
KIB = 1024
FD_MARGIN = 256  # descriptors a worker needs besides its viewers' sockets


def log(message: str) -> None:
    print(f"[memory {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class ProbedServer(Server):
    """`livepolls serve` whose workers report their memory on SIGUSR1 (bench/memprobe.py)."""

    def __init__(self, workers: int, database_url: str, trace: bool, env: dict[str, str]) -> None:
        super().__init__("hypercorn", workers, database_url, RESULTS)
        self.probe_dir = Path(tempfile.mkdtemp(prefix="livepolls-memprobe-"))
        self.env.update(env)
        self.env["BENCH_MEMPROBE_DIR"] = str(self.probe_dir)
        if trace:
            self.env["BENCH_MEMPROBE_TRACE"] = "1"
        self.log_path = RESULTS / f"memory-w{workers}-{self.port}.log"

    def command(self) -> list[str]:
        command = super().command()
        command[1:3] = ["-m", "bench.memprobe"]
        return command

    def probe(self, timeout: float = 300.0) -> list[dict[str, Any]]:
        """Every worker's report (written by the worker itself; slow under tracing)."""
        return [self._probe(pid, timeout) for pid in self.worker_pids()]

    def _probe(self, pid: int, timeout: float) -> dict[str, Any]:
        before = set(self.probe_dir.glob(f"{pid}-*.json"))
        os.kill(pid, signal.SIGUSR1)

        def written() -> set[Path]:
            return set(self.probe_dir.glob(f"{pid}-*.json")) - before

        if not wait_for(written, timeout):
            raise RuntimeError(f"worker {pid} did not report in {timeout} s")
        (path,) = written()
        return {**json.loads(path.read_text()), "path": str(path)}

    def stop(self, grace: float = 8.0) -> None:
        super().stop(grace)
        shutil.rmtree(self.probe_dir, ignore_errors=True)


def connect(viewers: Viewers, total: int) -> dict[str, Any]:
    """Open viewers until `total` hold their first snapshot (handshakes that fail, as a few
    do on a loaded machine, are tried again, three rounds at most)."""
    started = time.monotonic()
    failed = 0
    for _ in range(3):
        reply = viewers.call(400, cmd="connect", total=total, concurrency=128, max_seconds=300)
        failed += reply["failed"]
        if reply["total"] >= total:
            break
    else:
        raise RuntimeError(f"only {reply['total']} of {total} viewers joined")
    return {**reply, "failed": failed, "seconds": time.monotonic() - started}


def warm_up(server: Server, poll: seed.Poll, seeded: seed.Seeded, deflate: bool) -> None:
    """A few viewers join and leave: the baseline then holds what the first one loads."""
    viewers = open_viewers(server, poll, seeded, deflate)
    try:
        connect(viewers, 8 * server.workers)
        viewers.call(60, cmd="close")
    finally:
        viewers.kill()
    wait_for(lambda: server_connections(server.port) == 0, 30)


def _summed(reports: list[dict[str, Any]], *keys: str) -> dict[str, float]:
    total: dict[str, float] = {}
    for report in reports:
        table = report
        for key in keys:
            table = table.get(key, {})
        for name, value in table.items():
            total[name] = total.get(name, 0) + value
    return total


def _growth(after: dict[str, float], before: dict[str, float], n: int) -> dict[str, float]:
    return {k: (after.get(k, 0) - before.get(k, 0)) / n for k in set(after) | set(before)}


def per_viewer(after: list[dict], before: list[dict], viewers: int) -> dict[str, Any]:
    """The workers' growth from `before`, summed over the workers, divided by the viewers."""
    counts = _growth(_summed(after, "objects", "counts"), _summed(before, "objects", "counts"), 1)
    sizes = _growth(_summed(after, "objects", "sizes"), _summed(before, "objects", "sizes"), 1)
    objects = {
        name: {"count": counts[name] / viewers, "bytes": sizes.get(name, 0) / viewers}
        for name in counts
        if abs(counts[name]) / viewers >= 0.01 or abs(sizes.get(name, 0)) / viewers >= 8
    }
    return {
        "workers_rss": sum(a["rss"] - b["rss"] for a, b in zip(after, before, strict=True))
        / viewers,
        "objects_bytes": sum(sizes.values()) / viewers,
        "objects": dict(sorted(objects.items(), key=lambda kv: -kv[1]["bytes"])),
        "mallinfo": _growth(_summed(after, "mallinfo"), _summed(before, "mallinfo"), viewers),
        "pymalloc": _growth(_summed(after, "pymalloc"), _summed(before, "pymalloc"), viewers),
    }


def measure_rss(
    workers: int, steps: list[int], deflate: bool, env: dict[str, str], seeded: seed.Seeded
) -> dict[str, Any]:
    """One server: the tree's RSS and the workers' reports at every step of viewers."""
    label = f"w{workers} {'deflate' if deflate else 'none'}"
    (poll,) = seed.create_polls(seeded, 1, f"memory {label}")
    server = ProbedServer(workers, seeded.url, False, env)
    out: dict[str, Any] = {"workers": workers, "deflate": deflate, "steps": []}
    with server.start(f"/api/v1/polls/{poll.id}"):
        warm_up(server, poll, seeded, deflate)
        out["rss_before"] = settled_rss(server)
        base = server.probe()
        out["workers_before"] = [b["rss"] for b in base]
        viewers = open_viewers(server, poll, seeded, deflate)
        try:
            for step in steps:
                joined = connect(viewers, step)
                rss = settled_rss(server)
                reports = server.probe()
                entry = {
                    "viewers": joined["total"],
                    "joins_per_s": joined["per_second"],
                    "failed_handshakes": joined["failed"],
                    "load": os.getloadavg(),
                    "rss": rss,
                    "kib_per_viewer": (rss - out["rss_before"]) / KIB / joined["total"],
                    "workers_rss": [r["rss"] for r in reports],
                    "per_viewer": per_viewer(reports, base, joined["total"]),
                }
                out["steps"].append(entry)
                log(
                    f"{label}: {joined['total']:,} viewers, {entry['kib_per_viewer']:.1f} "
                    f"KiB/viewer (tree RSS), objects "
                    f"{entry['per_viewer']['objects_bytes'] / KIB:.1f} KiB/viewer"
                )
            viewers.call(120, cmd="close")
        finally:
            viewers.kill()
    return out


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/lib/python3."):
        if marker in filename:
            tail = filename.split(marker, 1)[1]
            return tail if marker == "site-packages/" else tail.split("/", 1)[1]
    return os.path.relpath(filename, ROOT) if filename.startswith("/") else filename


def _traced_growth(base: dict[str, Any], after: dict[str, Any], n: int) -> dict[str, Any]:
    old = tracemalloc.Snapshot.load(str(Path(base["path"]).with_suffix(".snapshot")))
    new = tracemalloc.Snapshot.load(str(Path(after["path"]).with_suffix(".snapshot")))
    lines = [
        {
            "where": f"{_short(stat.traceback[0].filename)}:{stat.traceback[0].lineno}",
            "bytes": stat.size_diff / n,
            "blocks": stat.count_diff / n,
        }
        for stat in new.compare_to(old, "lineno")
        if abs(stat.size_diff) / n >= 16
    ]
    files: dict[str, float] = {}
    for stat in new.compare_to(old, "filename"):
        name = _short(stat.traceback[0].filename)
        files[name] = files.get(name, 0) + stat.size_diff / n
    return {
        "lines": lines[:80],
        "files": {k: v for k, v in sorted(files.items(), key=lambda kv: -kv[1]) if abs(v) >= 1},
    }


def measure_traced(viewers_n: int, env: dict[str, str], seeded: seed.Seeded) -> dict[str, Any]:
    """One worker under tracemalloc: the traced growth with `viewers_n` viewers."""
    (poll,) = seed.create_polls(seeded, 1, "memory traced")
    server = ProbedServer(1, seeded.url, True, env)
    with server.start(f"/api/v1/polls/{poll.id}", timeout=180):
        warm_up(server, poll, seeded, False)
        settled_rss(server)
        (base,) = server.probe()
        viewers = open_viewers(server, poll, seeded, False)
        try:
            connect(viewers, viewers_n)
            settled_rss(server)
            (after,) = server.probe()
            viewers.call(120, cmd="close")
        finally:
            viewers.kill()
        growth = _traced_growth(base, after, viewers_n)  # before stop() removes the files
    return {
        "viewers": viewers_n,
        "traced_per_viewer": (after["traced"] - base["traced"]) / viewers_n,
        **growth,
        "objects": per_viewer([after], [base], viewers_n)["objects"],
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    files = raise_open_files()
    steps = [int(n) for n in args.viewers.split(",")]
    env = dict(item.split("=", 1) for item in args.env)
    log(f"database {DATABASE}: creating, migrating")
    seeded = seed.setup(DATABASE, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.memory " + shlex.join(sys.argv[1:]),
        "label": args.label or webapp_state(),
        "load_start": os.getloadavg(),
        "server_env": env,
        "runs": [],
    }
    started = time.monotonic()
    for compression in args.compression.split(","):
        for workers in (int(w) for w in args.workers.split(",")):
            fits = [n for n in steps if n / workers + FD_MARGIN <= files]
            if len(fits) < len(steps):
                log(f"w{workers}: open-file limit {files}: steps {fits} only")
            results["runs"].append(
                measure_rss(workers, fits, compression == "deflate", env, seeded)
            )
    if args.trace:
        results["traced"] = measure_traced(args.trace, env, seeded)
        log(f"traced: {results['traced']['traced_per_viewer'] / KIB:.1f} KiB/viewer")
    results["load_end"] = os.getloadavg()
    results["seconds"] = time.monotonic() - started
    return results


# ------------------------------------------------------------------ the report

# Where the traced memory was allocated (the innermost Python frame), by file.
AREAS = (
    ("asyncio/queues.py", "asyncio queues"),
    ("asyncio/locks.py", "asyncio events and locks"),
    ("asyncio/tasks.py", "asyncio tasks and waits"),
    ("asyncio/taskgroups.py", "asyncio tasks and waits"),
    ("_weakrefset.py", "asyncio tasks and waits"),
    ("asyncio/streams.py", "asyncio streams"),
    ("asyncio/runners.py", "the event loop itself (uvloop's transport, callbacks)"),
    ("hypercorn/", "Hypercorn"),
    ("h11/", "h11"),
    ("wsproto/", "wsproto"),
    ("quart/", "Quart"),
    ("werkzeug/", "Werkzeug, Flask's session, quart-auth"),
    ("flask/", "Werkzeug, Flask's session, quart-auth"),
    ("itsdangerous/", "Werkzeug, Flask's session, quart-auth"),
    ("quart_auth/", "Werkzeug, Flask's session, quart-auth"),
    ("webapp/hypercorn_patches/", "webapp/hypercorn_patches/"),
    ("webapp/live/", "webapp/live (route, hub, FrameSink)"),
    ("webapp/", "webapp (logs, callers)"),
)


def _area(filename: str) -> str:
    return next((area for prefix, area in AREAS if filename.startswith(prefix)), "other")


def areas(traced: dict[str, Any]) -> dict[str, float]:
    found: dict[str, float] = {}
    for filename, size in traced.get("files", {}).items():
        found[_area(filename)] = found.get(_area(filename), 0) + size
    return found


FRAMES = ("builtins.coroutine ", "builtins.async_generator ", "builtins.generator ")


def _kinds(objects: dict[str, dict[str, float]]) -> dict[str, tuple[float, float]]:
    """The census by kind: every coroutine's frame together, other types as they are."""
    kinds: dict[str, tuple[float, float]] = {}
    for name, figures in objects.items():
        kind = "coroutine frames" if name.startswith(FRAMES) else name.replace("builtins.", "")
        count, size = kinds.get(kind, (0.0, 0.0))
        kinds[kind] = (count + figures["count"], size + figures["bytes"])
    return kinds


def _step(results: dict | None, workers: int, deflate: bool, viewers: int) -> dict | None:
    for entry in (results or {}).get("runs", []):
        if entry["workers"] == workers and entry["deflate"] == deflate:
            for step in entry["steps"]:
                if step["viewers"] == viewers:
                    return dict(step)
    return None


def _cell(step: dict | None) -> str:
    return "" if step is None else f"{step['kib_per_viewer']:.1f}"


def rss_table(results: dict, before: dict | None) -> list[str]:
    columns = sorted({s["viewers"] for r in results["runs"] for s in r["steps"]})
    rows = ["| workers | compression | " + " | ".join(f"{n:,} viewers" for n in columns) + " |"]
    rows.append("| --- | --- |" + " --- |" * len(columns))
    for entry in results["runs"]:
        workers, deflate = entry["workers"], entry["deflate"]
        for label, source in (("before", before), ("after", results)):
            if source is None:
                continue
            cells = [_cell(_step(source, workers, deflate, n)) for n in columns]
            if not any(cells):
                continue
            name = f"{workers} ({label})" if before is not None else str(workers)
            rows.append(
                f"| {name} | {'deflate' if deflate else 'none'} | " + " | ".join(cells) + " |"
            )
    return rows


def _largest_w1(results: dict | None) -> dict | None:
    for entry in (results or {}).get("runs", []):
        if entry["workers"] == 1 and not entry["deflate"] and entry["steps"]:
            return dict(entry["steps"][-1])
    return None


def heap_table(results: dict, before: dict | None) -> list[str]:
    """RSS against what Python's allocators hold, per viewer (1 worker, largest step)."""
    rows = ["| per viewer, KiB | " + (" before | after |" if before else " now |")]
    rows.append("| --- | --- |" + (" --- |" if before else ""))
    sources = [s for s in (_largest_w1(before), _largest_w1(results)) if s is not None]
    traced = [t for t in ((before or {}).get("traced"), results.get("traced")) if t]

    def line(label: str, values: list[float]) -> None:
        if len(values) == len(sources):
            rows.append(f"| {label} | " + " | ".join(f"{v / KIB:.1f}" for v in values) + " |")

    def figure(source: dict, table: str, name: str) -> float:
        return float(source["per_viewer"][table].get(name, 0))

    line("RSS of the worker", [s["per_viewer"]["workers_rss"] for s in sources])
    line("pymalloc's arenas", [figure(s, "pymalloc", "bytes_in_arenas") for s in sources])
    line("pymalloc's used blocks", [figure(s, "pymalloc", "bytes_in_used_blocks") for s in sources])
    line("glibc malloc, in use", [figure(s, "mallinfo", "uordblks") for s in sources])
    if len(traced) == len(sources):
        line("traced by tracemalloc (its own run)", [t["traced_per_viewer"] for t in traced])
    return rows


def area_table(results: dict, before: dict | None) -> list[str]:
    now = areas(results.get("traced", {}))
    old = areas((before or {}).get("traced", {}))
    names = sorted(set(now) | set(old), key=lambda a: -max(now.get(a, 0), old.get(a, 0)))
    rows = ["| allocated in | " + ("before | after |" if old else "bytes |")]
    rows.append("| --- | --- |" + (" --- |" if old else ""))
    for name in names:
        cells = ([f"{old.get(name, 0):,.0f}"] if old else []) + [f"{now.get(name, 0):,.0f}"]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    total_old = sum(old.values())
    rows.append(
        "| **total** | "
        + (f"**{total_old:,.0f}** | " if old else "")
        + f"**{sum(now.values()):,.0f}** |"
    )
    return rows


def object_table(results: dict, before: dict | None, top: int = 18) -> list[str]:
    """The census of the untraced run (1 worker, its largest step), by kind."""
    census = [s for s in (_largest_w1(before), _largest_w1(results)) if s is not None]
    tables = [_kinds(s["per_viewer"]["objects"]) for s in census]
    names = sorted(
        {name for table in tables for name in table},
        key=lambda k: -max(table.get(k, (0.0, 0.0))[1] for table in tables),
    )
    head = " | ".join(["before", "after"] if before else ["now"])
    rows = [f"| object | {head} |", "| --- |" + " --- |" * len(tables)]
    for name in names[:top]:
        cells = []
        for table in tables:
            count, size = table.get(name, (0.0, 0.0))
            cells.append(f"{count:.1f}: {size:,.0f} B" if count else "")
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    totals = [sum(size for _, size in table.values()) for table in tables]
    rows.append("| **all counted** | " + " | ".join(f"**{t:,.0f} B**" for t in totals) + " |")
    return rows


METHOD = """
Measured by `{command}` on {date} (load average {load_start} at the start, {load_end} at the
end: {machine}; memory figures move little with the load, join rates a lot, so none are
given here). `livepolls serve` on PostgreSQL, one published
poll; bench/viewers.mjs (4 Node processes, 128 handshakes at a time) opens idle viewers in
steps; after each step, once the server's RSS has stopped moving, the growth of the RSS of
the server's whole process tree since the baseline (a few viewers joined and left first),
divided by the viewers: the *KiB/viewer* of bench.run. bench/memprobe.py has each worker
report, on a signal, its RSS, pymalloc's arenas, glibc's `mallinfo2` and a census of the
objects the garbage collector tracks (and the untracked ones they refer to), by type and
`sys.getsizeof`; a separate run with one worker under tracemalloc gives the traced growth by
allocating file. *Before* is the same command on {before_label}; *after* on {label}.
"""


CHANGES = """
What changed (webapp/live/routes.py, webapp/live/hub.py, webapp/hypercorn_patches/quart_ws.py),
each step measured on its own while it was made (`--workers 2 --viewers 5000,20000
--compression none --trace 0`, RSS per viewer at 20,000 viewers; 25.0 KiB before):

- **No task of the route's** (25.0 to 21.5 KiB, with the next item): a live stream ran two
tasks, one sending the updates and one reading whatever the client sent (to close on an
oversize message or a flood), and waited for the first to end. Under our Hypercorn the
handler's own task (the connection's app task) now sends, and the client's messages are
checked as Hypercorn reads them (`Screen`, handed to `quart_ws._Delivery` through
`scope["extensions"]["livepolls.incoming"]`): a refusal or the client leaving cancels the
handler, and a refusal closes with the screen's code (1008 or 1009). Elsewhere (another
server, Quart's test client) the two tasks remain.

- **`Viewer.wake`**: an `asyncio.Event` per viewer is now a future made only while the
viewer's task waits.

- **Two coroutine frames** (21.5 to 20.5): the wait is inline in `Hub.subscribe`, and the
route awaits its sender itself, not through a helper.

- **The handshake's headers** (20.5 to 19.4): Quart's copy of the request headers and
Werkzeug's parses of the query and the cookies are dropped once the stream starts; nothing
reads them again (the account, the format, the view and the request id were taken from
them). A browser's cookies and user agent make this larger than the bench client's.

Earlier (7396bfc, 41.0 to 25.0 KiB): asyncio's and wsproto's deques of waiters became
lists, Quart's two tasks per WebSocket went (its handler runs in the connection's app task,
which Hypercorn's `Mailbox` hands the client's messages), Hypercorn's read loop and the ASGI
wrappers lost their coroutine frames, and h11's state, the handshake and the scope's raw
headers are dropped once the upgrade is answered.

Measured and left (on 7396bfc): Python's own collector settings instead of the server's
(thresholds 700, 10, 10, nothing frozen; `BENCH_MEMPROBE_GC=default`) and
`MALLOC_ARENA_MAX=2` changed the figure by less than 1%. The RSS is what pymalloc's used
blocks and glibc hold (the second table): fragmentation and arenas are not where it goes.

What an idle viewer still holds, roughly: two tasks (Hypercorn's reading one, and the app
task with Quart's dispatch frames, the route's and the hub's) with their frames, futures,
contexts and weak references, about 6 KiB; Quart's WebSocket context (the websocket,
session, `g`, URL adapter) about 2.5 KiB; Hypercorn's, h11's and wsproto's objects about
4 KiB; asyncio's stream and uvloop's transport about 3.5 KiB; the hub's viewer, the
FrameSink and the route's own objects about 1 KiB. The next lever would be Hypercorn's
reading task: a connection read by protocol callbacks would hold no task while idle.
"""


def _machine(load_at_start: float) -> str:
    """What the load average says of the machine, as bench/report.py reads it."""
    if load_at_start < 0.5:
        return "the machine was otherwise idle when the run started"
    return "other work shared the 2 cores"


def render(results: dict, before: dict | None) -> str:
    load = ", ".join(f"{v:.2f}" for v in results["load_start"])
    lines = [
        "## Viewer memory",
        "",
        " ".join(
            METHOD.format(
                command=results["command"].strip(),
                date=results["date"],
                load_start=load,
                load_end=", ".join(f"{v:.2f}" for v in results["load_end"]),
                machine=_machine(results["load_start"][0]),
                before_label=(before or {}).get("label", "the code before"),
                label=results["label"],
            ).split()
        ),
        "",
        "RSS per idle viewer, KiB (server process tree):",
        "",
        *rss_table(results, before),
        "",
        "One worker, its largest step: RSS against what the allocators hold, KiB per viewer:",
        "",
        *heap_table(results, before),
        "",
        "Where the traced memory of an idle viewer was allocated (innermost Python frame; 1 "
        f"worker, {results.get('traced', {}).get('viewers', 0):,} viewers), bytes per viewer. "
        "webapp/hypercorn_patches/ now allocates part of what Hypercorn and Quart did (the "
        "connection's app task and its queues, Quart's connection):",
        "",
        *area_table(results, before),
        "",
        "The objects behind it: the census of the untraced run (1 worker, its largest step; "
        "`sys.getsizeof`, so an instance's attributes, kept in 3.11's inline values, are not "
        "counted, and a coroutine counts its frame), count: bytes per viewer:",
        "",
        *object_table(results, before),
    ]
    if before is not None:
        for part in CHANGES.strip().split("\n\n"):
            lines += ["", " ".join(part.split())]
    return "\n".join(lines)


def summary(results: dict) -> str:
    lines = []
    for entry in results["runs"]:
        for step in entry["steps"]:
            lines.append(
                f"w{entry['workers']} {'deflate' if entry['deflate'] else 'none'} "
                f"{step['viewers']:>6,}: {step['kib_per_viewer']:.1f} KiB/viewer"
            )
    if "traced" in results:
        lines.append(f"traced: {results['traced']['traced_per_viewer'] / KIB:.1f} KiB/viewer")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.memory",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--viewers", default="2000,5000,10000,20000", help="cumulative steps")
    parser.add_argument("--compression", default="none", help="none, deflate or both")
    parser.add_argument("--trace", type=int, default=5000, metavar="N", help="0: no traced run")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="for the server"
    )
    parser.add_argument("--label", help="the code under test, for the report (default: git)")
    parser.add_argument("--before", metavar="RESULTS_JSON", help="a run to compare with")
    parser.add_argument("--no-write", action="store_true", help="leave docs/benchmarks.md")
    parser.add_argument(
        "--report-only", metavar="RESULTS_JSON", help="only rewrite the section from a saved run"
    )
    args = parser.parse_args(argv)
    if args.report_only:
        results = json.loads(Path(args.report_only).read_text())
    else:
        results = run(args)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        saved = RESULTS / f"memory-{stamp}.json"
        saved.write_text(json.dumps(results, indent=1))
        log(f"raw results: {saved}")
    print(summary(results))
    if not args.no_write:
        from bench.report import replace_section

        before = json.loads(Path(args.before).read_text()) if args.before else None
        replace_section(ROOT / "docs" / "benchmarks.md", "memory", render(results, before))


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
