"""Refused attempts per poll, rule and minute, for the poll's integrity report.

Refusals are counted in memory and written in one upsert per (poll, rule, minute) at most
once a second: a client hammering a limit costs no database write per attempt, and the
table holds a bounded number of rows however hard it is hammered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Iterator

from webapp.db import write_transaction
from webapp.errors import DomainError
from webapp.tables import Refusal

log = logging.getLogger(__name__)

RULES = ("rate_limit", "device", "network", "code", "eligibility")
FLUSH_INTERVAL_S = 1.0

UPSERT_SQL = (
    "INSERT INTO refusal (poll, rule, minute, attempts)"
    " SELECT id, {}, {}, {} FROM poll WHERE id = {}"  # a poll that does not exist: nothing
    " ON CONFLICT (poll, rule, minute)"
    " DO UPDATE SET attempts = refusal.attempts + excluded.attempts"
)

_pending: Counter[tuple[int, str, int]] = Counter()


@contextlib.contextmanager
def counted(poll_id: int) -> Iterator[None]:
    """A refusal by one of the poll's integrity rules (an error with a `rule`) raised in the
    block is counted for the poll's report, and raised on."""
    try:
        yield
    except DomainError as error:
        if error.rule is not None:
            note(poll_id, error.rule)
        raise


def note(poll_id: int, rule: str) -> None:
    """Count one refused attempt (written by the next flush)."""
    _pending[(poll_id, rule, int(time.time() // 60))] += 1


async def flush() -> None:
    """Write what was counted since the last flush (a deleted poll's counts are dropped)."""
    if not _pending:
        return
    batch = dict(_pending)
    _pending.clear()
    for (poll_id, rule, minute), count in batch.items():
        try:
            async with write_transaction():
                await Refusal.raw(UPSERT_SQL, rule, minute, count, poll_id)
        except Exception:  # the poll is gone (foreign key), or the database is away
            log.warning("could not record %s refusals of poll %s", count, poll_id)


async def run_flusher(interval: float = FLUSH_INTERVAL_S) -> None:
    """Flush forever (one task per process); a last flush when cancelled."""
    try:
        while True:
            await asyncio.sleep(interval)
            await flush()
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(flush())
