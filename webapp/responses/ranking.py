"""A ranking's responses: one complete order per person (`ranking_response`, keyed (poll,
user), the option ids best first), and a running count per option and position
(`ranking_count`), moved in the same transaction: the old order's places down one, the new
order's up one (an upsert: a place's row comes with its first count)."""

from __future__ import annotations

from typing import Any

from webapp.kinds.ranking import RANKING_SQL, order_of, parse
from webapp.questions.ranking import check_ranking
from webapp.responses import Change
from webapp.tables import Poll

FIELD = "order"
OPTIONS_SQL = 'SELECT id FROM poll_option WHERE poll = {} ORDER BY "position", id'
INSERT_SQL = 'INSERT INTO ranking_response (poll, "user", ranking) VALUES ({}, {}, {})'
UPDATE_SQL = 'UPDATE ranking_response SET ranking = {} WHERE poll = {} AND "user" = {}'
DELETE_SQL = 'DELETE FROM ranking_response WHERE poll = {} AND "user" = {} RETURNING ranking'

Places = set[tuple[int, int]]  # (option, position from 1)


def _places(order: tuple[int, ...]) -> Places:
    return {(option, position) for position, option in enumerate(order, start=1)}


def _whole(value: object) -> object:
    """JSON's 3.0 is the id 3, as for every other id in a body (fields.INTEGRAL)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


async def _move(poll_id: int, down: Places, up: Places) -> None:
    """Two statements whatever the number of options: one decrement (each of those places
    counted this person's old order, so its row is there) and one upsert."""
    if down:
        match = " OR ".join('("option" = {} AND "position" = {})' for _ in down)
        await Poll.raw(
            f"UPDATE ranking_count SET count = count - 1 WHERE poll = {{}} AND ({match})",
            poll_id,
            *(part for place in sorted(down) for part in place),
        )
    if up:
        rows = ", ".join("({}, {}, {}, 1)" for _ in up)
        await Poll.raw(
            f'INSERT INTO ranking_count (poll, "option", "position", count) VALUES {rows}'
            ' ON CONFLICT ("option", "position") DO UPDATE SET count = ranking_count.count + 1',
            *(part for option, position in sorted(up) for part in (poll_id, option, position)),
        )


async def put(poll: dict[str, Any], user_id: int, value: object, has_ballot: bool) -> Change:
    """Rank (or rerank) every option: 422 naming `order`, or the element at fault
    (`order[2]`), for a foreign id, a repeat or a missing option."""
    poll_id = poll["id"]
    options = [row["id"] for row in await Poll.raw(OPTIONS_SQL, poll_id)]
    sent = [_whole(item) for item in value] if isinstance(value, list) else value
    order = check_ranking(options, sent, FIELD)
    rows = await Poll.raw(RANKING_SQL, poll_id, user_id)
    old = parse(rows[0]["ranking"]) if rows else None
    if old == order:
        return Change(False)
    stored = ",".join(str(option) for option in order)
    if old is None:
        await Poll.raw(INSERT_SQL, poll_id, user_id, stored)
    else:
        await Poll.raw(UPDATE_SQL, stored, poll_id, user_id)
    before = _places(old) if old is not None else set()
    after = _places(order)
    await _move(poll_id, before - after, after - before)
    return Change(True, 0 if old is not None or has_ballot else 1)


async def withdraw(poll: dict[str, Any], user_id: int) -> Change:
    rows = await Poll.raw(DELETE_SQL, poll["id"], user_id)
    if not rows:
        return Change(False)
    await _move(poll["id"], _places(parse(rows[0]["ranking"])), set())
    return Change(True, -1)


async def mine(poll_id: int, user_id: int) -> list[int] | None:
    return await order_of(poll_id, user_id)
