"""Fan-out and footprint: bench/viewers.mjs holds N WebSocket viewers of one poll (step after
step) and sends spaced votes, timing each to the moment the last viewer holds it; the
server's RSS before and after the viewers gives RSS per idle viewer. Each combination has a
time budget for opening connections: when it runs out, the step is measured with the viewers
reached and the larger steps are skipped. The hot poll (bench/hotpoll.py) runs at the first
step of the combinations that ask for it.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from bench import hotpoll, seed, shutdown
from bench.plans import Combo, Context
from bench.servers import CpuMeter, Profiler, Server
from bench.stats import vote_stats
from bench.tables import CPU_HEAD, budgets, compression, cpu_cell, md, ms
from bench.tools import log
from bench.viewers import Viewers

VOTE_TIMEOUT_MS = 10_000


class FanoutRun:
    """One combination (server, workers, compression) on a server of its own."""

    def __init__(self, ctx: Context, combo: Combo) -> None:
        self.seeded, self.plan, self.combo = ctx.seeded, ctx.plan, combo
        self.logs, self.results = ctx.logs, ctx.results
        plan = ctx.plan
        self.poll = seed.create_polls(ctx.seeded, 1, f"fanout {combo}")[0]
        self.out: dict[str, Any] = {**asdict(combo), "steps": []}
        self.next_user = 0
        self.acknowledged = 0
        self.votes_time = plan.votes_per_step * (plan.vote_interval_ms + VOTE_TIMEOUT_MS) / 1000
        self.votes_time += 60

    def take(self, n: int) -> int:
        """The first of n users who have not voted on this poll yet."""
        first, self.next_user = self.next_user, self.next_user + n
        return first

    def run(self, profile: bool) -> dict:
        server_ = Server(self.combo.server, self.combo.workers, self.seeded.url, self.logs)
        with server_.start(f"/api/v1/polls/{self.poll.id}") as server:
            viewers = Viewers()
            try:
                self._init(server, viewers)
                self._zero_viewers(server, viewers)
                self._steps(server, viewers, profile)
                self.out["dropped"] = viewers.call(120, cmd="close")["dropped"]
            finally:
                viewers.kill()
        shutdown.record_stop(
            self.results, server_, "after fan-out (viewers closed, all votes answered)"
        )
        counts = seed.counts(self.seeded, [self.poll])
        self.out["db"] = asdict(counts)
        self.out["acknowledged"] = self.acknowledged
        self.out["db_exact"] = (
            counts.vote_rows == self.acknowledged == counts.option_votes == counts.voters
        )
        return self.out

    def _init(self, server: Server, viewers: Viewers) -> None:
        viewers.call(
            30,
            cmd="init",
            ws_url=server.base.replace("http://", "ws://") + f"/api/v1/polls/{self.poll.id}/live",
            http_base=server.base,
            poll_id=self.poll.id,
            option_ids=self.poll.option_ids,
            token_prefix=self.seeded.token_prefix,
            deflate=self.combo.deflate,
            procs=self.plan.viewer_procs,
        )

    def _votes(self, viewers: Viewers) -> list[dict]:
        """One step's spaced votes, each from a new user; counts the acknowledged."""
        reply = viewers.call(
            self.votes_time,
            cmd="votes",
            count=self.plan.votes_per_step,
            interval_ms=self.plan.vote_interval_ms,
            first_user=self.take(self.plan.votes_per_step),
            timeout_ms=VOTE_TIMEOUT_MS,
        )
        votes: list[dict] = reply["votes"]
        self.acknowledged += sum(1 for v in votes if v["status"] == 201)
        return votes

    def _zero_viewers(self, server: Server, viewers: Viewers) -> None:
        self.out["zero_viewers"] = vote_stats(self._votes(viewers))
        time.sleep(1.0)
        self.out["rss_before"] = server.rss_bytes()

    def _steps(self, server: Server, viewers: Viewers, profile: bool) -> None:
        ramp_left = self.combo.ramp_budget
        for index, step in enumerate(self.combo.steps):
            connect = self._connect(server, viewers, index, step, ramp_left, profile)
            ramp_left -= connect["seconds"]
            entry = self._measure_step(server, viewers, index, step, connect, profile)
            if self.combo.hot and index == 0:
                hot = hotpoll.hot_case(
                    viewers,
                    self.plan,
                    self.take(self.plan.hot_rate * self.plan.hot_seconds),
                    VOTE_TIMEOUT_MS,
                )
                self.acknowledged += hot["acknowledged"]
                entry["hot"] = hot
            self.out["steps"].append(entry)
            if entry["viewers"] < step:
                log(f"    connection budget used up at {entry['viewers']} of {step} viewers")
                break

    def _profiled_case(self, profile: bool) -> bool:
        """Profiles are taken on the target case: hypercorn, 2 workers, no compression."""
        combo = self.combo
        return profile and combo.server == "hypercorn" and combo.workers == 2 and not combo.deflate

    def _connect(
        self,
        server: Server,
        viewers: Viewers,
        index: int,
        step: int,
        ramp_left: float,
        profile: bool,
    ) -> dict:
        """Open viewers up to `step` within what is left of the budget (joins profiled at the
        last step of the profiled case)."""
        last = index == len(self.combo.steps) - 1 and index > 0
        joins = None
        if self._profiled_case(profile) and last:
            # The first 30 s of this step's joins (py-spy stops by itself then).
            joins = Profiler(server.worker_pids()[0], self.logs / "profile-joins.txt", 30)
        connect = viewers.call(
            ramp_left + 90,
            cmd="connect",
            total=step,
            concurrency=self.plan.connect_concurrency,
            max_seconds=max(1.0, ramp_left),
        )
        connect["profiled"] = joins is not None
        if joins is not None and joins.finish():
            self.results["profiles"]["joins"] = {
                "path": str(joins.out),
                "what": f"{self.combo.server}, one of {self.combo.workers} workers, viewers "
                f"joining (from {connect['total'] - connect['opened']:,} to "
                f"{connect['total']:,})",
            }
        return connect

    def _measure_step(
        self,
        server: Server,
        viewers: Viewers,
        index: int,
        step: int,
        connect: dict,
        profile: bool,
    ) -> dict:
        """RSS with the step's viewers, then its spaced votes (profiled at the second step)."""
        time.sleep(3.0)  # let the last viewer-count updates go out
        rss = server.rss_bytes()
        reached = connect["total"]
        rss0 = self.out["rss_before"]
        log(
            f"  {reached} viewers ({connect['opened']} opened in {connect['seconds']:.1f}s,"
            f" {connect['per_second']:.0f}/s, {connect['failed']} failed, extensions "
            f"{connect['extensions'] or 'none'}); RSS "
            f"{(rss - rss0) / max(1, reached) / 1024:.1f} KiB per viewer"
        )
        profile_votes = self._profiled_case(profile) and index == 1
        votes, cpu_used = self._timed_votes(server, viewers, reached, profile_votes)
        stats = vote_stats(votes)
        log(
            f"    fan-out p50 {stats['last_viewer_p50_ms']:.1f} ms, p99 "
            f"{stats['last_viewer_p99_ms']:.1f} ms; vote HTTP p50 "
            f"{stats['http_p50_ms']:.1f} ms"
        )
        connect_profiled = connect.pop("profiled")
        return {
            "target": step,
            "viewers": reached,
            "connect": connect,
            "rss": rss,
            "rss_per_viewer": (rss - rss0) / max(1, reached),
            "profiled": profile_votes,
            "connect_profiled": connect_profiled,
            "cpu": cpu_used,
            **stats,
        }

    def _timed_votes(
        self, server: Server, viewers: Viewers, reached: int, profiled: bool
    ) -> tuple[list[dict], dict]:
        """A step's spaced votes and the CPU they took, under py-spy if profiled."""
        prof = None
        if profiled:
            prof = Profiler(server.worker_pids()[0], self.logs / "profile-fanout.txt")
        cpu = CpuMeter(server)
        votes = self._votes(viewers)
        cpu_used = cpu.stop()
        if prof is not None and prof.finish():
            self.results["profiles"]["fanout"] = {
                "path": str(prof.out),
                "what": f"{self.combo.server}, one of "
                f"{self.combo.workers} workers, {self.plan.votes_per_step} votes to {reached} "
                "viewers",
            }
        return votes, cpu_used


