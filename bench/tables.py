"""Helpers for the report's tables: number formats, Markdown tables, finding a case's row."""

from __future__ import annotations

from typing import Any


def ms(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def status(ok: bool | None) -> str:
    return "not measured" if ok is None else ("**met**" if ok else "**missed**")


def ingest_row(results: dict, server: str, workers: int, case: str, stored: bool) -> dict | None:
    for row in results["ingest"]:
        if (row["server"], row["workers"], row["case"], row["stored_votes"]) == (
            server,
            workers,
            case,
            stored,
        ):
            return row
    return None


def combo_of(results: dict, server: str, workers: int, deflate: bool) -> dict | None:
    for combo in results["fanout"]:
        if (combo["server"], combo["workers"], combo["deflate"]) == (server, workers, deflate):
            return combo
    return None


def step_of(combo: dict | None, target: int) -> dict | None:
    if combo is None:
        return None
    for step in combo["steps"]:
        if step["target"] == target:
            return step
    return None


def largest_step(combo: dict | None) -> dict | None:
    return combo["steps"][-1] if combo and combo["steps"] else None


def reads_row(results: dict, server: str, workers: int, keep_alive: bool = False) -> dict | None:
    for row in results["reads"]:
        if (row["server"], row["workers"], row.get("keep_alive", False)) == (
            server,
            workers,
            keep_alive,
        ):
            return row
    return None


def same(zero: float | None, loaded: float | None, slack_ms: float, ratio: float) -> bool | None:
    if zero is None or loaded is None:
        return None
    return loaded <= max(zero + slack_ms, zero * ratio)


def md(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def compression(deflate: bool) -> str:
    return "deflate" if deflate else "none"


def budgets(plan: dict) -> str:
    return ", ".join(
        f"{c['server']} w{c['workers']} {compression(c['deflate'])}: {c['ramp_budget']:.0f} s"
        for c in plan["combos"]
    )


CPU_HEAD = "CPU cores: server (per worker) / PostgreSQL / rest"


def cpu_cell(cpu: dict | None) -> str:
    """Cores used: the server (per worker), PostgreSQL, the rest of the machine."""
    if not cpu:
        return ""
    workers = "+".join(f"{w:.2f}" for w in cpu["workers"])
    return f"{cpu['server']:.2f} ({workers}) / {cpu['postgres']:.2f} / {cpu['other']:.2f}"
