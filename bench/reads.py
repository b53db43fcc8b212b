"""Reads: wrk GETs /api/v1/polls/{id} anonymously, over keep-alive connections and with a new
connection per request, on the servers of the ingest case (bench/ingest.py starts them)."""

from __future__ import annotations

from typing import Any

from bench.plans import Plan
from bench.servers import CpuMeter, Server
from bench.tables import CPU_HEAD, cpu_cell, md, ms
from bench.tools import log
from bench.wrk import wrk


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


# ------------------------------------------------------------------ the report


def reads_rows(results: dict) -> list[list[Any]]:
    return [
        [
            r["server"],
            r["workers"],
            "keep-alive" if r.get("keep_alive") else "new per request",
            f"{r['per_second']:.0f}",
            ms(r["p50_us"] / 1000),
            ms(r["p99_us"] / 1000),
            r["errors"]["status"] + r["errors"]["timeout"],
            cpu_cell(r.get("cpu")),
        ]
        for r in results["reads"]
    ]


def _keep_alive_note(results: dict) -> str:
    uneven = [
        r
        for r in results["reads"]
        if r.get("keep_alive")
        and r.get("cpu")
        and len(r["cpu"]["workers"]) > 1
        and min(r["cpu"]["workers"]) < 0.2 * max(r["cpu"]["workers"])
    ]
    if uneven:
        names = ", ".join(f"{r['server']}" for r in uneven)
        return f" In this run one worker took nearly all of them with: {names}."
    return " In this run they spread over both workers with every server."


def section(results: dict) -> list[str]:
    plan = results["plan"]
    return [
        "## Reads",
        "",
        f"wrk (1 thread, {plan['reads_connections']} connections, {plan['reads_seconds']} s), "
        "`GET /api/v1/polls/{id}` anonymously, on the servers of the ingest cases, over "
        "keep-alive connections, then again with every request on a new connection "
        "(`Connection: close`). wrk opens its keep-alive connections all at once, and the CPU "
        "column shows which workers took them: with one shared listening socket the first "
        "worker to wake could accept the whole burst and leave the other idle; our server "
        "gives each worker its own `SO_REUSEPORT` socket, so the kernel spreads them."
        + _keep_alive_note(results),
        "",
        md(
            ["server", "workers", "connections", "req/s", "p50 ms", "p99 ms", "errors", CPU_HEAD],
            reads_rows(results),
        ),
        "",
    ]
