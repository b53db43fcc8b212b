"""Capacity: `livepolls loadtest` against the app's own server, for docs/capacity.md.

`python -m bench.capacity [--workers 1,2] [--viewers 1000,5000,10000] [--rates 50,200]
[--write-report]`: a fresh PostgreSQL database (bench/seed.py, one user with a token),
then per worker count one server (bench/servers.py, rate limits off) and, against it, one
`livepolls loadtest` run per (viewers, rate): `--voters` twice the rate, `--duration 10`,
the command's other defaults (permessage-deflate, its own viewer processes). It prints one
table row per run, and with --write-report keeps the table in docs/capacity.md. The load
test runs on the same machine as the server and PostgreSQL: its own CPU is in the table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.seed import setup
from bench.servers import ROOT, Server

DATABASE = "livepolls_bench_capacity"
DURATION_S = 10


def _ms(value: float) -> str:
    return f"{value / 1000:.1f} s" if value >= 1000 else f"{value:.0f} ms"


def row(workers: int, report: dict) -> str:
    """One line of the table, from a loadtest --json report."""
    last, http = report["last_viewer_latency"], report["vote_http_latency"]
    votes, viewers, client = report["votes"], report["viewers"], report["client"]
    failed = sum(viewers["failed"].values())
    latency = " / ".join(_ms(last[f"{p}_ms"]) for p in ("p50", "p95", "p99", "max"))
    shares = ", ".join(f"{share:.0%}" for share in client["viewer_cpu_shares"])
    cells = [
        str(workers),
        f"{report['settings']['viewers']:,}",
        f"{report['settings']['rate']:g}",
        f"{votes['accepted_per_s']:g}",
        latency,
        f"{_ms(http['p50_ms'])} / {_ms(http['p99_ms'])}",
        str(votes["skipped_voters_busy"]),
        str(failed),
        "yes" if report["check"]["exact"] else "NO",
        f"{client['voting_cpu_share']:.0%}; {shares}",
    ]
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "| workers | viewers | votes/s asked | accepted/s | vote→last viewer p50 / p95 / p99 / max"
    " | vote HTTP p50 / p99 | not sent (voters busy) | viewer failures | exact"
    " | client CPU (voting; viewer processes) |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
)


def loadtest(base: str, token: str, viewers: int, rate: int) -> dict:
    command = [sys.executable, "-m", "webapp.cli", "loadtest", base, "--token", token]
    command += ["--viewers", str(viewers), "--rate", str(rate), "--voters", str(2 * rate)]
    command += ["--duration", str(DURATION_S), "--json", "--quiet"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT)
    if done.returncode not in (0, 1):  # 1: a run with errors, still a report
        raise RuntimeError(f"loadtest failed ({done.returncode}):\n{done.stderr[-2000:]}")
    report: dict = json.loads(done.stdout)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--viewers", default="1000,5000,10000")
    parser.add_argument("--rates", default="50,200")
    parser.add_argument("--write-report", action="store_true")
    args = parser.parse_args()
    seeded = setup(DATABASE, 1)
    rows = []
    with tempfile.TemporaryDirectory(prefix="livepolls-bench-capacity-") as logs:
        for workers in (int(w) for w in args.workers.split(",")):
            server = Server("hypercorn", workers, seeded.url, Path(logs))
            server.start("/api/v1/polls")
            try:
                for viewers in (int(v) for v in args.viewers.split(",")):
                    for rate in (int(r) for r in args.rates.split(",")):
                        report = loadtest(server.base, seeded.token(0), viewers, rate)
                        rows.append(row(workers, report))
                        print(rows[-1], flush=True)
            finally:
                server.stop()
    table = HEADER + "\n" + "\n".join(rows)
    print(table)
    if args.write_report:
        from bench.report import replace_section

        replace_section(ROOT / "docs" / "capacity.md", "capacity", table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
