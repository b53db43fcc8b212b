"""The targets for the app under Hypercorn, each next to the figure it is judged on: those of
issue #13 (ten times the peer) and the earlier ones it does not replace."""

from __future__ import annotations

from bench.tables import combo_of, ingest_row, largest_step, ms, reads_row, same, status, step_of

Row = tuple[str, str, str]  # target, measured, met/missed
FANOUT_AT = 10_000  # viewers of the fan-out latency targets
MEMORY_KIB = 20  # per idle viewer, at the largest step (20,000 viewers in the full plan)
VOTE_P99_MS = 100  # vote HTTP latency at the ingest case's connections

# Issue #13's HTTP targets, 2 workers: votes/s on one poll and over many, reads/s.
VOTES_ONE_POLL = 3000
VOTES_MANY_POLLS = 3500
READS = 6000


def targets(results: dict) -> list[Row]:
    """(target, measured, met/missed) for the app under Hypercorn."""
    plan = results["plan"]
    small, large = (plan["combos"][0]["steps"][0], plan["combos"][0]["steps"][-1])
    rows = [_small_fanout(results, small, workers) for workers in (1, 2)]
    rows += [
        _large_fanout(results, FANOUT_AT, False, 80, 120),
        _large_fanout(results, FANOUT_AT, True, None, 200),
        _vote_latency_unmoved(results, large),
        _held(results, large),
        _rss_per_viewer(results, True, 80),
    ]
    many = f"{plan['many_polls']} polls"
    for case, rate in (("1 poll", VOTES_ONE_POLL), (many, VOTES_MANY_POLLS)):
        rows += _ingest(results, case, rate)
    rows.append(_reads(results))
    rows += [_hot(results, small, workers) for workers in (1, 2)]
    return rows


def _small_fanout(results: dict, small: int, workers: int) -> Row:
    step = step_of(combo_of(results, "hypercorn", workers, False), small)
    ok = None
    text = "not measured"
    if step is not None:
        p99 = step["last_viewer_p99_ms"]
        ok = step["viewers"] >= small and p99 is not None and p99 <= 50
        p50 = step["last_viewer_p50_ms"]
        text = f"p99 {ms(p99)} ms (p50 {ms(p50)} ms), {step['viewers']:,} viewers"
    target = f"{small:,} viewers, {workers} worker(s): p99 vote to last viewer <= 50 ms"
    return (target, text, status(ok))


def _large_fanout(
    results: dict, viewers: int, deflate: bool, p50_max: float | None, p99_max: float
) -> Row:
    """Vote to the last of `viewers` viewers on 2 workers: p99 (and p50) at most this."""
    step = step_of(combo_of(results, "hypercorn", 2, deflate), viewers)
    ok, text = None, "not measured"
    if step is not None:
        p50, p99 = step["last_viewer_p50_ms"], step["last_viewer_p99_ms"]
        ok = (
            step["viewers"] >= viewers
            and p99 is not None
            and p99 <= p99_max
            and (p50_max is None or (p50 is not None and p50 <= p50_max))
        )
        text = f"p50 {ms(p50)} / p99 {ms(p99)} ms, {step['viewers']:,} viewers"
    bound = f"p99 <= {p99_max:.0f} ms"
    if p50_max is not None:
        bound = f"p50 <= {p50_max:.0f} ms, {bound}"
    kind = "permessage-deflate" if deflate else "no compression"
    return (f"last of {viewers:,} viewers, 2 workers, {kind}: {bound}", text, status(ok))


def _held(results: dict, viewers: int) -> Row:
    """`viewers` idle viewers held on 2 workers at MEMORY_KIB of server memory each or less."""
    step = largest_step(combo_of(results, "hypercorn", 2, False))
    ok, text = None, "not measured"
    if step is not None:
        kib = step["rss_per_viewer"] / 1024
        ok = step["viewers"] >= viewers and kib <= MEMORY_KIB
        text = f"{step['viewers']:,} viewers held, {kib:.1f} KiB each"
    target = (
        f"{viewers:,} viewers held on 2 workers at <= {MEMORY_KIB} KiB of server memory each "
        "(RSS per idle viewer, no compression)"
    )
    return (target, text, status(ok))


