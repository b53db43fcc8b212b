"""`python -m webapp.cli migrate` from an empty database, on SQLite and on PostgreSQL.

Each case runs the real command in a subprocess against a database of its own: a fresh SQLite
file, and (only when the run uses PostgreSQL) a fresh PostgreSQL database created and dropped
here. The PostgreSQL case is not generated at all on SQLite runs.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from tests.conftest import DB_KIND, DB_URL

ROOT = Path(__file__).resolve().parent.parent
TABLES = {
    "app_user",
    "poll",
    "poll_option",
    "vote",
    "auth_token",
    "idempotency_key",
    "event",
    "event_question",
}
UNIQUE_INDEXES = {
    "app_user_email_lower",
    "vote_user_option",
    "vote_user_single_poll",
    "idempotency_key_user_key",
    "event_question_event_position",
    "event_question_current",
}
MIGRATION_FILES = sorted(ROOT.glob("piccolo_migrations/livepolls_*.py"))

KINDS = ["sqlite"] + (["postgres"] if DB_KIND == "postgres" else [])


@dataclass
class Schema:
    """What a migrated database holds: tables, unique index names, and a full snapshot."""

    tables: set[str]
    unique_indexes: set[str]
    index_defs: dict[str, str]
    snapshot: list[tuple[object, ...]]
    migrations: list[tuple[object, ...]]


@dataclass
class FreshDatabase:
    kind: str
    url: str


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@pytest.fixture(params=KINDS)
async def fresh_database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[FreshDatabase]:
    if request.param == "sqlite":
        yield FreshDatabase("sqlite", f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
        return
    # A name of its own, so parallel runs on one server do not collide.
    name = f"livepolls_migrate_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_with_database(DB_URL, "postgres"), timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield FreshDatabase("postgres", _with_database(DB_URL, name))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def run_migrate(url: str, data_dir: Path) -> tuple[int, str]:
    """Run the migrate command in a subprocess; return its exit code and its output."""
    env = {**os.environ, "DATABASE_URL": url, "LIVEPOLLS_DATA_DIR": str(data_dir)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "webapp.cli",
        "migrate",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


def sqlite_schema(url: str) -> Schema:
    path = url.removeprefix("sqlite:///")
    assert Path(path).exists(), path
    with sqlite3.connect(path) as conn:
        master = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
        ).fetchall()
        migrations = conn.execute("SELECT name, app_name FROM migration ORDER BY id").fetchall()
    conn.close()
    tables = {name for kind, name, _, _ in master if kind == "table"}
    unique = {
        name
        for kind, name, _, sql in master
        if kind == "index" and sql and sql.upper().startswith("CREATE UNIQUE INDEX")
    }
    index_defs = {name: sql for kind, name, _, sql in master if kind == "index" and sql}
    snapshot = [tuple(row) for row in master]
    return Schema(tables, unique, index_defs, snapshot, [tuple(row) for row in migrations])


async def postgres_schema(url: str) -> Schema:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
            " ORDER BY indexname"
        )
        columns = await conn.fetch(
            "SELECT table_name, column_name, data_type, is_nullable, column_default"
            " FROM information_schema.columns WHERE table_schema = 'public'"
            " ORDER BY table_name, column_name"
        )
        constraints = await conn.fetch(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
            " FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
            " ORDER BY 1, 2"
        )
        migrations = await conn.fetch("SELECT name, app_name FROM migration ORDER BY id")
    finally:
        await conn.close()
    unique = {
        row["indexname"]
        for row in indexes
        if row["indexdef"].upper().startswith("CREATE UNIQUE INDEX")
    }
    snapshot = [tuple(row) for row in [*tables, *indexes, *columns, *constraints]]
    return Schema(
        {row["tablename"] for row in tables},
        unique,
        {row["indexname"]: row["indexdef"] for row in indexes},
        snapshot,
        [tuple(row) for row in migrations],
    )


async def read_schema(database: FreshDatabase) -> Schema:
    if database.kind == "sqlite":
        return sqlite_schema(database.url)
    return await postgres_schema(database.url)


async def test_migrate_from_empty_creates_the_schema(
    fresh_database: FreshDatabase, tmp_path: Path
) -> None:
    code, output = await run_migrate(fresh_database.url, tmp_path)

    assert code == 0, output
    schema = await read_schema(fresh_database)
    assert schema.tables >= TABLES, schema.tables
    assert schema.unique_indexes >= UNIQUE_INDEXES, schema.unique_indexes
    single = schema.index_defs["vote_user_single_poll"]
    assert "WHERE" in single.upper() and "single_choice" in single, single
    email_index = schema.index_defs["app_user_email_lower"].lower()
    assert "lower(" in email_index and "email" in email_index, email_index
    assert len(schema.migrations) == len(MIGRATION_FILES)
    assert {app for _, app in schema.migrations} == {"livepolls"}


async def test_migrate_twice_succeeds_and_changes_nothing(
    fresh_database: FreshDatabase, tmp_path: Path
) -> None:
    first_code, first_output = await run_migrate(fresh_database.url, tmp_path)
    assert first_code == 0, first_output
    before = await read_schema(fresh_database)

    code, output = await run_migrate(fresh_database.url, tmp_path)

    assert code == 0, output
    after = await read_schema(fresh_database)
    assert after == before


if DB_KIND == "postgres":  # SQLite is one process by design; hosts share only PostgreSQL

    @pytest.mark.parametrize("fresh_database", ["postgres"], indirect=True)
    async def test_hosts_migrating_at_the_same_moment_do_not_collide(
        fresh_database: FreshDatabase, tmp_path: Path
    ) -> None:
        """Several servers starting together on an empty database: an advisory lock
        serialises their migrations."""
        runs = await asyncio.gather(*(run_migrate(fresh_database.url, tmp_path) for _ in range(3)))

        assert [code for code, _ in runs] == [0, 0, 0], [output for _, output in runs]
        schema = await read_schema(fresh_database)
        assert len(schema.migrations) == len(MIGRATION_FILES)
