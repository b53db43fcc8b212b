"""The benchmark database: create it fresh, migrate it, seed it fast, check the counts.

Seeding goes straight to PostgreSQL with COPY, not through the API:

- users get one precomputed argon2id hash (nobody signs in during the benchmark);
- user i's bearer token is `<prefix><i>` for a random per-run prefix, stored as its SHA-256 hex
  digest exactly as webapp/accounts.py stores tokens, so the load generators can build any
  user's token from its index without a token file;
- polls are published, single-choice, with four options, created by user 0.

`store_votes` adds votes to polls nobody else touches (for the "200,000 votes stored" case) and
keeps the running counts (poll_option.votes, poll.voters, poll.seq) consistent with them;
`counts` reads back what is stored for a set of polls, to compare with what the server
acknowledged.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
OPTIONS_PER_POLL = 4
PASSWORD = "bench-password"


def database_url(name: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


def token(prefix: str, index: int) -> str:
    return f"{prefix}{index}"


@dataclass
class Poll:
    id: int
    option_ids: list[int]


@dataclass
class Seeded:
    url: str
    token_prefix: str
    users: int
    user_ids: list[int] = field(default_factory=list)

    def token(self, index: int) -> str:
        return token(self.token_prefix, index)


async def _recreate(name: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def _migrate(url: str) -> None:
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench-migrate"}
    env.pop("LIVEPOLLS_ENV", None)
    done = subprocess.run(
        [sys.executable, "-m", "webapp.cli", "migrate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"migration failed:\n{done.stdout}\n{done.stderr}")


def _password_hash() -> str:
    """One argon2id hash with the app's default parameters, shared by every seeded user."""
    from argon2 import PasswordHasher, Type

    return PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=1, type=Type.ID).hash(
        PASSWORD
    )


async def _seed_users(url: str, users: int) -> Seeded:
    prefix = f"bench-{secrets.token_hex(8)}-"
    seeded = Seeded(url=url, token_prefix=prefix, users=users)
    password_hash = _password_hash()
    now = datetime.now(UTC)
    conn = await asyncpg.connect(url)
    try:
        first = await conn.fetchval("SELECT nextval('app_user_id_seq')")
        ids = list(range(first + 1, first + 1 + users))
        await conn.copy_records_to_table(
            "app_user",
            columns=["id", "name", "email", "password_hash", "is_guest", "created_at"],
            records=[
                (uid, f"Bench {i}", f"bench-{i}@example.org", password_hash, False, now)
                for i, uid in enumerate(ids)
            ],
        )
        await conn.execute("SELECT setval('app_user_id_seq', $1)", ids[-1])
        expires = now + timedelta(days=30)
        await conn.copy_records_to_table(
            "auth_token",
            columns=["token_hash", "user", "created_at", "expires_at"],
            records=[
                (hashlib.sha256(token(prefix, i).encode()).hexdigest(), uid, now, expires)
                for i, uid in enumerate(ids)
            ],
        )
        await conn.execute("ANALYZE app_user; ANALYZE auth_token")
    finally:
        await conn.close()
    seeded.user_ids = ids
    return seeded


def setup(name: str, users: int) -> Seeded:
    """A fresh, migrated database `name` with `users` users and their tokens."""
    asyncio.run(_recreate(name))
    url = database_url(name)
    _migrate(url)
    return asyncio.run(_seed_users(url, users))


async def _create_polls(url: str, creator: int, count: int, label: str) -> list[Poll]:
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            poll_ids = [
                row["id"]
                for row in await conn.fetch(
                    """INSERT INTO poll (question, is_published, allows_multiple, creator)
                       SELECT $1 || ' #' || g, true, false, $2 FROM generate_series(1, $3) g
                       RETURNING id""",
                    label,
                    creator,
                    count,
                )
            ]
            rows = await conn.fetch(
                """INSERT INTO poll_option (text, position, poll)
                   SELECT 'Option ' || (p + 1), p, poll_id
                   FROM unnest($1::int[]) poll_id, generate_series(0, $2 - 1) p
                   ORDER BY poll_id, p
                   RETURNING id, poll""",
                poll_ids,
                OPTIONS_PER_POLL,
            )
    finally:
        await conn.close()
    options: dict[int, list[int]] = {pid: [] for pid in poll_ids}
    for row in sorted(rows, key=lambda r: r["id"]):
        options[row["poll"]].append(row["id"])
    return [Poll(pid, options[pid]) for pid in poll_ids]


