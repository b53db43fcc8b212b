"""A rating scale's responses: one rating per person (`scale_rating`, keyed (poll, user)),
and a running count per value (`scale_count`), moved in the same transaction."""

from __future__ import annotations

from typing import Any

from webapp.kinds.scale import RATING_SQL, scale_in
from webapp.questions.scale import check_rating
from webapp.responses import Change
from webapp.tables import Poll

FIELD = "rating"
INSERT_SQL = 'INSERT INTO scale_rating (poll, "user", rating) VALUES ({}, {}, {})'
UPDATE_SQL = 'UPDATE scale_rating SET rating = {} WHERE poll = {} AND "user" = {}'
DELETE_SQL = 'DELETE FROM scale_rating WHERE poll = {} AND "user" = {} RETURNING rating'
COUNT_SQL = (
    "INSERT INTO scale_count (poll, value, count) VALUES ({}, {}, {})"
    " ON CONFLICT (poll, value) DO UPDATE SET count = scale_count.count + excluded.count"
)


async def _count(poll_id: int, value: int, delta: int) -> None:
    """Move a value's count; a decrement always finds its row (the rating counted there)."""
    if delta > 0:
        await Poll.raw(COUNT_SQL, poll_id, value, delta)
    else:
        await Poll.raw(
            "UPDATE scale_count SET count = count + {} WHERE poll = {} AND value = {}",
            delta,
            poll_id,
            value,
        )


async def put(poll: dict[str, Any], user_id: int, value: object, has_ballot: bool) -> Change:
    """Rate (or change the rating): 422 naming `rating` outside 1 .. the scale's points."""
    rating = check_rating(scale_in(poll), value, FIELD)
    poll_id = poll["id"]
    rows = await Poll.raw(RATING_SQL, poll_id, user_id)
    old = int(rows[0]["rating"]) if rows else None
    if old == rating:
        return Change(False)
    if old is None:
        await Poll.raw(INSERT_SQL, poll_id, user_id, rating)
    else:
        await Poll.raw(UPDATE_SQL, rating, poll_id, user_id)
        await _count(poll_id, old, -1)
    await _count(poll_id, rating, 1)
    return Change(True, 0 if old is not None or has_ballot else 1)


async def withdraw(poll: dict[str, Any], user_id: int) -> Change:
    rows = await Poll.raw(DELETE_SQL, poll["id"], user_id)
    if not rows:
        return Change(False)
    await _count(poll["id"], int(rows[0]["rating"]), -1)
    return Change(True, -1)


async def mine(poll_id: int, user_id: int) -> int | None:
    rows = await Poll.raw(RATING_SQL, poll_id, user_id)
    return int(rows[0]["rating"]) if rows else None
