"""A poll's results: counted from the running totals, then shown or withheld per viewer.

Counts come from `poll_option.votes` (kept by every vote) and `poll.voters`/`seq`, never from
a scan of the votes. Three statements read them, each fetching what its caller needs in one
round trip: `TALLY_SQL` here (one poll, for the results and the live updates), `OPTIONS_SQL`
in webapp/polls.py (the options of several polls, for poll pages and lists) and `LOCKED_SQL`
in webapp/votes.py (with the voter's choices, under the poll's lock). All three select the
option columns as `OPTION_COLUMNS` names them, and `tally_of` is the one place rows become a
`Tally`. `visible_to` is the one visibility rule and `present` the one place counts are
hidden: the API, the pages and the live messages all show a `Results` it built.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from webapp import clock, kinds
from webapp.kinds.details import KIND_COLUMNS, Detail
from webapp.tables import Ballot, Kind, PollOption, ResultsVisibility, Vote

PollState = Literal["draft", "scheduled", "open", "closed"]


@dataclass
class OptionResult:
    id: int
    text: str
    votes: int | None
    percent: int | None


@dataclass
class Results:
    """What one viewer may see; with visible false the counts are null.

    `responses` (how many people have voted) is always there, so a screen that may not show
    the counts can still show that votes are coming in; `audience_sees` says whether people
    who have not voted (the audience, the presenter screen) see the counts now.
    """

    poll_id: int
    options: list[OptionResult]
    total_votes: int | None
    voters: int | None
    seq: int
    closed: bool
    visible: bool
    responses: int = 0
    audience_sees: bool = True
    # What the poll asks for; a kind other than choice has its results in `detail` (null
    # while they are hidden from this viewer, as the counts are), and no options.
    kind: Kind = Kind.choice
    detail: Detail | None = None


@dataclass(frozen=True)
class Tally:
    poll_id: int
    seq: int
    closed: bool
    voters: int
    options: tuple[tuple[int, str, int], ...]
    kind: Kind = Kind.choice
    detail: Detail | None = None  # the results of a kind other than choice (webapp/kinds/)

    @property
    def total_votes(self) -> int:
        return sum(votes for _, _, votes in self.options)


# The option columns every counts reader selects (from `poll_option o`), by these names.
OPTION_COLUMNS = "o.id AS option_id, o.text AS option_text, o.votes AS option_votes"

# Plain SQL, the same on PostgreSQL and SQLite: every vote and every live update runs it, and
# Piccolo's query builder cost more CPU (joins through a foreign key) than the database did.
# A poll of a kind without options gives one row, with the option columns null.
TALLY_SQL = (
    f"SELECT {OPTION_COLUMNS}, p.id, p.voters, p.seq, p.closed_at, p.closes_at, p.is_published,"
    f" {', '.join('p.' + name for name in KIND_COLUMNS)}"
    " FROM poll p LEFT JOIN poll_option o ON o.poll = p.id"
    " WHERE p.id = {} ORDER BY o.position"
)


def as_of(poll: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """The poll row (changed in place) as it stands at `now` (the clock's): a published poll
    past its `closes_at` is closed, with `closed_at` = `closes_at`, whether or not the
    scheduler has written that yet. Every reader of a poll row goes through here, so the
    pages, the API, the results and the live messages agree with the vote check."""
    closes = poll.get("closes_at")
    pending = poll.get("closed_at") is None and poll.get("is_published", True)
    if pending and closes is not None and closes <= (now or clock.now()):
        poll["closed_at"] = closes
    return poll


def state_of(poll: dict[str, Any], now: datetime | None = None) -> PollState:
    """draft, scheduled (published, before `opens_at`), open or closed, at `now`."""
    now = now or clock.now()
    as_of(poll, now)
    if not poll["is_published"]:
        return "draft"
    if poll["closed_at"] is not None:
        return "closed"
    opens = poll.get("opens_at")
    return "scheduled" if opens is not None and opens > now else "open"


def tally_of(
    poll: dict[str, Any], option_rows: Iterable[dict[str, Any]], detail: Detail | None = None
) -> Tally:
    """The tally of a poll row (`id`, `seq`, `voters`, `closed_at`, `kind`) and its option
    rows (as OPTION_COLUMNS names them, in position order), with a kind's `detail`."""
    return Tally(
        poll_id=poll["id"],
        seq=poll["seq"],
        closed=poll["closed_at"] is not None,
        voters=poll["voters"],
        options=tuple(
            (row["option_id"], row["option_text"], row["option_votes"])
            for row in option_rows
            if row["option_id"] is not None
        ),
        kind=Kind(poll.get("kind", Kind.choice)),
        detail=detail,
    )


async def tally(poll_id: int) -> Tally | None:
    """Counts, voters and seq from one statement, so they agree; a kind other than choice
    reads its own results after (webapp/kinds/), at the seq read here or a later one."""
    rows = await PollOption.raw(TALLY_SQL, poll_id)
    if not rows:
        return None
    poll = as_of(rows[0])
    return tally_of(poll, rows, await kinds.detail(poll))


def counted(counts: Tally, *, added: int | None, removed: Iterable[int], voters: int) -> Tally:
    """The tally after a change made under the poll's lock: the counts read at its start,
    moved by what the change did (no second read)."""
    gone = set(removed)
    return dataclasses.replace(
        counts,
        seq=counts.seq + 1,
        voters=counts.voters + voters,
        options=tuple(
            (option_id, text, votes + (option_id == added) - (option_id in gone))
            for option_id, text, votes in counts.options
        ),
    )


def present(counts: Tally, visible: bool, audience_sees: bool | None = None) -> Results:
    """The counts as one viewer may see them. An option's percent is its share of the
    voters (in a single-choice poll that is its share of the votes; in a multiple-choice
    poll one voter choosing two options counts fully for each, and the shares may add up
    to more than 100)."""
    voters = counts.voters
    return Results(
        poll_id=counts.poll_id,
        options=[
            OptionResult(
                id=option_id,
                text=text,
                votes=votes if visible else None,
                percent=(round(votes * 100 / voters) if voters else 0) if visible else None,
            )
            for option_id, text, votes in counts.options
        ],
        total_votes=counts.total_votes if visible else None,
        voters=counts.voters if visible else None,
        seq=counts.seq,
        closed=counts.closed,
        visible=visible,
        responses=counts.voters,
        audience_sees=visible if audience_sees is None else audience_sees,
        kind=counts.kind,
        detail=counts.detail if visible else None,
    )


def audience_sees(poll: dict[str, Any]) -> bool:
    """Whether someone who has not voted, the room looking at the projector, sees the counts."""
    return visible_to(poll, None, has_voted=False)


def needs_vote_check(poll: dict[str, Any], viewer_id: int | None) -> bool:
    """Whether visibility for this viewer depends on whether they have voted."""
    return (
        viewer_id is not None
        and viewer_id != poll["creator"]
        and not poll["results_hidden"]
        and poll["results_visibility"] == ResultsVisibility.after_vote
    )


def visible_to(poll: dict[str, Any], viewer_id: int | None, has_voted: bool) -> bool:
    """The creator always sees the counts on their own screen; everyone else per the poll's
    rule, unless the presenter's hide toggle hides them. The presenter screen is projected to
    the room, so it shows what the audience sees (viewer None): see `audience_sees`."""
    if viewer_id is not None and viewer_id == poll["creator"]:
        return True
    if poll["results_hidden"]:
        return False
    rule = poll["results_visibility"]
    if rule == ResultsVisibility.after_vote:
        # Once voting has closed there is nothing left to sway: everyone may see them.
        return has_voted or poll["closed_at"] is not None
    if rule == ResultsVisibility.after_close:
        return poll["closed_at"] is not None
    return True


CHOICES_SQL = 'SELECT "option" FROM vote WHERE "user" = {} AND poll = {}'


async def choices_in(user_id: int, poll_id: int) -> list[int]:
    """The options the user has a vote on in this poll, in id order."""
    rows = await Vote.raw(CHOICES_SQL, user_id, poll_id)
    return sorted(row["option"] for row in rows)


async def voted_in(user_id: int, poll_ids: Iterable[int]) -> set[int]:
    """Which of these polls the user has a vote (or a response of another kind) in: their
    ballot there, open while they have one."""
    ids = list(poll_ids)
    if not ids:
        return set()
    rows = await Ballot.select(Ballot.poll).where(Ballot.user == user_id, Ballot.poll.is_in(ids))
    return {row["poll"] for row in rows}


async def voters_among(poll_id: int, user_ids: Iterable[int]) -> frozenset[int]:
    """Which of these users have a ballot in the poll (one query for a whole audience)."""
    ids = list(user_ids)
    if not ids:
        return frozenset()
    rows = await Ballot.select(Ballot.user).where(Ballot.poll == poll_id, Ballot.user.is_in(ids))
    return frozenset(row["user"] for row in rows)
