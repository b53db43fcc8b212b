"""Builds a poll's live messages: once per change, shared by every viewer of the poll."""

from __future__ import annotations

import json

from webapp.live.hub import Snapshot
from webapp.polls import current_results, load_row


async def load_snapshot(poll_id: int) -> Snapshot | None:
    """The poll's current results and poll messages; None when it no longer exists."""
    row = await load_row(poll_id)
    results = await current_results(poll_id) if row else None
    if row is None or results is None:
        return None
    closed_at = row["closed_at"].isoformat() if row["closed_at"] else None
    results_message = {
        "type": "results",
        "poll_id": poll_id,
        "seq": results.seq,
        "options": [{"id": option.id, "votes": option.votes} for option in results.options],
        "total_votes": results.total_votes,
        "voters": results.voters,
        "closed": results.closed,
    }
    poll_message = {
        "type": "poll",
        "poll_id": poll_id,
        "seq": results.seq,
        "question": row["question"],
        "is_published": row["is_published"],
        "allows_multiple": row["allows_multiple"],
        "closed": closed_at is not None,
        "closed_at": closed_at,
        "updated_at": row["updated_at"].isoformat(),
        "options": [{"id": option.id, "text": option.text} for option in results.options],
    }
    return Snapshot(
        seq=results.seq,
        results=json.dumps(results_message, separators=(",", ":")),
        poll=json.dumps(poll_message, separators=(",", ":")),
        poll_version=f"{row['updated_at'].isoformat()}|{closed_at}|{row['is_published']}",
    )
