"""Turns a run's results into the console table and docs/benchmarks.md.

Each case's section comes from its own module (bench/ingest.py, reads.py, fanout.py,
hotpoll.py, shutdown.py, reference.py, profiles.py, roundtrips.py); the targets
(bench/targets.py) and what limits the figures (bench/limits.py) read across cases. Sections
that other harnesses write into the same file (bench/ratelimit.py, churn.py, patches.py)
are kept: see `with_kept_sections` and `replace_section`.
"""

from __future__ import annotations

import re
from pathlib import Path

from bench import fanout, hotpoll, ingest, limits, profiles, reads, reference, roundtrips, shutdown
from bench.fanout import fanout_rows
from bench.hotpoll import hot_rows
from bench.ingest import ingest_rows
from bench.reads import reads_rows
from bench.tables import md
from bench.targets import target_count, targets

summarize_profile = profiles.summarize_profile  # what bench.run and older callers use


def _header(results: dict) -> list[str]:
    m = results["machine"]
    v = results["versions"]
    return [
        "# Benchmarks",
        "",
        "Measured by the harness in `bench/` (see `bench/run.py` for what each case does). "
        "Re-run it with:",
        "",
        "```sh",
        "python3 -m venv .venv && .venv/bin/pip install -q -c constraints.txt -e .",
        ". .venv/bin/activate && python -m bench.run          # full run, about 20 minutes",
        "python -m bench.run --quick                           # smoke run, a few minutes",
        "```",
        "",
        "It installs its own extras when missing: `pip install -r bench/requirements.txt` "
        "(Uvicorn with uvloop, httptools and websockets, py-spy), `npm ci --prefix bench` "
        "(the `ws` package) and `apt-get install -y wrk` (Debian's wrk, built with LuaJIT). It "
        "needs PostgreSQL at `BENCH_POSTGRES_URL` (default "
        "`postgresql://postgres@127.0.0.1:5432/postgres`) and Node.js 18 or newer, and "
        "creates the database `livepolls_bench` afresh on every run.",
        "",
        "## This run",
        "",
        f"- Date: {results['date']}; took {results['seconds'] / 60:.1f} minutes",
        f"- Command: `{results['command']}`",
        f"- Machine: {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, Linux "
        f"{m['kernel']}; load average at start {', '.join(f'{x:.2f}' for x in m['load_start'])}, "
        f"at end {', '.join(f'{x:.2f}' for x in m.get('load_end', ()))}",
        _quiet_note(m),
        "- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        "- Servers: `python -m webapp.cli serve --workers N` (Hypercorn, the app's own "
        "command: uvloop, a `SO_REUSEPORT` listening socket per worker, live frames written "
        "straight to the sockets) with `DATABASE_URL` and `SECRET_KEY` set, `LIVEPOLLS_ENV` "
        "unset, every other setting at its default (pool of 10 connections per worker, live "
        "interval 75 ms); the reference is `uvicorn webapp.asgi:app --loop uvloop --http "
        "httptools --ws websockets-sansio --workers N` on the same database (there the app "
        "sends live updates through ASGI, one task per viewer).",
        "- *CPU cores* columns: CPU seconds per second of the case, from /proc: the server's "
        "processes (and each worker), every PostgreSQL process, and the rest of the machine "
        "(the load generators and anything else running). 2.00 is the whole machine.",
        "- KB in the targets is taken as KiB (1,024 bytes).",
        "",
    ]


def _targets_and_limits(results: dict) -> list[str]:
    return [
        "## Targets (the app under Hypercorn)",
        "",
        md(["target", "measured", "result"], [list(row) for row in targets(results)]),
        "",
        target_count(results),
        "",
        "With 20 votes per step, a p99 is in effect the slowest of the 20. Latency targets are "
        "judged on the vote-to-last-viewer time, which includes the clients' own time to read "
        "the message on the same 2 cores.",
        "",
        "## What limits these figures",
        "",
        "Derived from the tables below (CPU per request = cores used / requests per second):",
        "",
        limits.section(results),
        "",
    ]


def render(results: dict) -> str:
    lines = _header(results) + _targets_and_limits(results)
    for case in (ingest, reads, fanout, hotpoll, shutdown, reference):
        lines += case.section(results)
    lines += [
        "## Where the time goes",
        "",
        profiles.section(results),
        profiles.READING,
        "### Round trips per request",
        "",
        roundtrips.section(results),
    ]
    return "\n".join(lines) + "\n"


def table(results: dict) -> str:
    """The console summary: targets, then the main figures."""
    out = ["", "TARGETS (app under Hypercorn)"]
    for target, measured, status in targets(results):
        out.append(f"  [{status.strip('*'):>12}] {target}\n                 {measured}")
    out.append(
        "\nINGEST  server workers case vote_table votes/s p50ms p99ms acked stored "
        "inflight lost extra exact cpu:server(workers)/postgres/rest"
    )
    out += ["  " + " ".join(str(c) for c in row) for row in ingest_rows(results)]
    out.append("\nREADS   server workers connections req/s p50ms p99ms errors cpu")
    out += ["  " + " ".join(str(c) for c in row) for row in reads_rows(results)]
    out.append(
        "\nFAN-OUT server workers compression viewers last_p50 last_p99 http_p50 "
        "http_p99 conn/s KiB/viewer cpu"
    )
    out += ["  " + " | ".join(str(c) for c in row) for row in fanout_rows(results)]
    out.append(
        "\nHOT POLL server workers viewers votes rate msg/viewer/s(mean/max) e2e_p50 "
        "e2e_p99 http_p50 http_p99 exact_viewers db_exact"
    )
    out += ["  " + " | ".join(str(c) for c in row) for row in hot_rows(results)]
    return "\n".join(out)


def _quiet_note(machine: dict) -> str:
    if machine["load_start"][0] < 0.5:
        return (
            "- The machine was otherwise idle when the run started (load average below 0.5). "
            "Server, PostgreSQL and load generators share its 2 cores: every client here "
            "costs the server CPU."
        )
    return (
        "- **The machine may have been busy** (load average at start "
        f"{machine['load_start'][0]:.2f}): figures can be lower and noisier than on a quiet "
        "machine. Server, PostgreSQL and load generators also share the 2 cores: every client "
        "here costs the server CPU."
    )


KEPT = re.compile(r"<!-- kept: (\w+) -->\n.*?<!-- /kept: \1 -->\n", re.S)


def with_kept_sections(text: str, path: Path) -> str:
    """The report with the sections other harnesses keep in the same file (bench/ratelimit.py
    writes one), carried over from the file as it is."""
    old = path.read_text() if path.exists() else ""
    kept = [match.group(0) for match in KEPT.finditer(old)]
    return text.rstrip("\n") + "\n\n" + "\n".join(kept) if kept else text


def replace_section(path: Path, name: str, body: str) -> None:
    """Write (or replace) the kept section `name` at the end of the file."""
    block = f"<!-- kept: {name} -->\n{body.rstrip()}\n<!-- /kept: {name} -->\n"
    old = path.read_text() if path.exists() else ""
    pattern = re.compile(rf"<!-- kept: {name} -->\n.*?<!-- /kept: {name} -->\n", re.S)
    if pattern.search(old):
        path.write_text(pattern.sub(lambda _: block, old))
    else:
        path.write_text(old.rstrip("\n") + "\n\n" + block)
