"""Shutdown: every server is stopped with SIGTERM and killed if it has not exited 8 s later."""

from __future__ import annotations

from typing import Any

from bench.servers import Server
from bench.tables import md, ms
from bench.tools import log


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


def stop_rows(results: dict) -> list[list[Any]]:
    groups: dict[tuple[str, str], list[dict]] = {}
    for stop in results.get("stops", []):
        groups.setdefault((stop["server"], stop["phase"]), []).append(stop)
    return [
        [
            server,
            phase,
            f"{sum(1 for s in stops if s['clean'])} of {len(stops)}",
            ms(max((s["seconds"] or 0) for s in stops)),
        ]
        for (server, phase), stops in groups.items()
    ]


def section(results: dict) -> list[str]:
    return [
        "## Shutdown",
        "",
        "Every server is stopped with SIGTERM and killed if it has not exited 8 s later. A "
        "shutdown that needed the kill is not clean.",
        "",
        md(["server", "when", "clean shutdowns", "longest wait s"], stop_rows(results)),
        "",
    ]