def fanout_phase(ctx: Context, servers: list[str], workers: list[int]) -> None:
    for combo in ctx.plan.combos:
        if combo.server not in servers or combo.workers not in workers:
            continue
        log(
            f"fan-out: {combo.server} w{combo.workers} "
            f"{'deflate' if combo.deflate else 'no compression'}, steps {combo.steps}"
        )
        ctx.results["fanout"].append(FanoutRun(ctx, combo).run(ctx.profile))


# ------------------------------------------------------------------ the report


def fanout_rows(results: dict) -> list[list[Any]]:
    rows = []
    for c in results["fanout"]:
        z = c["zero_viewers"]
        head = [c["server"], c["workers"], compression(c["deflate"])]
        rows.append([*head, 0, "", "", ms(z["http_p50_ms"]), ms(z["http_p99_ms"]), "", "", ""])
        rows += [[*head, *_step_cells(s)] for s in c["steps"]]
    return rows


def _step_cells(s: dict) -> list[Any]:
    viewers = f"{s['viewers']:,}"
    if s["viewers"] < s["target"]:
        viewers += f" of {s['target']:,}"
    if s.get("profiled"):
        viewers += " (votes profiled)"
    if s.get("connect_profiled"):
        viewers += " (joins profiled)"
    return [
        viewers,
        ms(s["last_viewer_p50_ms"]),
        ms(s["last_viewer_p99_ms"]),
        ms(s["http_p50_ms"]),
        ms(s["http_p99_ms"]),
        f"{s['connect']['per_second']:.0f}",
        f"{s['rss_per_viewer'] / 1024:.1f}",
        cpu_cell(s.get("cpu")),
    ]


