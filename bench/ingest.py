"""Vote ingest: wrk POSTs votes (bench/ingest.lua), each a new (user, poll) pair; the stored
votes and running counts must equal the acknowledged ones. Reads run on the same servers.

Per server and worker count: warm up, reads (first phase only), then 100 polls, then 1 poll.
wrk cuts off the requests in flight when it stops, and a vote cut off mid-transaction can
leave a pooled connection checked out (see docs/benchmarks.md), so the cases that matter
most for the pool come first: reads, then the 100-poll case; the 1-poll case, bounded by
the poll's row lock rather than by the pool, comes last.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench import reads, seed, shutdown
from bench.plans import Context, Plan
from bench.servers import CpuMeter, Profiler, Server
from bench.tables import CPU_HEAD, cpu_cell, md, ms
from bench.tools import log
from bench.wrk import poll_spec, wrk

Case = tuple[str, list[seed.Poll], bool]  # name, polls, keep-alive


def ingest_case(
    server: Server,
    seeded: seed.Seeded,
    plan: Plan,
    polls: list[seed.Poll],
    profile_to: Path | None = None,
    keep_alive: bool = True,
) -> dict:
    """One wrk run of votes, then what the database holds for the case's polls."""
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
    _check_counts(result, seed.counts(seeded, polls), polls, keep_alive)
    return result


def _check_counts(result: dict, counts: seed.Counts, polls: list, keep_alive: bool) -> None:
    """Lost (acknowledged, not stored) and extra (stored beyond acked + in flight) votes."""
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


def ingest_phase(ctx: Context, servers: list[str], workers: list[int], stored: bool) -> None:
    """Every server and worker count, on a server of its own (see the module's docstring)."""
    for kind in servers:
        for count in workers:
            _one_server(ctx, kind, count, stored)


def _one_server(ctx: Context, kind: str, count: int, stored: bool) -> None:
    seeded, plan, results = ctx.seeded, ctx.plan, ctx.results
    label = f"{kind} w{count} {'stored' if stored else 'empty'}"
    one = seed.create_polls(seeded, 1, f"ingest-1 {label}")
    many = seed.create_polls(seeded, plan.many_polls, f"ingest-{plan.many_polls} {label}")
    log(f"ingest: {label}: starting {kind} with {count} worker(s)")
    server = Server(kind, count, seeded.url, ctx.logs)
    with server.start(f"/api/v1/polls/{one[0].id}") as srv:
        path = f"/api/v1/polls/{one[0].id}"
        # Warm up: fill the connection pools and the code paths with a short read run.
        wrk("reads.lua", srv.base + path, 2, plan.ingest_connections, [])
        if not stored:
            for keep_alive in (True, False):
                results["reads"].append(reads.reads_case(srv, plan, path, keep_alive))
        cases: list[Case] = [(f"{plan.many_polls} polls", many, True), ("1 poll", one, True)]
        if not stored:  # for reference: every vote from a new client connection
            fresh = seed.create_polls(seeded, plan.many_polls, f"ingest-new {label}")
            cases.append((f"{plan.many_polls} polls, new connections", fresh, False))
        for case in cases:
            # The profiled case: hypercorn, 1 worker, 100 polls, empty vote table.
            profiled = ctx.profile and (kind, count, stored, case[1] is many) == (
                "hypercorn",
                1,
                False,
                True,
            )
            _run_case(ctx, srv, case, stored, profiled)
    shutdown.record_stop(results, server, "after ingest (wrk cut off requests in flight)")


def _run_case(ctx: Context, server: Server, case: Case, stored: bool, profiled: bool) -> None:
    name, polls, keep_alive = case
    prof = ctx.logs / "profile-ingest.txt" if profiled else None
    vote_table = seed.vote_table_size(ctx.seeded)
    row = ingest_case(server, ctx.seeded, ctx.plan, polls, prof, keep_alive)
    row.update(
        server=server.kind,
        workers=server.workers,
        stored_votes=stored,
        case=name,
        vote_table=vote_table,
        profiled=prof is not None,
    )
    ctx.results["ingest"].append(row)
    log(
        f"  {name}: {row['votes_per_second']:.0f} votes/s, p50 "
        f"{row['p50_us'] / 1000:.1f} ms, p99 {row['p99_us'] / 1000:.1f} ms, "
        f"acked {row['s201']}, stored {row['stored']}, in flight at stop "
        f"{row['in_flight']}, exact {row['exact']}"
    )
    if prof is not None:
        ctx.results["profiles"]["ingest"] = {
            "path": str(prof),
            "what": f"{server.kind}, 1 worker, ingest over {ctx.plan.many_polls} polls",
        }
    seed.delete_votes(ctx.seeded, polls)


