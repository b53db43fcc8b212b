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
import signal
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import fanout, ingest, report, seed
from bench.plans import Context, Plan, full_plan, quick_plan
from bench.profiles import summarize_profile
from bench.roundtrips import round_trips
from bench.tools import ROOT, ensure_tools, log, machine, raise_open_files, versions

BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
# Where each case lives, with its part of the report: ingest.py (with reads.py), fanout.py
# (with hotpoll.py), roundtrips.py, shutdown.py, reference.py (Uvicorn), profiles.py. Shared:
# plans.py (sizes, Context), tools.py, wrk.py, viewers.py, stats.py, servers.py, seed.py,
# tables.py; the report is assembled by report.py, with targets.py and limits.py.


def parse_args(argv: list[str] | None) -> argparse.Namespace:
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
    return parser.parse_args(argv)


def make_plan(args: argparse.Namespace) -> Plan:
    plan = quick_plan() if args.quick else full_plan()
    for combo in plan.combos:
        if args.steps:
            combo.steps = [int(n) for n in args.steps.split(",")]
        if args.ramp_budget is not None:
            combo.ramp_budget = args.ramp_budget
    return plan


def output_path(args: argparse.Namespace) -> Path:
    if args.output:
        return Path(args.output)
    return RESULTS / "quick.md" if args.quick else ROOT / "docs" / "benchmarks.md"


def report_only(saved_path: str, output: Path) -> None:
    """Rewrite the report (and print the console table) from a saved run."""
    saved = json.loads(Path(saved_path).read_text())
    for entry in saved.get("profiles", {}).values():
        if Path(entry["path"]).exists():
            entry["summary"] = summarize_profile(Path(entry["path"]))
    output.write_text(report.with_kept_sections(report.render(saved), output))
    print(report.table(saved))


def new_results(args: argparse.Namespace, plan: Plan, command: str) -> dict[str, Any]:
    return {
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


def prepare(args: argparse.Namespace, plan: Plan, results: dict) -> seed.Seeded:
    """A fresh, seeded database; the versions under test; the round trips per request."""
    name = "livepolls_bench_quick" if args.quick else "livepolls_bench"
    log(f"database {name}: creating, migrating, seeding {plan.users} users")
    seeded = seed.setup(name, plan.users)
    results["versions"] = versions(seeded)
    results["statements"] = round_trips(seeded)
    return seeded


def run_cases(args: argparse.Namespace, ctx: Context) -> None:
    """The ingest (with reads) and fan-out cases, on the servers and worker counts asked for."""
    servers = args.servers.split(",")
    workers = [int(w) for w in args.workers.split(",")]
    cases = set(args.cases.split(","))
    if "ingest" in cases:
        ingest.run(ctx, servers, workers)
    if "fanout" in cases:
        fanout.fanout_phase(ctx, servers, workers)


def save(results: dict, stamp: str, started: float) -> None:
    """The raw results, with the profiles summarised, whatever happened to the cases."""
    results["machine"]["load_end"] = os.getloadavg()
    results["seconds"] = time.monotonic() - started
    for key, entry in results["profiles"].items():
        entry["summary"] = summarize_profile(Path(entry["path"]))
        results["profiles"][key] = entry
    (RESULTS / f"{stamp}.json").write_text(json.dumps(results, indent=1, default=str))
    log(f"raw results: {RESULTS / f'{stamp}.json'}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    plan = make_plan(args)
    output = output_path(args)
    command = "python -m bench.run" + (" " + " ".join(argv if argv is not None else sys.argv[1:]))
    if args.report_only:
        report_only(args.report_only, output)
        return
    started = time.monotonic()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))
    ensure_tools(not args.no_install)
    raise_open_files()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    logs = RESULTS / stamp
    logs.mkdir(parents=True, exist_ok=True)
    results = new_results(args, plan, command)
    seeded = prepare(args, plan, results)
    try:
        run_cases(args, Context(seeded, plan, results, logs, not args.no_profile))
    finally:
        save(results, stamp, started)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report.with_kept_sections(report.render(results), output))
    print(report.table(results))
    log(f"done in {results['seconds'] / 60:.1f} min; report: {output}")


if __name__ == "__main__":
    main()
