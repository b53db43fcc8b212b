"""The database engine chosen by DATABASE_URL, and the few helpers that differ per engine."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Coroutine, Hashable
from contextlib import asynccontextmanager
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import asyncpg
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

P = ParamSpec("P")
log = logging.getLogger(__name__)
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
    from webapp.piccolo_conf import DB

    return DB


def is_postgres() -> bool:
    return isinstance(engine(), PostgresEngine)


class KeyedQueue:
    """One asyncio lock per key, alive while someone holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


_row_queue = KeyedQueue()


@asynccontextmanager
async def write_transaction(queue: Hashable | None = None) -> AsyncIterator[Any]:
    """A transaction for read-then-write work: IMMEDIATE on SQLite, taking the lock up front.

    On PostgreSQL, transactions given the same `queue` key (those that lock the same row)
    wait for each other in this process before they begin: the database's row lock then
    decides only between processes, instead of every waiter holding a pooled connection and
    queueing in PostgreSQL's lock manager, which costs the database more CPU than the votes.
    """
    db = engine()
    if isinstance(db, SQLiteEngine):
        # One process owns a SQLite file: queue writers here instead of in SQLite's busy-wait.
        async with (
            _sqlite_writer,
            db.transaction(transaction_type=TransactionType.immediate) as txn,
        ):
            yield txn
    elif queue is not None:
        async with _row_queue.hold(queue), db.transaction() as txn:
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


def values(rows: list[tuple[Any, ...]]) -> str:
    """Piccolo's placeholders for a multi-row VALUES list of these rows."""
    return ", ".join("(" + ", ".join("{}" for _ in row) + ")" for row in rows)


def flat(rows: list[tuple[Any, ...]]) -> list[Any]:
    """The rows' values, in the order of `values`' placeholders."""
    return [value for row in rows for value in row]


def is_foreign_key_violation(exc: BaseException) -> bool:
    if isinstance(exc, asyncpg.ForeignKeyViolationError):
        return True
    return isinstance(exc, sqlite3.IntegrityError) and "FOREIGN KEY" in str(exc)


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
        # No floor: with one, asyncpg reconnects in the background during an outage and logs
        # a traceback for every attempt; connections are opened on demand instead.
        await db.start_connection_pool(
            min_size=0, max_size=pool_size, connection_class=PooledConnection
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


# The errors that mean "the database is not there right now", not "this request is wrong".
_UNAVAILABLE = (
    OSError,  # connection refused or reset, host unreachable
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)


def is_unavailable(exc: BaseException) -> bool:
    """Whether this error means the database is away (a 503), rather than a bug (a 500)."""
    if isinstance(exc, sqlite3.OperationalError):
        return "locked" in str(exc) or "unable to open" in str(exc)
    if isinstance(exc, TimeoutError):
        return True
    return isinstance(exc, _UNAVAILABLE)


class Outage:
    """Logs a database outage once when it starts and once when it ends, not per request."""

    def __init__(self) -> None:
        self.since: float | None = None

    def down(self, exc: BaseException) -> None:
        if self.since is None:
            self.since = asyncio.get_running_loop().time()
            log.warning("database unavailable (%s: %s); answering 503", type(exc).__name__, exc)

    def up(self) -> None:
        if self.since is not None:
            lasted = asyncio.get_running_loop().time() - self.since
            self.since = None
            log.warning("database available again after %.1f s", lasted)


outage = Outage()