def create_polls(seeded: Seeded, count: int, label: str) -> list[Poll]:
    """`count` published single-choice polls with four options each."""
    return asyncio.run(_create_polls(seeded.url, seeded.user_ids[0], count, label))


async def _store_votes(url: str, polls: list[Poll], user_ids: list[int]) -> int:
    """Every user in user_ids votes once in every poll (option by user), counts kept exact."""
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute(
                """INSERT INTO vote ("user", option, poll, single_choice)
                   SELECT u.uid, (p.options)[1 + (u.n % cardinality(p.options))], p.poll_id, true
                   FROM unnest($1::int[]) WITH ORDINALITY AS u(uid, n),
                        (SELECT o.poll AS poll_id, array_agg(o.id ORDER BY o.position) AS options
                         FROM poll_option o WHERE o.poll = ANY($2::int[]) GROUP BY o.poll) p""",
                user_ids,
                [p.id for p in polls],
            )
            await conn.execute(
                """UPDATE poll_option o SET votes = c.n
                   FROM (SELECT option, count(*) n FROM vote WHERE poll = ANY($1::int[])
                         GROUP BY option) c WHERE o.id = c.option""",
                [p.id for p in polls],
            )
            await conn.execute(
                """UPDATE poll SET voters = $2, seq = $2 WHERE id = ANY($1::int[])""",
                [p.id for p in polls],
                len(user_ids),
            )
        await conn.execute("ANALYZE vote")
        return int(await conn.fetchval("SELECT count(*) FROM vote"))
    finally:
        await conn.close()


def store_votes(seeded: Seeded, polls: list[Poll], voters: int) -> int:
    """Store len(polls) * voters votes; returns the vote table's size afterwards."""
    return asyncio.run(_store_votes(seeded.url, polls, seeded.user_ids[:voters]))


async def _delete_votes(url: str, poll_ids: list[int]) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DELETE FROM vote WHERE poll = ANY($1::int[])", poll_ids)
        await conn.execute("VACUUM ANALYZE vote")
    finally:
        await conn.close()


def delete_votes(seeded: Seeded, polls: list[Poll]) -> None:
    """Remove a finished case's votes, so that the next case starts from the same table."""
    asyncio.run(_delete_votes(seeded.url, [p.id for p in polls]))


@dataclass
class Counts:
    vote_rows: int
    option_votes: int
    voters: int
    seq: int


async def _counts(url: str, poll_ids: list[int]) -> Counts:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetchval(
            "SELECT count(*) FROM vote WHERE poll = ANY($1::int[])", poll_ids
        )
        option_votes = await conn.fetchval(
            "SELECT coalesce(sum(votes), 0) FROM poll_option WHERE poll = ANY($1::int[])", poll_ids
        )
        voters, seq = await conn.fetchrow(
            "SELECT coalesce(sum(voters), 0), coalesce(sum(seq), 0) FROM poll"
            " WHERE id = ANY($1::int[])",
            poll_ids,
        )
        return Counts(int(rows), int(option_votes), int(voters), int(seq))
    finally:
        await conn.close()


def counts(seeded: Seeded, polls: list[Poll]) -> Counts:
    return asyncio.run(_counts(seeded.url, [p.id for p in polls]))


async def _vote_table_size(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM vote"))
    finally:
        await conn.close()


def vote_table_size(seeded: Seeded) -> int:
    return asyncio.run(_vote_table_size(seeded.url))


async def _server_version(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


def server_version(seeded: Seeded) -> str:
    return asyncio.run(_server_version(seeded.url))


if __name__ == "__main__":  # a quick manual check: python -m bench.seed
    s = setup("livepolls_bench_seedcheck", 1000)
    ps = create_polls(s, 3, "check")
    print(s.token(0), ps, store_votes(s, ps[:2], 500), counts(s, ps))
