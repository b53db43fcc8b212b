"""What limits these figures: CPU per request, the row lock, the time per viewer per update."""

from __future__ import annotations

from bench.tables import combo_of, ingest_row, reads_row
from bench.targets import READS, VOTES_MANY_POLLS, VOTES_ONE_POLL


def section(results: dict) -> str:
    many = f"{results['plan']['many_polls']} polls"
    out: list[str] = []
    for server in ("hypercorn", "uvicorn"):
        out += _cpu_per_request(results, server, many)
    out += _one_poll(results)
    for server in ("hypercorn", "uvicorn"):
        out += _fanout(results, server)
    out += _joins(results)
    return "\n".join(out) or "Not measured."


def _cpu_per_request(results: dict, server: str, many: str) -> list[str]:
    out = []
    row = ingest_row(results, server, 2, many, False)
    if row and row.get("cpu") and row["votes_per_second"]:
        cpu, rate = row["cpu"], row["votes_per_second"]
        out.append(
            f"- **Votes ({server}, 2 workers, {many})**: {rate:.0f} votes/s with "
            f"{cpu['machine']:.2f} of 2 cores busy: {1000 * cpu['server'] / rate:.1f} ms of "
            f"server CPU and {1000 * cpu['postgres'] / rate:.1f} ms of PostgreSQL CPU per "
            f"vote. {VOTES_MANY_POLLS:,} votes/s on 2 cores leaves about "
            f"{2000 / VOTES_MANY_POLLS:.2f} ms of CPU per vote, for everything."
        )
    reads = reads_row(results, server, 2, keep_alive=True)
    if reads and reads.get("cpu") and reads["per_second"]:
        cpu, rate = reads["cpu"], reads["per_second"]
        out.append(
            f"- **Reads ({server}, 2 workers, keep-alive)**: {rate:.0f} req/s, "
            f"{1000 * cpu['server'] / rate:.1f} ms of server CPU and "
            f"{1000 * cpu['postgres'] / rate:.1f} ms of PostgreSQL CPU per `GET`; "
            f"{READS:,} req/s on 2 cores leaves about {2000 / READS:.2f} ms."
        )
    return out


def _one_poll(results: dict) -> list[str]:
    one = ingest_row(results, "hypercorn", 2, "1 poll", False)
    if not (one and one["votes_per_second"]):
        return []
    one_w1 = ingest_row(results, "hypercorn", 1, "1 poll", False)
    one_u = ingest_row(results, "uvicorn", 2, "1 poll", False)
    rate = one["votes_per_second"]
    others = "; ".join(
        f"{label}: {row['votes_per_second']:.0f}/s"
        for label, row in (("hypercorn, 1 worker", one_w1), ("uvicorn, 2 workers", one_u))
        if row
    )
    cpu = one.get("cpu") or {}
    per_vote = (
        f" ({1000 * cpu['server'] / rate:.2f} ms of server CPU and "
        f"{1000 * cpu['postgres'] / rate:.2f} ms of PostgreSQL CPU per vote, "
        f"{cpu['machine']:.2f} of 2 cores busy)"
        if cpu
        else ""
    )
    return [
        f"- **Votes on one poll (hypercorn, 2 workers)**: {rate:.0f} votes/s. They go in by "
        "group commit: the votes that arrive while the poll's batch is written wait and go in "
        "the next batch, with one lock, one read, one write and one commit for all of them, "
        f"so the rate follows the CPU each vote costs{per_vote} more than the lock. Other "
        f"servers and worker counts: {others}. {VOTES_ONE_POLL:,} votes/s on 2 cores leaves "
        f"about {2000 / VOTES_ONE_POLL:.2f} ms of CPU per vote, for everything."
    ]


def _fanout(results: dict, server: str) -> list[str]:
    parts = []
    for workers in (1, 2):
        combo = combo_of(results, server, workers, False)
        for step in combo["steps"] if combo else []:
            p50 = step["last_viewer_p50_ms"]
            if p50 is None or step["viewers"] < 1000:
                continue
            per_worker = step["viewers"] / workers
            parts.append(
                f"{step['viewers']:,} viewers / {workers} worker(s): "
                f"{1000 * p50 / per_worker:.0f} µs"
            )
    if not parts:
        return []
    return [
        f"- **Fan-out ({server}, no compression)**: the median vote-to-last-viewer time "
        "divided by the viewers each worker serves, i.e. the time per viewer per "
        f"update: {'; '.join(parts)}. 10,000 viewers within 250 ms on 2 workers needs "
        "50 µs or less, clients included."
    ]


def _joins(results: dict) -> list[str]:
    joins = []
    for combo in results["fanout"]:
        if combo["server"] == "hypercorn" and not combo["deflate"]:
            steps = ", ".join(
                f"to {s['viewers']:,}: {s['connect']['per_second']:.0f}/s" for s in combo["steps"]
            )
            joins.append(f"{combo['workers']} worker(s): {steps}")
    if not joins:
        return []
    return [
        "- **Joins (hypercorn, no compression)**: connections opened per second, from the "
        f"previous step to the next ({'; '.join(joins)}). Viewer counts go out at most "
        "once a second, so a crowd joining does not cost a message per join to everyone."
    ]
