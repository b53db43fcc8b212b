"""An event's copy and its export (#14): the questions duplicated as drafts, and the results
of every question in one file, CSV or JSON, at any time (also while the event runs).

An export holds counts only: options, votes, percentages (the share of voters, as the
results show them) and ballots by kind; never who voted, nor anybody's email.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime

from webapp import events, polls
from webapp.db import shielded
from webapp.events import EventView
from webapp.inputs.events import EventCreate
from webapp.serialize import to_json
from webapp.tables import Ballot, BallotKind, EventMode


@dataclass
class ExportedOption:
    text: str
    votes: int
    percent: int


@dataclass
class ExportedQuestion:
    number: int
    poll_id: int
    question: str
    allows_multiple: bool
    closed_at: datetime | None
    voters: int
    total_votes: int
    options: list[ExportedOption]
    ballots: dict[str, int]  # by kind: account, guest, code


@dataclass
class EventExport:
    event_id: int
    title: str
    join_code: str
    mode: EventMode
    exported_at: datetime
    questions: list[ExportedQuestion] = field(default_factory=list)


async def _ballots(poll_ids: list[int]) -> dict[int, dict[str, int]]:
    counts = {poll_id: {kind.value: 0 for kind in BallotKind} for poll_id in poll_ids}
    if not poll_ids:
        return counts
    marks = ", ".join("{}" for _ in poll_ids)
    rows = await Ballot.raw(
        f"SELECT poll, kind, count(*) AS n FROM ballot WHERE poll IN ({marks}) GROUP BY poll, kind",
        *poll_ids,
    )
    for row in rows:
        counts[int(row["poll"])][str(row["kind"])] = int(row["n"])
    return counts


async def export_event(event_id: int, user_id: int) -> EventExport:
    """Every question's results, as its owner sees them (the owner only)."""
    event = await events.owned_event(event_id, user_id)
    ballots = await _ballots([q.poll_id for q in event.questions])
    export = EventExport(event.id, event.title, event.join_code, event.mode, datetime.now(UTC))
    for number, question in enumerate(event.questions, 1):
        poll = await polls.get_poll(question.poll_id, user_id)
        results = await polls.results_for(question.poll_id, user_id)
        export.questions.append(
            ExportedQuestion(
                number=number,
                poll_id=poll.id,
                question=poll.question,
                allows_multiple=poll.allows_multiple,
                closed_at=poll.closed_at,
                voters=results.voters or 0,
                total_votes=results.total_votes or 0,
                options=[
                    ExportedOption(o.text, o.votes or 0, o.percent or 0) for o in results.options
                ],
                ballots=ballots[poll.id],
            )
        )
    return export


CSV_HEADER = [
    "question_number",
    "question",
    "option",
    "votes",
    "percent",
    "voters",
    "total_votes",
    "ballots_account",
    "ballots_guest",
    "ballots_code",
    "closed_at",
]


def _cell(text: str) -> str:
    """Text as a spreadsheet shows it, never as a formula it would run (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def as_csv(export: EventExport) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for q in export.questions:
        for option in q.options:
            writer.writerow(
                [
                    q.number,
                    _cell(q.question),
                    _cell(option.text),
                    option.votes,
                    option.percent,
                    q.voters,
                    q.total_votes,
                    q.ballots.get("account", 0),
                    q.ballots.get("guest", 0),
                    q.ballots.get("code", 0),
                    q.closed_at.isoformat() if q.closed_at else "",
                ]
            )
    return out.getvalue()


def as_json(export: EventExport) -> str:
    return to_json(export)


@shielded
async def duplicate_event(event_id: int, user_id: int, title: str | None = None) -> EventView:
    """A new event with the same settings (no window) and a draft copy of every question."""
    event = await events.owned_event(event_id, user_id)
    copies: list[int] = []
    try:
        for question in event.questions:
            copy = await polls.duplicate_poll(question.poll_id, user_id)  # a draft
            copies.append(copy.id)
        new_title = (title or f"{event.title} (copy)")[:200]
        data = EventCreate(title=new_title, mode=event.mode.value, poll_ids=copies)
        return await events.create_event(user_id, data)
    except Exception:
        for poll_id in copies:  # nothing half-copied left behind
            await polls.delete_poll(poll_id, user_id)
        raise
