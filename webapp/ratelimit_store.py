"""A `limits` storage on the app's own database, so every worker and host counts together.

Fixed windows only (what `FixedWindowRateLimiter` needs): one row per key, and a hit is one
upsert that starts a new window once the old one has expired. The statement is atomic on
PostgreSQL and SQLite alike, so concurrent hits from several processes never lose a count.
"""

from __future__ import annotations

import time

from limits.aio.storage import Storage

from webapp.tables import RateLimitCounter

HIT_SQL = (
    "INSERT INTO rate_limit (key, hits, expires_at) VALUES ({}, {}, {})"
    " ON CONFLICT (key) DO UPDATE SET"
    " hits = CASE WHEN rate_limit.expires_at <= {} THEN excluded.hits"
    " ELSE rate_limit.hits + excluded.hits END,"
    " expires_at = CASE WHEN rate_limit.expires_at <= {} THEN excluded.expires_at"
    " ELSE rate_limit.expires_at END"
    " RETURNING hits"
)
GET_SQL = "SELECT hits, expires_at FROM rate_limit WHERE key = {}"
PRUNE_SQL = "DELETE FROM rate_limit WHERE expires_at <= {}"


class DatabaseStorage(Storage):
    """Counters in the `rate_limit` table (webapp.tables.RateLimitCounter)."""

    STORAGE_SCHEME = ["livepolls+database"]

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return Exception

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        rows = await RateLimitCounter.raw(HIT_SQL, key, amount, now + expiry, now, now)
        return int(rows[0]["hits"])

    async def _row(self, key: str) -> dict | None:
        rows = await RateLimitCounter.raw(GET_SQL, key)
        if not rows or rows[0]["expires_at"] <= time.time():
            return None
        return dict(rows[0])

    async def get(self, key: str) -> int:
        row = await self._row(key)
        return int(row["hits"]) if row else 0

    async def get_expiry(self, key: str) -> float:
        row = await self._row(key)
        return float(row["expires_at"]) if row else time.time()

    async def check(self) -> bool:
        await RateLimitCounter.raw("SELECT 1")
        return True

    async def reset(self) -> int | None:
        await RateLimitCounter.raw("DELETE FROM rate_limit")
        return None

    async def clear(self, key: str) -> None:
        await RateLimitCounter.raw("DELETE FROM rate_limit WHERE key = {}", key)


async def prune_expired() -> None:
    """Drop the rows of windows that have ended (housekeeping)."""
    await RateLimitCounter.raw(PRUNE_SQL, time.time())