def _vote_latency_unmoved(results: dict, large: int) -> Row:
    combo = combo_of(results, "hypercorn", 2, False)
    last = largest_step(combo)
    ok, text = None, "not measured"
    if combo is not None and last is not None:
        zero = combo["zero_viewers"]
        same_p50 = same(zero["http_p50_ms"], last["http_p50_ms"], 5, 1.25)
        same_p99 = same(zero["http_p99_ms"], last["http_p99_ms"], 10, 1.5)
        ok = bool(same_p50 and same_p99) and last["viewers"] >= large
        text = (
            f"0 viewers: p50 {ms(zero['http_p50_ms'])} / p99 {ms(zero['http_p99_ms'])} ms; "
            f"{last['viewers']:,} viewers: p50 {ms(last['http_p50_ms'])} / p99 "
            f"{ms(last['http_p99_ms'])} ms"
        )
    target = (
        f"vote HTTP latency the same with 0 and {large:,} viewers (2 workers; p50 within "
        "25% or 5 ms, p99 within 50% or 10 ms)"
    )
    return (target, text, status(ok))


def _rss_per_viewer(results: dict, deflate: bool, limit: int) -> Row:
    parts, oks = [], []
    for workers in (1, 2):
        step = largest_step(combo_of(results, "hypercorn", workers, deflate))
        if step is None:
            continue
        kib = step["rss_per_viewer"] / 1024
        oks.append(kib <= limit)
        parts.append(f"{workers} worker(s): {kib:.1f} KiB ({step['viewers']:,} viewers)")
    return (
        f"RSS per idle viewer <= {limit} KB "
        f"({'permessage-deflate' if deflate else 'no compression'})",
        "; ".join(parts) or "not measured",
        status(all(oks) if oks else None),
    )


def _ingest(results: dict, case: str, rate: int) -> list[Row]:
    """The rate target and the no-slowdown-with-stored-votes target of one ingest case."""
    empty = ingest_row(results, "hypercorn", 2, case, False)
    stored = ingest_row(results, "hypercorn", 2, case, True)
    ok, text = None, "not measured"
    if empty is not None:
        p99 = empty["p99_us"] / 1000
        ok = empty["votes_per_second"] >= rate and empty["exact"] and p99 <= VOTE_P99_MS
        text = (
            f"{empty['votes_per_second']:.0f} votes/s, lost {empty['lost']}, extra "
            f"{empty['extra']}, p99 {p99:.1f} ms"
        )
    connections = results["plan"]["ingest_connections"]
    rate_row = (
        f">= {rate:,} votes/s with 2 workers, exact, p99 <= {VOTE_P99_MS} ms at {connections} "
        f"connections ({case}, keep-alive)",
        text,
        status(ok),
    )
    ok, text = None, "not measured"
    if empty is not None and stored is not None:
        ratio = stored["votes_per_second"] / max(1e-9, empty["votes_per_second"])
        ok = ratio >= 0.9 and stored["exact"]
        text = (
            f"{stored['votes_per_second']:.0f} votes/s with {stored['vote_table']:,} "
            f"votes stored vs {empty['votes_per_second']:.0f} ({ratio:.0%})"
        )
    target = (
        f"no slowdown with {results.get('stored_votes', 0):,} stored votes "
        f"(2 workers, {case}; within 10%)"
    )
    return [rate_row, (target, text, status(ok))]


def _reads(results: dict) -> Row:
    reads = reads_row(results, "hypercorn", 2, keep_alive=True)
    return (
        f">= {READS:,} req/s reads with 2 workers (GET /api/v1/polls/{{id}}, keep-alive)",
        f"{reads['per_second']:.0f} req/s" if reads else "not measured",
        status(reads["per_second"] >= READS if reads else None),
    )


def _hot(results: dict, small: int, workers: int) -> Row:
    combo = combo_of(results, "hypercorn", workers, False)
    step = step_of(combo, small)
    hot = step.get("hot") if step else None
    ok, text = None, "not measured"
    if hot is not None:
        db_exact = bool(combo and combo["db_exact"])
        exact = hot["exact_viewers"] == hot["viewers"] and db_exact
        ok = hot["messages_per_viewer_per_second_max"] <= 20 and exact
        text = (
            f"max {hot['messages_per_viewer_per_second_max']:.1f} msg/viewer/s; "
            f"{hot['exact_viewers']:,}/{hot['viewers']:,} viewers exact, database "
            f"{'exact' if db_exact else 'NOT exact'}; "
            f"{hot['achieved_rate']:.0f} of {results['plan']['hot_rate']} votes/s achieved"
        )
    target = (
        f"hot poll, {workers} worker(s): <= 20 messages per viewer per second, exact final counts"
    )
    return (target, text, status(ok))


def target_count(results: dict) -> str:
    rows = targets(results)
    met = sum(1 for _, _, s in rows if "met" in s and "missed" not in s)
    measured = sum(1 for _, _, s in rows if s != "not measured")
    return f"**{met} of {measured} measured targets met.**"
