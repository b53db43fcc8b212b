"""The database engine chosen by DATABASE_URL, and the few helpers that differ per engine."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import asyncpg
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

P = ParamSpec("P")
SQLITE_PREFIX = "sqlite:///"

_sqlite_writer = asyncio.Lock()


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://"))


def make_engine(url: str) -> Engine:
    """PostgreSQL for postgres:// URLs, otherwise a SQLite file."""
    if is_postgres_url(url):
        return PostgresEngine(config={"dsn": url})
    if not url.startswith(SQLITE_PREFIX):
        raise ValueError(
            f"unsupported DATABASE_URL {url!r}: use postgresql://... or sqlite:///path"
        )
    path = Path(url.removeprefix(SQLITE_PREFIX))
    path.parent.mkdir(parents=True, exist_ok=True)
    # A generous timeout: concurrent writers queue on SQLite's single write lock.
    return SQLiteEngine(path=str(path), timeout=30)


def engine() -> Engine:
    from piccolo_conf import DB

    return DB


def is_postgres() -> bool:
    return isinstance(engine(), PostgresEngine)


@asynccontextmanager
async def write_transaction() -> AsyncIterator[Any]:
    """A transaction for read-then-write work: IMMEDIATE on SQLite, taking the lock up front."""
    db = engine()
    if isinstance(db, SQLiteEngine):
        # One process owns a SQLite file: queue writers here instead of in SQLite's busy-wait.
        async with (
            _sqlite_writer,
            db.transaction(transaction_type=TransactionType.immediate) as txn,
        ):
            yield txn
    else:
        async with db.transaction() as txn:
            yield txn


T = TypeVar("T")


def shielded(func: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """Let a write finish even if its caller is cancelled (a client hung up mid-request):
    a transaction cut off at BEGIN or COMMIT would leak its pooled connection."""

    @wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.shield(func(*args, **kwargs))

    return wrapper


def is_unique_violation(exc: BaseException) -> bool:
    if isinstance(exc, asyncpg.UniqueViolationError):
        return True
    return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc)


class PooledConnection(asyncpg.Connection):
    """A pool connection released without asyncpg's reset query (UNLISTEN, RESET ALL, ...):
    the app keeps no session state on pooled connections (LISTEN has its own connection),
    and asyncpg still ends any open transaction on release. One round trip less per query.
    """

    def get_reset_query(self) -> str:
        return ""


async def start(pool_size: int) -> None:
    db = engine()
    if isinstance(db, PostgresEngine):
        await db.start_connection_pool(
            min_size=1, max_size=pool_size, connection_class=PooledConnection
        )
    elif isinstance(db, SQLiteEngine):
        # WAL lets readers carry on while one writer commits.
        await db.run_ddl("PRAGMA journal_mode=WAL")


async def stop() -> None:
    db = engine()
    if isinstance(db, PostgresEngine) and db.pool is not None:
        try:
            await asyncio.wait_for(db.pool.close(), 5)
        except TimeoutError:
            db.pool.terminate()  # a connection still checked out must not block shutdown
        db.pool = None