def run(ctx: Context, servers: list[str], workers: list[int]) -> None:
    """Both sets: on an empty vote table, then with the stored votes in other polls."""
    seeded, plan = ctx.seeded, ctx.plan
    ingest_servers = [k for k in plan.ingest_servers if k in servers]
    ingest_workers = [w for w in plan.ingest_workers if w in workers]
    ingest_phase(ctx, ingest_servers, ingest_workers, False)
    stored_polls = seed.create_polls(seeded, plan.stored_polls, "stored")
    total = seed.store_votes(seeded, stored_polls, plan.stored_voters)
    ctx.results["stored_votes"] = plan.stored_polls * plan.stored_voters
    ctx.results["vote_table_after_storing"] = total
    log(f"stored {total} votes in {plan.stored_polls} other polls")
    ingest_phase(ctx, ingest_servers, ingest_workers, True)


# ------------------------------------------------------------------ the report


def ingest_rows(results: dict) -> list[list[Any]]:
    return [_row(r) for r in results["ingest"]]


def _row(r: dict) -> list[Any]:
    exact = "yes" if r["exact"] else f"NO ({r['other_statuses'] or r['s200']})"
    return [
        r["server"],
        r["workers"],
        r["case"] + (" (profiled)" if r.get("profiled") else ""),
        f"{r['vote_table']:,}",
        f"{r['votes_per_second']:.0f}",
        ms(r["p50_us"] / 1000),
        ms(r["p99_us"] / 1000),
        r["s201"],
        r["stored"],
        r["in_flight"],
        r["lost"],
        r["extra"],
        exact,
        cpu_cell(r.get("cpu")),
    ]


HEADERS = [
    "server",
    "workers",
    "case",
    "vote table",
    "votes/s",
    "p50 ms",
    "p99 ms",
    "acked",
    "stored",
    "in flight at stop",
    "lost",
    "extra",
    "exact",
    CPU_HEAD,
]


def section(results: dict) -> list[str]:
    plan = results["plan"]
    return [
        "## Vote ingest",
        "",
        f"wrk (1 thread, {plan['ingest_connections']} connections, {plan['ingest_seconds']} s "
        "per case, after a 2 s warm-up) POSTs votes with `bench/ingest.lua`: every request is a "
        "new (user, poll) pair, so each 201 is one new vote; each connection carries request "
        "after request (keep-alive), as from a reverse proxy's upstream pool or a client that "
        'reuses its connection, except in the "new connections" case, where every vote '
        "comes on a new connection (`Connection: close`), as from a new client, for reference; "
        "users rotate through "
        f'{plan["users"]:,} seeded accounts and tokens. "1 poll" puts every vote on one poll; '
        f'"{plan["many_polls"]} polls" spreads them round-robin. After each case the harness '
        "counts the vote rows and the running counts (`poll_option.votes`, `poll.voters`) of "
        "the case's polls: *lost* = acknowledged (201) but not stored, *extra* = stored beyond "
        "the acknowledged plus the requests still in flight when wrk stopped (wrk cuts them "
        "off; each may or may not have committed, and *stored − acked* of them did). The "
        '"vote table" column is the number of votes already stored when the case started; '
        f"the second set of rows runs with {results.get('stored_votes', 0):,} votes stored in "
        f"{plan['stored_polls']} other polls. Latency is wrk's (closed loop, "
        f"{plan['ingest_connections']} requests outstanding). The two sets ran a few minutes "
        "apart, each on freshly started servers; while this harness was built the same case "
        "varied by up to about 25% between runs on a busy machine and about 10% on a quiet "
        "one, so only a larger drop than that would show a slowdown with stored votes.",
        "",
        md(HEADERS, ingest_rows(results)),
        "",
    ]
