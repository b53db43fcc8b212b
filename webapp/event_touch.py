"""An event's question changed elsewhere (a countdown set, voting closed by hand or by the
scheduler, results reset): the event's seq moves and the change is announced, so every
screen following the event gets a fresh `event` message (webapp/live/event_snapshots.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from webapp import notices
from webapp.db import shielded, write_transaction
from webapp.tables import Event


async def bump(event_id: int, values: dict[Any, Any] | None = None) -> int | None:
    """Move the event's seq (and set these other columns) in the caller's transaction: the
    new seq, None when the event is gone."""
    changes = {**(values or {}), Event.seq: Event.seq + 1, Event.updated_at: datetime.now(UTC)}
    rows = await Event.update(changes).where(Event.id == event_id).returning(Event.seq)
    return int(rows[0]["seq"]) if rows else None


@shielded
async def touch(event_id: int) -> None:
    """Move the event's seq, in a transaction of its own, and announce it (nothing when the
    event is gone meanwhile)."""
    async with write_transaction(("event", event_id)):
        seq = await bump(event_id)
    if seq is not None:
        notices.event_changed(event_id, seq)
