"""One load test run: set up, open the viewers, vote at the rate for the time, measure, clean up.

Votes are open-loop: vote i is due at start + i / rate, whatever the answers before it took,
so a slow server shows as latency and errors rather than as a politely lower rate. Each voter
(an invite code's voter) has at most one vote in flight and swaps its choice between the two
options with every vote, so every accepted vote is a change (201, one seq), and the client
knows what the counts must be at the end: the run checks them against the server's.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import resource
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from webapp.loadtest import deployment
from webapp.loadtest.crowd import Crowd
from webapp.loadtest.deployment import SetupError, explain
from webapp.loadtest.stats import last_viewer_time, summarize
from webapp.loadtest.target import Target

# Votes go over several small clients: httpx looks through its whole pool on every request,
# which at hundreds of connections costs the client more CPU than the server spends.
VOTE_CONNECTIONS = 128
PER_CLIENT = 8
SETUP_CONNECTIONS = 16
REFUSAL_KINDS = 20  # distinct refusal texts kept
BUSY_CPU_SHARE = 0.8  # a client process above this share of a core may be what limited the run


@dataclass(frozen=True)
class Options:
    target: Target
    token: str | None = None
    email: str | None = None
    password: str | None = None
    viewers: int = 100
    rate: float = 10.0
    duration: float = 10.0
    voters: int | None = None  # None: enough for `voter_rate`
    voter_rate: float = 0.9  # votes a voter sends a second (the default limit is 60/minute)
    processes: int | None = None  # None: one per 2,500 viewers, at most one per core
    batch: int = 200  # viewers connecting at once
    deflate: bool = True
    keep: bool = False
    drain_s: float = 10.0
    timeout_s: float = 10.0

    @property
    def voter_count(self) -> int:
        return self.voters or max(1, math.ceil(self.rate / self.voter_rate))

    @property
    def process_count(self) -> int:
        if self.processes:
            return self.processes
        cores = os.cpu_count() or 1
        return max(1, min(cores, math.ceil(self.viewers / 2500)))


@dataclass
class Voter:
    token: str
    index: int
    choice: int | None = None  # the option index the server has for this voter
    busy: bool = False


@dataclass
class Tally:
    sent: int = 0
    changed: int = 0
    unchanged: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    skipped: int = 0  # due while every voter still waited for an answer
    behind_s: float = 0.0  # the scheduler's worst lateness
    http_s: list[float] = field(default_factory=list)
    changes: list[tuple[int, float]] = field(default_factory=list)  # (seq, sent at)

    @property
    def accepted(self) -> int:
        return self.changed + self.unchanged


def transport_kind(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectError):
        cause = exc.__cause__ or exc.__context__
        return (
            "refused"
            if isinstance(cause, ConnectionRefusedError) or ("refused" in str(exc).lower())
            else "connect error"
        )
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "connection closed"
    if isinstance(exc, httpx.ReadError):
        return "read error"
    if isinstance(exc, httpx.WriteError):
        return "write error"
    return type(exc).__name__


async def cast(http: httpx.AsyncClient, poll: deployment.Poll, voter: Voter, tally: Tally) -> None:
    """One vote by `voter`: the other option than the one it has."""
    choice = voter.index % 2 if voter.choice is None else 1 - voter.choice
    headers = deployment.bearer(voter.token) | {"idempotency-key": str(uuid.uuid4())}
    sent = time.monotonic()
    tally.sent += 1
    try:
        response = await http.post(
            f"{deployment.API}/polls/{poll.id}/votes",
            json={"option_id": poll.option_ids[choice]},
            headers=headers,
        )
    except httpx.HTTPError as exc:
        tally.errors[transport_kind(exc)] += 1
        return
    finally:
        voter.busy = False
    took = time.monotonic() - sent
    if response.status_code in {200, 201}:
        voter.choice = choice
        tally.http_s.append(took)
        if response.status_code == 201:
            tally.changed += 1
            tally.changes.append((int(response.json()["seq"]), sent))
        else:
            tally.unchanged += 1
        return
    tally.statuses[str(response.status_code)] += 1
    words = explain(response, retry=False)  # one line per kind, whatever the wait
    if words in tally.refusals or len(tally.refusals) < REFUSAL_KINDS:
        tally.refusals[words] += 1


async def vote_for(
    pool: list[httpx.AsyncClient],
    poll: deployment.Poll,
    voters: list[Voter],
    rate: float,
    duration: float,
    tally: Tally,
) -> float:
    """Send votes at `rate` for `duration` seconds; the seconds it took to send them."""
    due_count = max(1, int(rate * duration))
    start = time.monotonic()
    cursor = 0
    tasks: set[asyncio.Task[None]] = set()
    for n in range(due_count):
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            tally.behind_s = max(tally.behind_s, -delay)
        for step in range(len(voters)):
            voter = voters[(cursor + step) % len(voters)]
            if not voter.busy:
                cursor = (cursor + step + 1) % len(voters)
                break
        else:
            tally.skipped += 1
            continue
        voter.busy = True
        http = pool[voter.index % len(pool)]
        task = asyncio.create_task(cast(http, poll, voter, tally))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    sending = time.monotonic() - start
    await asyncio.gather(*tasks)
    return max(sending, duration)


class Phase:
    """Progress on stderr: a single updating line on a terminal, plain lines otherwise."""

    def __init__(self, write: Callable[[str], object] | None, tty: bool) -> None:
        self._write = write
        self._tty = tty
        self._last: float | None = None  # when a plain line was last written
        self._open = False

    def say(self, text: str) -> None:
        if self._write is None:
            return
        self.end()
        self._write(text + "\n")

    def tick(self, text: str, every: float = 5.0) -> None:
        if self._write is None:
            return
        if self._tty:
            self._write("\r\x1b[2K" + text)
            self._open = True
        elif self._last is None or time.monotonic() - self._last >= every:
            self._last = time.monotonic()
            self._write(text + "\n")

    def done(self, text: str) -> None:
        """The last state of a phase, always shown."""
        if self._write is None:
            return
        if self._tty:
            self._write("\r\x1b[2K" + text + "\n")
            self._open = False
        else:
            self._write(text + "\n")

    def end(self) -> None:
        if self._open and self._write is not None:
            self._write("\n")
            self._open = False


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def follow(what: Callable[[], str], phase: Phase, every: float = 0.5) -> None:
    while True:
        phase.tick(what())
        await asyncio.sleep(every)


@dataclass
class Run:
    options: Options
    phase: Phase
    poll: deployment.Poll | None = None
    deleted: bool = False
    voters: list[Voter] = field(default_factory=list)
    crowd: Crowd | None = None
    notes: list[str] = field(default_factory=list)

    async def execute(self) -> dict[str, Any]:
        opts = self.options
        async with deployment.client(opts.target, SETUP_CONNECTIONS, opts.timeout_s) as http:
            token, signed_in = await self._token(http)
            try:
                return await self._measure(http, token)
            finally:
                # Shielded: on Ctrl-C the run is cancelled, and its clean-up must still finish.
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(self._clean_up(http, token, signed_in))

    async def _token(self, http: httpx.AsyncClient) -> tuple[str, bool]:
        opts = self.options
        if opts.token:
            return opts.token, False
        assert opts.email is not None and opts.password is not None
        self.phase.say(f"signing in as {opts.email}")
        return await deployment.sign_in(http, opts.email, opts.password), True

    async def _measure(self, http: httpx.AsyncClient, token: str) -> dict[str, Any]:
        opts = self.options
        started_cpu = cpu_seconds()
        self.poll = poll = await deployment.create_poll(http, token)
        self.phase.say(f"created poll {poll.id} ({poll.question!r})")
        count = opts.voter_count
        self.phase.say(f"issuing and redeeming {count} invite codes (the voters)")
        codes = await deployment.issue_codes(http, token, poll.id, count)
        tokens, refusals = await deployment.redeem_all(http, poll.id, codes)
        self.voters = voters = [Voter(t, n) for n, t in enumerate(tokens)]
        if refusals:
            raise SetupError(
                f"redeeming invite codes: {refusals[0]}; got {len(tokens)} of {count} voters"
            )
        self.crowd = crowd = Crowd(
            opts.target.live_url(poll.id),
            opts.viewers,
            opts.process_count,
            opts.batch,
            opts.deflate,
        )
        self.phase.say(f"opening {opts.viewers} viewers in {crowd.processes} process(es)")
        await crowd.start()
        opening = time.monotonic()
        watcher = asyncio.create_task(follow(lambda: self._connecting(crowd), self.phase))
        try:
            await crowd.wait_ready()
        finally:
            watcher.cancel()
        connect_s = time.monotonic() - opening
        self.phase.done(self._connecting(crowd) + f" in {connect_s:.1f} s")
        before = await deployment.results(http, token, poll.id)
        start_seq = int(before["seq"])
        tally = Tally()
        self.phase.say(
            f"voting at {opts.rate:g}/s for {opts.duration:g} s with {len(voters)} voters"
        )
        voting_started = time.monotonic()
        cpu_at_vote = cpu_seconds()
        viewer_cpu_at_vote = crowd.totals().cpu_s
        watcher = asyncio.create_task(
            follow(lambda: self._voting(crowd, tally, voting_started), self.phase)
        )
        try:
            async with contextlib.AsyncExitStack() as stack:
                pool = [
                    await stack.enter_async_context(
                        deployment.client(opts.target, PER_CLIENT, opts.timeout_s)
                    )
                    for _ in range(math.ceil(min(len(voters), VOTE_CONNECTIONS) / PER_CLIENT))
                ]
                sending_s = await vote_for(pool, poll, voters, opts.rate, opts.duration, tally)
        finally:
            watcher.cancel()
        self.phase.done(self._voting(crowd, tally, voting_started))
        vote_cpu = cpu_seconds() - cpu_at_vote
        await crowd.next_reports()  # their CPU time until now
        viewer_cpu = [
            end - start for start, end in zip(viewer_cpu_at_vote, crowd.totals().cpu_s, strict=True)
        ]
        last_seq = max((seq for seq, _ in tally.changes), default=start_seq)
        await crowd.until(lambda: crowd.caught_up(last_seq), opts.drain_s)
        await crowd.next_reports()  # with the rises up to now
        after = await deployment.results(http, token, poll.id)
        totals = crowd.totals()
        return self._report(
            tally,
            crowd,
            totals,
            voters,
            before,
            after,
            start_seq,
            connect_s,
            sending_s,
            vote_cpu,
            viewer_cpu,
            cpu_seconds() - started_cpu,
        )

    def _connecting(self, crowd: Crowd) -> str:
        totals = crowd.totals()
        failed = sum(totals.failed.values())
        return f"viewers: {totals.connected}/{crowd.viewers} connected, {failed} failed"

    def _voting(self, crowd: Crowd, tally: Tally, started: float) -> str:
        totals = crowd.totals()
        elapsed = time.monotonic() - started
        refused = sum(tally.statuses.values())
        errors = sum(tally.errors.values())
        rate = tally.accepted / elapsed if elapsed > 0 else 0.0
        closed = sum(totals.closed.values())
        return (
            f"{elapsed:5.1f}/{self.options.duration:g} s  votes sent {tally.sent}"
            f" accepted {tally.accepted} ({rate:.0f}/s) refused {refused} errors {errors}"
            f"  viewers {totals.watching} watching, {closed} closed"
        )

    def _report(
        self,
        tally: Tally,
        crowd: Crowd,
        totals: Any,
        voters: list[Voter],
        before: dict[str, Any],
        after: dict[str, Any],
        start_seq: int,
        connect_s: float,
        sending_s: float,
        vote_cpu: float,
        viewer_cpu: list[float],
        parent_cpu: float,
    ) -> dict[str, Any]:
        opts = self.options
        assert self.poll is not None
        floors = crowd.floors()
        delivered: list[float] = []
        undelivered = 0
        for seq, sent in tally.changes if floors else []:  # no viewers: nothing to measure
            at = last_viewer_time(floors, seq)
            if at is None:
                undelivered += 1
            else:
                delivered.append(max(0.0, at - sent))
        expected = Counter(self.poll.option_ids[v.choice] for v in voters if v.choice is not None)
        server = {int(o["id"]): o["votes"] for o in after["options"]}
        seq_advance = int(after["seq"]) - start_seq
        counts_match = all(server[o] == expected.get(o, 0) for o in self.poll.option_ids)
        check = {
            "seq_advance": seq_advance,
            "changes_accepted": tally.changed,
            "expected_counts": {str(o): expected.get(o, 0) for o in self.poll.option_ids},
            "server_counts": {str(o): server[o] for o in self.poll.option_ids},
            "exact": counts_match and seq_advance == tally.changed,
        }
        cores = os.cpu_count() or 1
        vote_share = vote_cpu / sending_s if sending_s else 0.0
        viewer_share = [cpu / sending_s if sending_s else 0.0 for cpu in viewer_cpu]
        busy = [
            name
            for name, share in [("voting", vote_share)]
            + [(f"viewers {n + 1}", s) for n, s in enumerate(viewer_share)]
            if share >= BUSY_CPU_SHARE
        ]
        hints = sorted(
            {
                setting
                for words, _ in tally.refusals.items()
                for detail, setting in deployment.LIMIT_SETTINGS.items()
                if detail in words
            }
        )
        closed = sum(totals.closed.values())
        failed = sum(totals.failed.values())
        clean = (
            not tally.statuses
            and not tally.errors
            and not tally.skipped
            and not undelivered
            and not failed
            and not closed
            and bool(check["exact"])
        )
        return {
            "ok": clean,
            "target": opts.target.origin,
            "poll": {"id": self.poll.id, "question": self.poll.question},
            "settings": {
                "viewers": opts.viewers,
                "rate": opts.rate,
                "duration_s": opts.duration,
                "voters": len(voters),
                "viewer_processes": crowd.processes,
                "deflate": opts.deflate,
            },
            "viewers": {
                "requested": opts.viewers,
                "connected": totals.connected,
                "failed": totals.failed,
                "closed_during_run": totals.closed,
                "connect_s": round(connect_s, 2),
                "messages": totals.messages,
            },
            "votes": {
                "due": max(1, int(opts.rate * opts.duration)),
                "sent": tally.sent,
                "accepted": tally.accepted,
                "changed": tally.changed,
                "unchanged": tally.unchanged,
                "accepted_per_s": round(tally.accepted / sending_s, 1) if sending_s else 0.0,
                "refused": dict(tally.statuses),
                "refusals": dict(tally.refusals),
                "errors": dict(tally.errors),
                "skipped_voters_busy": tally.skipped,
                "behind_schedule_ms": round(tally.behind_s * 1000, 1),
            },
            "vote_http_latency": summarize(tally.http_s).as_dict(),
            "last_viewer_latency": summarize(delivered).as_dict() | {"not_delivered": undelivered},
            "check": check,
            "client": {
                "machine_cores": cores,
                "voting_cpu_share": round(vote_share, 2),
                "viewer_cpu_shares": [round(s, 2) for s in viewer_share],
                "busy": busy,
                "parent_cpu_s": round(parent_cpu, 2),
            },
            "raise": hints,
        }

    async def _clean_up(self, http: httpx.AsyncClient, token: str, signed_in: bool) -> None:
        self.phase.say("cleaning up")
        if self.crowd is not None:
            await self.crowd.stop()
        if self.poll is not None and not self.options.keep:
            try:
                await deployment.delete_poll(http, token, self.poll.id)
                self.deleted = True
            except (SetupError, httpx.HTTPError) as exc:
                self.notes.append(f"could not delete poll {self.poll.id}: {exc}")
        gate = asyncio.Semaphore(16)

        async def out(voter: Voter) -> None:
            async with gate:
                with contextlib.suppress(httpx.HTTPError):
                    await deployment.sign_out(http, voter.token)

        # Their poll is gone (or kept to look at): no token of theirs should outlive the run.
        await asyncio.gather(*(out(voter) for voter in self.voters))
        if signed_in:
            with contextlib.suppress(httpx.HTTPError):
                await deployment.sign_out(http, token)
