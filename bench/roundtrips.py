"""Round trips: bench/statements.py counts the SQL statements of a vote, a read and a join."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bench import seed
from bench.tables import md
from bench.tools import ROOT, log


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


def section(results: dict) -> str:
    found = results.get("statements")
    if not isinstance(found, dict):
        return f"Not measured ({found}).\n"
    rows = [[case, len(calls)] for case, calls in found.items()]
    vote = found.get("vote, nobody watching", [])
    listing = "\n".join(f"{i}. `{c}`" for i, c in enumerate(vote, 1))
    return (
        "`bench/statements.py` runs the app in-process against the benchmark database and "
        "counts the statements asyncpg sends (each one a round trip to PostgreSQL):\n\n"
        + md(["request", "round trips"], rows)
        + "\n\nA vote, in order:\n\n"
        + listing
        + "\n"
    )
