"""Word-cloud burst: answers at a set rate on one word cloud watched by many viewers;
updates coalesce to the live interval, every viewer must end exact.

Standalone (not in bench/run.py): `python -m bench.wordcloud [--viewers 1000 --rate 500
--seconds 4] [--write-report]`; with --write-report its section is kept in
docs/benchmarks.md, as bench/ratelimit.py's is. It makes a fresh PostgreSQL database
(bench/seed.py: one user per answer, plus the poll's creator), starts the app's own server
(bench/servers.py), opens the viewers on the poll's JSON live stream in child processes (a
Python process reads only so many messages a second), sends each user's one answer with wrk
(bench/words.lua, paced to `--rate`), from a Zipf-like choice of `--distinct` words, then
checks:

- *rate*: no viewer got more `results` messages from the burst's start to its last one than
  one per live interval (LIVEPOLLS_LIVE_INTERVAL_MS), plus one at each end; the most in any
  one second is reported too (a viewer slow to read gets queued messages in a bunch);
- *exact viewers*: a viewer's last message (each waits for the final seq, up to a minute)
  carries it and the same words, counts and places as `GET .../results` after the burst;
- *db exact*: `word_count` holds, per word, the answers the server acknowledged (201), in
  one row each, and `word_answer` one row per acknowledged answer.

It prints one JSON report and exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import queue
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.seed import setup
from bench.servers import ROOT, Server
from bench.wrk import wrk_until
from webapp.loadtest.viewers import seq_of

DATABASE = "livepolls_bench_wordcloud"
DELIVERY_S = 60  # the longest the last update may take to reach every viewer


def word_for(index: int, distinct: int) -> str:
    """A Zipf-like choice: word k is given about 1/k as often as word 1."""
    weights = [1 / k for k in range(1, distinct + 1)]
    total = sum(weights)
    point = ((index * 2654435761) % 10_000) / 10_000 * total
    for k, weight in enumerate(weights, start=1):
        point -= weight
        if point <= 0:
            return f"word{k}"
    return f"word{distinct}"


def _watch(url: str, viewers: int, ready: Any, stop: Any, target: Any, out: Any) -> None:
    """A child process: `viewers` connections, each recording when its results arrived,
    until it holds the `target` seq (set once the burst is over) or `stop` is set."""

    async def one(index: int, times: list[float], last: list[str]) -> None:
        import websockets

        async with websockets.connect(url, max_size=2**22) as ws:
            seq = 0
            while not stop.is_set() and not (target.value and seq >= target.value):
                try:
                    message = await asyncio.wait_for(ws.recv(), 0.5)
                except TimeoutError:
                    continue
                text = message if isinstance(message, str) else message.decode()
                if text.startswith('{"type":"results"'):
                    times.append(time.monotonic())
                    last[0] = text
                    seq = seq_of(text) or seq

    async def main() -> None:
        records: list[tuple[list[float], list[str]]] = [([], [""]) for _ in range(viewers)]
        tasks = [asyncio.create_task(one(i, *records[i])) for i in range(viewers)]
        while any(not times for times, _ in records):
            await asyncio.sleep(0.05)
            if any(t.done() and t.exception() for t in tasks):
                break
        ready.release()
        await asyncio.gather(*tasks, return_exceptions=True)
        out.put([(times, last[0]) for times, last in records])

    asyncio.run(main())


def over_rate(times: list[float], start: float, interval_ms: int) -> bool:
    """More results messages from `start` to the last one than one per live interval (and
    one for each end)? Counted, not timed: a client that was slow to read gets its queued
    messages in a bunch, but never more of them."""
    during = [at for at in times if at >= start]
    if not during:
        return False
    return len(during) > (during[-1] - start) * 1000 / interval_ms + 2


def max_per_second(times: list[float]) -> int:
    """The most messages in any one-second window."""
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] > 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


CONNECTIONS = 64  # wrk's connections for the answers


def _send(base: str, prefix: str, poll_id: int, args: argparse.Namespace) -> dict:
    """The answers, by wrk (bench/words.lua): args.rate a second on a fixed schedule, over
    CONNECTIONS connections (when every one waits for a reply, the next answer goes late)."""
    count = args.rate * args.seconds
    started = time.monotonic()
    result = wrk_until(
        "words.lua",
        base,
        CONNECTIONS,
        [prefix, str(count), str(poll_id), str(args.distinct), str(args.rate)],
        args.seconds * 20 + 60,
    )
    seconds = result["duration_us"] / 1e6
    statuses = Counter({201: result["s201"], 200: result["s200"]})
    statuses.update({int(status): n for status, n in result["other_statuses"].items()})
    expected = Counter(word_for(i, args.distinct) for i in range(count))
    return {
        # Each user answers once, with a word known beforehand: when every answer was taken,
        # these are the answers the server acknowledged (else the check fails anyway).
        "acked": expected if result["s201"] == count else Counter(),
        "statuses": +statuses,
        "http_p50_ms": result["p50_us"] / 1000,
        "http_p99_ms": result["p99_us"] / 1000,
        "send_seconds": seconds,
        "answered_seconds": seconds,
        "started": started,
        "all_answered": result["all_answered"],
    }


async def _stored(url: str, poll_id: int) -> tuple[dict[str, int], int]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT answer_key, count FROM word_count WHERE poll = $1", poll_id)
        answers = await conn.fetchval("SELECT count(*) FROM word_answer WHERE poll = $1", poll_id)
    finally:
        await conn.close()
    return {row["answer_key"]: row["count"] for row in rows if row["count"]}, int(answers)


def run(args: argparse.Namespace) -> dict:
    seeded = setup(DATABASE, args.rate * args.seconds + 1)
    with tempfile.TemporaryDirectory(prefix="livepolls-bench-wordcloud-") as logs:
        server = Server("hypercorn", args.workers, seeded.url, Path(logs))
        server.env["LIVEPOLLS_LIVE_INTERVAL_MS"] = str(args.interval_ms)
        owner = {"Authorization": f"Bearer {seeded.token(0)}"}
        with httpx.Client(trust_env=False, timeout=30) as http:
            server.start("/api/v1/polls")
            made = http.post(
                f"{server.base}/api/v1/polls",
                headers=owner,
                json={
                    "question": "One word?",
                    "kind": "word_cloud",
                    "is_published": True,
                    "answers_per_person": 3,
                },
            )
            made.raise_for_status()
            poll_id = made.json()["id"]
            ws = server.base.replace("http://", "ws://") + f"/api/v1/polls/{poll_id}/live"
            ctx = multiprocessing.get_context("spawn")
            ready, stop, out = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
            target = ctx.Value("q", 0)
            per = [
                args.viewers // args.procs + (i < args.viewers % args.procs)
                for i in range(args.procs)
            ]
            children = [
                ctx.Process(target=_watch, args=(ws, n, ready, stop, target, out)) for n in per if n
            ]
            for child in children:
                child.start()
            for _ in children:
                if not ready.acquire(timeout=180):
                    raise RuntimeError("viewers did not open in 180 s")
            sent = _send(server.base, seeded.token_prefix, poll_id, args)
            final = http.get(f"{server.base}/api/v1/polls/{poll_id}/results", headers=owner).json()
            target.value = final["seq"]  # each viewer stops once it holds it
            records = []
            for _ in children:
                try:
                    records += out.get(timeout=DELIVERY_S)
                except queue.Empty:  # some viewer never got the final seq: it counts so
                    stop.set()
                    records += out.get(timeout=30)
            for child in children:
                child.join(10)
            stored, answer_rows = asyncio.run(_stored(seeded.url, poll_id))
        server.stop()
    allowed = 1000 // max(1, args.interval_ms) + 1
    rates = [max_per_second(times) for times, _ in records]
    too_many = sum(over_rate(times, sent["started"], args.interval_ms) for times, _ in records)
    exact = at_final = 0
    for _, last in records:
        message = json.loads(last) if last else {}
        at_final += message.get("seq") == final["seq"]
        exact += message.get("seq") == final["seq"] and message.get("detail") == final["detail"]
    acked: Counter[str] = sent["acked"]
    drawn = {w["key"]: w["count"] for w in final["detail"]["words"]}
    report = {
        "viewers": len(records),
        "answers_sent": args.rate * args.seconds,
        "acknowledged": sum(acked.values()),
        "statuses": dict(sent["statuses"]),
        "send_seconds": round(sent["send_seconds"], 2),
        # What the server took: every answer acknowledged, over the time to the last reply.
        "taken_per_second": round(sum(acked.values()) / max(sent["answered_seconds"], 1e-9)),
        "http_p50_ms": sent["http_p50_ms"],
        "http_p99_ms": sent["http_p99_ms"],
        "interval_ms": args.interval_ms,
        "allowed_messages_per_second": allowed,
        "messages_per_viewer_per_second_max": max(rates, default=0),
        "viewers_over_rate": too_many,
        "viewers_at_final_seq": at_final,
        "exact_viewers": exact,
        "db_exact": stored == dict(acked) and answer_rows == sum(acked.values()),
        "results_exact": final["detail"]["answers"] == sum(acked.values())
        and all(acked[key] == count for key, count in drawn.items()),
    }
    report["ok"] = (
        sent["all_answered"]
        and report["viewers_over_rate"] == 0
        and report["exact_viewers"] == report["viewers"]
        and report["db_exact"]
        and report["results_exact"]
    )
    return report


def render(report: dict, args: argparse.Namespace) -> str:
    """The report's section for docs/benchmarks.md (kept there, as bench/ratelimit.py's)."""
    rows = [
        ("viewers", f"{report['viewers']:,}"),
        ("answers acknowledged", f"{report['acknowledged']:,} of {report['answers_sent']:,}"),
        ("sent in", f"{report['send_seconds']} s (scheduled {args.seconds} s at {args.rate}/s)"),
        ("answers taken per second (to the last reply)", f"{report['taken_per_second']:,}"),
        (
            "HTTP p50 / p99 (wrk, per request)",
            f"{report['http_p50_ms']:.0f} / {report['http_p99_ms']:.0f} ms",
        ),
        (
            "most results messages in a second, any viewer",
            f"{report['messages_per_viewer_per_second_max']} (allowed "
            f"{report['allowed_messages_per_second']} at {report['interval_ms']} ms)",
        ),
        ("viewers sent more than one message per interval", f"{report['viewers_over_rate']}"),
        ("exact viewers", f"{report['exact_viewers']:,}/{report['viewers']:,}"),
        ("db exact / results exact", f"{report['db_exact']} / {report['results_exact']}"),
    ]
    return "\n".join(
        [
            "## Word-cloud burst",
            "",
            f"`python -m bench.wordcloud --viewers {args.viewers} --rate {args.rate} "
            f"--seconds {args.seconds} --distinct {args.distinct}`: one answer per user, "
            "sent by wrk (`bench/words.lua`) on a fixed schedule over 64 connections, over"
            " Zipf-like words, on one word cloud watched on the JSON stream.",
            "",
            "| | |",
            "| --- | --- |",
            *(f"| {name} | {value} |" for name, value in rows),
            "",
            "Answer n is due n / rate seconds after the first, and goes then on a free"
            " connection; when all 64 wait for replies it goes late, as soon as one is free, so"
            " a server slower than the rate sets the pace (the rate taken), and the update-rate"
            " and exactness checks hold at that rate.",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=500, help="answers per second")
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--distinct", type=int, default=300, help="different words")
    parser.add_argument("--interval-ms", type=int, default=75, help="LIVEPOLLS_LIVE_INTERVAL_MS")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--procs", type=int, default=4, help="viewer processes")
    parser.add_argument(
        "--write-report", action="store_true", help="keep the section in docs/benchmarks.md"
    )
    args = parser.parse_args()
    report = run(args)
    print(json.dumps(report, indent=2))
    if args.write_report:
        from bench.report import replace_section

        replace_section(ROOT / "docs" / "benchmarks.md", "wordcloud", render(report, args))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