HEADERS = [
    "server",
    "workers",
    "compression",
    "viewers",
    "vote→last viewer p50 ms",
    "p99 ms",
    "vote HTTP p50 ms",
    "p99 ms",
    "conn/s",
    "KiB/viewer",
    CPU_HEAD + " during the votes",
]


def section(results: dict) -> list[str]:
    plan = results["plan"]
    return [
        "## Fan-out and footprint",
        "",
        f"`bench/viewers.mjs` (Node.js, `ws`) holds the viewers of one poll in "
        f"{plan['viewer_procs']} processes, anonymously, and sends votes itself, one at a time "
        f"from new users, {plan['votes_per_step']} per step, {plan['vote_interval_ms']} ms "
        "apart and never before the previous one reached every viewer (so each vote is its own "
        "update). *Vote to last viewer* runs from just before the POST to the moment the last "
        "viewer has received a `results` message with that vote's `seq` (or newer), on one "
        "clock shared by every process (`performance.timeOrigin + performance.now()`); it "
        "includes the clients' own time to read the message. *Vote HTTP* is the POST's own "
        "response time; the 0-viewer row is measured first. Viewers connect "
        f"{plan['connect_concurrency']} handshakes at a time; *conn/s* is the step's new "
        "connections divided by the time until all of them held their first snapshot. "
        "*KiB/viewer* is the growth of the server's RSS (VmRSS summed over all its processes, "
        "from /proc) from before the first viewer to 3 s after the step's last one joined, "
        "divided by the viewers. *deflate*: the clients offer permessage-deflate as browsers "
        "do (the server accepts it); *none*: they do not.",
        "",
        "Each combination has a time budget for opening connections "
        f"({budgets(plan)}); "
        'a step that ran out of it is measured with the viewers reached ("N of M"), and the '
        "larger steps are skipped. Some uvicorn combinations and those with compression on one "
        "worker stop at smaller steps to keep the whole run near 20 minutes.",
        "",
        md(HEADERS, fanout_rows(results)),
        "",
    ]
