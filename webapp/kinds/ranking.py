"""A ranking's results: the Borda count of its running count per option and position
(`ranking_count`), never a scan of the rankings themselves."""

from __future__ import annotations

from typing import Any

from webapp.kinds.details import RankedOptionView, RankingDetail
from webapp.questions.ranking import ranking_results
from webapp.tables import Poll

# Every option in the poll's order, with its counts per position (none yet: one null row).
COUNTS_SQL = (
    'SELECT o.id, o.text, c."position", c.count FROM poll_option o'
    ' LEFT JOIN ranking_count c ON c."option" = o.id WHERE o.poll = {} ORDER BY o."position", o.id'
)
RANKING_SQL = 'SELECT ranking FROM ranking_response WHERE poll = {} AND "user" = {}'


def parse(stored: str) -> tuple[int, ...]:
    """A stored ranking ("3,1,2", best first) as option ids."""
    return tuple(int(part) for part in stored.split(","))


async def detail(poll: dict[str, Any]) -> RankingDetail:
    rows = await Poll.raw(COUNTS_SQL, poll["id"])
    texts: dict[int, str] = {}
    for row in rows:
        texts.setdefault(row["id"], row["text"])
    positions = {option: [0] * len(texts) for option in texts}
    for row in rows:
        if row["position"] is not None and row["position"] <= len(texts):
            positions[row["id"]][row["position"] - 1] = row["count"]
    found = ranking_results(list(texts), positions)
    return RankingDetail(
        rankings=found.rankings,
        options=[
            RankedOptionView(
                id=option.id,
                text=texts[option.id],
                points=option.points,
                rank=option.rank,
                tied=option.tied,
                percent=option.percent,
                positions=list(option.positions),
                average_position=option.average_position,
            )
            for option in found.options
        ],
        explanation=found.explanation,
    )


async def order_of(poll_id: int, user_id: int) -> list[int] | None:
    """The person's ranking in this poll (option ids, best first), if they gave one."""
    rows = await Poll.raw(RANKING_SQL, poll_id, user_id)
    return list(parse(rows[0]["ranking"])) if rows else None
