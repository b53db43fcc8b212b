"""Hot poll: votes at a fixed rate (open loop) on the fan-out poll with its first step of
viewers (bench/fanout.py runs it); updates coalesce, and every viewer must end exact."""

from __future__ import annotations

from typing import Any

from bench.plans import Plan
from bench.stats import percentile
from bench.tables import md, ms
from bench.tools import log
from bench.viewers import Viewers


def hot_case(viewers: Viewers, plan: Plan, first_user: int, timeout_ms: int) -> dict:
    """plan.hot_rate votes/s for plan.hot_seconds, from users first_user and on."""
    hot = viewers.call(
        plan.hot_seconds * 4 + 90,
        cmd="hot",
        rate=plan.hot_rate,
        seconds=plan.hot_seconds,
        first_user=first_user,
        timeout_ms=timeout_ms,
    )
    rates = hot.pop("messages_per_viewer_per_second")
    e2e = hot.pop("e2e_ms")
    http = hot.pop("http_ms")
    hot.update(
        messages_per_viewer_per_second_max=max(rates, default=None),
        messages_per_viewer_per_second_mean=sum(rates) / len(rates) if rates else None,
        e2e_p50_ms=percentile(e2e, 50),
        e2e_p99_ms=percentile(e2e, 99),
        http_p50_ms=percentile(http, 50),
        http_p99_ms=percentile(http, 99),
        achieved_rate=hot["acknowledged"] / hot["send_seconds"],
    )
    log(
        f"    hot poll: {hot['acknowledged']} votes in {hot['send_seconds']:.1f}s, "
        f"{hot['messages_per_viewer_per_second_max']:.1f} msg/viewer/s max, "
        f"e2e p99 {hot['e2e_p99_ms']:.0f} ms, exact viewers "
        f"{hot['exact_viewers']}/{hot['viewers']}"
    )
    return hot


# ------------------------------------------------------------------ the report


def hot_rows(results: dict) -> list[list[Any]]:
    return [_row(c, s, s["hot"]) for c in results["fanout"] for s in c["steps"] if s.get("hot")]


def _row(c: dict, s: dict, h: dict) -> list[Any]:
    return [
        c["server"],
        c["workers"],
        f"{s['viewers']:,}",
        f"{h['acknowledged']} in {h['send_seconds']:.1f} s",
        f"{h['achieved_rate']:.0f}",
        f"{h['messages_per_viewer_per_second_mean']:.1f} / "
        f"{h['messages_per_viewer_per_second_max']:.1f}",
        ms(h["e2e_p50_ms"]),
        ms(h["e2e_p99_ms"]),
        ms(h["http_p50_ms"]),
        ms(h["http_p99_ms"]),
        f"{h['exact_viewers']:,}/{h['viewers']:,}",
        "yes" if c["db_exact"] else f"NO (db {c['db']['vote_rows']}, acked {c['acknowledged']})",
    ]


HEADERS = [
    "server",
    "workers",
    "viewers",
    "votes acked",
    "rate /s",
    "msg/viewer/s",
    "e2e p50 ms",
    "e2e p99 ms",
    "HTTP p50 ms",
    "HTTP p99 ms",
    "exact viewers",
    "db exact",
]


def section(results: dict) -> list[str]:
    plan = results["plan"]
    return [
        "## Hot poll",
        "",
        f"{plan['hot_rate']} votes/s for {plan['hot_seconds']} s (open loop: sent on a "
        "schedule, from new users, over up to 64 keep-alive connections) on the fan-out poll "
        "with its first step of viewers. *Rate* is what the server acknowledged per second of "
        "sending. *msg/viewer/s* counts `results` messages per viewer during the scheduled "
        "sending time (mean / max over viewers); when the server acknowledges fewer than the "
        "rate, the votes queue in the client and are answered later, and *e2e* and *HTTP* "
        "(both timed from the moment a vote is due) grow with that queue. *e2e* is, per vote, "
        "the time from its POST to "
        "the moment the last viewer held its seq or a newer one. *Exact viewers*: viewers whose "
        "last message equals `GET /results` after the burst; *db exact*: the poll's vote rows, "
        "option counts and voters equal the votes acknowledged on it.",
        "",
        md(HEADERS, hot_rows(results)),
        "",
    ]
