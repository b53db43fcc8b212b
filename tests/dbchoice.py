"""Which database the tests run on: LIVEPOLLS_TEST_DB=postgres|sqlite|auto (default auto).

auto uses PostgreSQL when one answers at LIVEPOLLS_TEST_POSTGRES_URL, otherwise SQLite.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from urllib.parse import urlsplit, urlunsplit

import asyncpg

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/livepolls_test"


def postgres_url() -> str:
    return os.environ.get("LIVEPOLLS_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def _maintenance_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres")), parts.path.lstrip("/")


async def _ensure_postgres(url: str) -> None:
    """Connect to the server and create the test database if it is missing."""
    admin_url, name = _maintenance_url(url)
    conn = await asyncpg.connect(admin_url, timeout=3)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def choose() -> tuple[str, str]:
    """Return (kind, DATABASE_URL) and fail loudly if postgres was asked for and is absent."""
    wanted = os.environ.get("LIVEPOLLS_TEST_DB", "auto").lower()
    if wanted not in {"postgres", "sqlite", "auto"}:
        raise SystemExit(f"LIVEPOLLS_TEST_DB must be postgres, sqlite or auto, not {wanted!r}")
    if wanted in {"postgres", "auto"}:
        url = postgres_url()
        try:
            asyncio.run(_ensure_postgres(url))
            return "postgres", url
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            if wanted == "postgres":
                message = f"LIVEPOLLS_TEST_DB=postgres but {url} is unreachable: {exc}"
                raise SystemExit(message) from exc
    folder = tempfile.mkdtemp(prefix="livepolls-test-")
    return "sqlite", f"sqlite:///{folder}/test.sqlite3"
