"""The scheduler: polls open and close at their `opens_at`/`closes_at` with nobody voting.

One per process, one timer: it sleeps until the next time any poll is due (or `RESCAN_S`,
to hear of schedules set on other processes, or `RETRY_S` after a failure such as a database
outage), then writes each due change in a statement of its own that only one process can win,
and announces it (webapp/notices.py), so the hub and the LISTEN/NOTIFY feed carry it to
every viewer of every process. The domain layer wakes it when a schedule is set here.

Votes do not wait for it: the vote check itself judges the window (webapp/votes.py), and
every reader of a poll sees it closed past its `closes_at` (webapp/results.py `as_of`). What
the scheduler adds is the change written down and announced live:

- closing: `closed_at` becomes `closes_at` (when it closed);
- opening: nothing about the poll changes but that it is open now; `updated_at` becomes
  `opens_at`, which is also the mark of an opening done (one is due while `updated_at` is
  before `opens_at`: any edit after `opens_at` has passed has announced the poll anyway).

Both bump `seq` once: on PostgreSQL the second process's UPDATE waits for the first one's row
lock, then finds its condition false; SQLite is one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

from webapp import clock, db, event_touch, notices
from webapp.db import shielded, write_transaction
from webapp.tables import Poll

log = logging.getLogger(__name__)

RESCAN_S = 30.0
RETRY_S = 5.0
MIN_WAIT_S = 0.02  # a timer may fire a little early: no busy loop meanwhile
BATCH = 100

_PENDING_CLOSE = "closed_at IS NULL AND closes_at IS NOT NULL"
_PENDING_OPEN = "closed_at IS NULL AND opens_at IS NOT NULL AND updated_at < opens_at"
DUE_SQL = (
    f"SELECT id FROM poll WHERE is_published AND (({_PENDING_CLOSE} AND closes_at <= {{}})"
    f" OR ({_PENDING_OPEN} AND opens_at <= {{}})) ORDER BY id LIMIT {BATCH}"
)
NEXT_SQL = (
    f"SELECT (SELECT min(closes_at) FROM poll WHERE is_published AND {_PENDING_CLOSE}) AS c,"
    f" (SELECT min(opens_at) FROM poll WHERE is_published AND {_PENDING_OPEN}) AS o"
)
# The poll's new seq, and the event it is a question of (if any: its screens are told too).
_CHANGED = "RETURNING seq, (SELECT event FROM event_question WHERE poll = poll.id) AS event"
CLOSE_SQL = (
    "UPDATE poll SET closed_at = closes_at, seq = seq + 1"
    f" WHERE id = {{}} AND is_published AND {_PENDING_CLOSE} AND closes_at <= {{}} {_CHANGED}"
)
OPEN_SQL = (
    "UPDATE poll SET updated_at = opens_at, seq = seq + 1"
    f" WHERE id = {{}} AND is_published AND {_PENDING_OPEN} AND opens_at <= {{}} {_CHANGED}"
)


def _time(value: object) -> datetime | None:
    """A timestamp from an aggregate (SQLite gives its text form)."""
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return value if isinstance(value, datetime) else None


@shielded
async def settle(poll_id: int, now: datetime) -> tuple[int, int | None] | None:
    """Close or open one poll if it is due at `now`: its new seq and the event it is a
    question of, or None when it was not due (any more: another process may have done it)."""
    async with write_transaction(queue=(Poll, poll_id)):
        rows = await Poll.raw(CLOSE_SQL, poll_id, now)
        if not rows:
            rows = await Poll.raw(OPEN_SQL, poll_id, now)
    if not rows:
        return None
    event = rows[0]["event"]
    return int(rows[0]["seq"]), None if event is None else int(event)


async def run_due(now: datetime | None = None) -> list[int]:
    """Settle every poll due at `now` (up to BATCH of them), announce each change (and to
    the screens of its event, in a transaction of the event's own, as a countdown's end
    closed by hand would be); the ids of the polls this process changed."""
    now = now or clock.now()
    changed = []
    for untold in list(_untold):  # from a round whose event transaction failed
        await _tell(untold)
    for row in await Poll.raw(DUE_SQL, now, now):
        settled = await settle(row["id"], now)
        if settled is None:
            continue
        seq, event_id = settled
        notices.poll_changed(row["id"], seq)
        changed.append(row["id"])
        if event_id is not None:
            _untold.add(event_id)
            await _tell(event_id)
    return changed


# Events whose question this process closed or opened, not told yet: the poll will not be
# due again, so a failed telling is retried by the next rounds.
_untold: set[int] = set()


async def _tell(event_id: int) -> None:
    try:
        await event_touch.touch(event_id)
    except Exception:
        log.warning("scheduler: could not tell event %s's screens; retrying", event_id)
        return
    _untold.discard(event_id)


async def next_due() -> datetime | None:
    """When the next poll is due to open or close, if any is."""
    row = (await Poll.raw(NEXT_SQL))[0]
    times = [time for time in (_time(row["c"]), _time(row["o"])) if time is not None]
    return min(times) if times else None


class Scheduler:
    def __init__(self) -> None:
        self._wake = asyncio.Event()
        self._failing = False

    def wake(self) -> None:
        self._wake.set()

    async def _round(self) -> float:
        """One round; how long to sleep before the next."""
        try:
            await run_due()
            due = await next_due()
        except Exception as exc:
            if not self._failing:
                unavailable = db.is_unavailable(exc)
                log.warning(
                    "scheduler: %s; retrying every %s s",
                    "database unavailable" if unavailable else "round failed",
                    RETRY_S,
                    exc_info=not unavailable,
                )
            self._failing = True
            return RETRY_S
        if self._failing:
            log.warning("scheduler: working again")
            self._failing = False
        if due is None:
            return RESCAN_S
        return min(RESCAN_S, max(MIN_WAIT_S, (due - clock.now()).total_seconds()))

    async def run(self) -> None:
        while True:
            self._wake.clear()
            wait = await self._round()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)


_running: list[Scheduler] = []


def wake() -> None:
    """A schedule changed on this process: plan again now (no-op without a scheduler)."""
    for scheduler in _running:
        scheduler.wake()


async def run() -> None:
    """The process's scheduler, until cancelled (the app's lifespan starts it)."""
    scheduler = Scheduler()
    _running.append(scheduler)
    try:
        await scheduler.run()
    finally:
        _running.remove(scheduler)
