"""Percentiles and the summary of a run of spaced votes (bench/viewers.mjs `votes`)."""

from __future__ import annotations


def percentile(values: list[float], p: float) -> float | None:
    """The nearest-rank p-th percentile (0-100) of values; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def vote_stats(votes: list[dict]) -> dict:
    """HTTP and vote-to-last-viewer percentiles of the votes `viewers.mjs` timed."""
    http = [v["http_ms"] for v in votes]
    last = [v["last_viewer_ms"] for v in votes if v["last_viewer_ms"] is not None]
    return {
        "votes": len(votes),
        "statuses": sorted({v["status"] for v in votes}),
        "http_p50_ms": percentile(http, 50),
        "http_p99_ms": percentile(http, 99),
        "last_viewer_p50_ms": percentile(last, 50),
        "last_viewer_p99_ms": percentile(last, 99),
        "last_viewer_max_ms": max(last) if last else None,
        "timed_out": sum(1 for v in votes if v["timed_out"]),
        "raw": votes,
    }
