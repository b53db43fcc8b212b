"""What a run measures: the sizes of every case, full (about 20 minutes) or quick."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench import seed


@dataclass
class Combo:
    """One fan-out run: a server, a worker count, compression offered or not."""

    server: str
    workers: int
    deflate: bool
    steps: list[int]
    ramp_budget: float  # seconds for opening connections, over all steps
    hot: bool  # run the hot poll at the first step


@dataclass
class Plan:
    users: int
    ingest_seconds: int
    ingest_connections: int
    many_polls: int
    ingest_servers: list[str]
    ingest_workers: list[int]
    stored_polls: int
    stored_voters: int
    reads_seconds: int
    reads_connections: int
    votes_per_step: int
    vote_interval_ms: int
    hot_rate: int
    hot_seconds: int
    viewer_procs: int
    connect_concurrency: int
    combos: list[Combo] = field(default_factory=list)


def full_plan() -> Plan:
    steps = [1000, 5000, 10000]
    combos = [
        # The target case first: 2 workers, no compression, up to 20,000 viewers.
        Combo("hypercorn", 2, False, [*steps, 20000], 240, True),
        Combo("hypercorn", 1, False, steps, 120, True),
        Combo("hypercorn", 2, True, steps, 120, False),
        Combo("hypercorn", 1, True, steps[:2], 60, False),
        Combo("uvicorn", 2, False, steps, 120, True),
        Combo("uvicorn", 1, False, steps[:2], 60, True),
        Combo("uvicorn", 2, True, steps[:2], 60, False),
        Combo("uvicorn", 1, True, steps[:1], 30, False),
    ]
    return Plan(
        users=60_000,
        ingest_seconds=8,
        ingest_connections=64,
        many_polls=100,
        ingest_servers=["hypercorn", "uvicorn"],
        ingest_workers=[1, 2],
        stored_polls=200,
        stored_voters=1000,
        reads_seconds=8,
        reads_connections=64,
        votes_per_step=20,
        vote_interval_ms=300,
        hot_rate=500,
        hot_seconds=10,
        viewer_procs=4,
        connect_concurrency=128,
        combos=combos,
    )


def quick_plan() -> Plan:
    steps = [100, 300]
    combos = [
        Combo("hypercorn", 2, False, steps, 30, True),
        Combo("hypercorn", 1, True, steps[:1], 15, False),
        Combo("uvicorn", 2, False, steps[:1], 15, True),
        Combo("uvicorn", 1, True, steps[:1], 15, False),
    ]
    return Plan(
        users=4000,
        ingest_seconds=3,
        ingest_connections=16,
        many_polls=100,
        ingest_servers=["hypercorn", "uvicorn"],
        ingest_workers=[2],
        stored_polls=20,
        stored_voters=100,
        reads_seconds=2,
        reads_connections=16,
        votes_per_step=5,
        vote_interval_ms=300,
        hot_rate=100,
        hot_seconds=3,
        viewer_procs=2,
        connect_concurrency=32,
        combos=combos,
    )


@dataclass
class Context:
    """What every case of one run shares: the database, the plan, the results so far, where
    servers' logs and profiles go, whether to profile."""

    seeded: seed.Seeded
    plan: Plan
    results: dict
    logs: Path
    profile: bool
