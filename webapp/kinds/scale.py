"""A rating scale's results, from its running count per value (`scale_count`)."""

from __future__ import annotations

from typing import Any

from webapp.kinds.details import ScaleBucket, ScaleDetail
from webapp.questions.scale import Scale, scale_results
from webapp.tables import Poll

COUNTS_SQL = "SELECT value, count FROM scale_count WHERE poll = {}"
RATING_SQL = 'SELECT rating FROM scale_rating WHERE poll = {} AND "user" = {}'


def scale_in(poll: dict[str, Any]) -> Scale:
    return Scale(poll["scale_points"], poll["scale_low"] or "", poll["scale_high"] or "")


async def detail(poll: dict[str, Any]) -> ScaleDetail:
    rows = await Poll.raw(COUNTS_SQL, poll["id"])
    counts = {row["value"]: row["count"] for row in rows if row["count"]}
    found = scale_results(scale_in(poll), counts)
    return ScaleDetail(
        points=found.points,
        low_label=found.low,
        high_label=found.high,
        responses=found.responses,
        average=found.average,
        median=found.median,
        histogram=[ScaleBucket(b.value, b.count, b.percent) for b in found.histogram],
    )


async def rating_of(poll_id: int, user_id: int) -> int | None:
    """The person's rating in this poll, if they gave one."""
    rows = await Poll.raw(RATING_SQL, poll_id, user_id)
    return int(rows[0]["rating"]) if rows else None
