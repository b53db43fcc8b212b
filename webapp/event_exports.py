"""An event's copy and its export (#14): the questions duplicated as drafts, and the results
of every question in one file, CSV or JSON, at any time (also while the event runs).

An event's export is its questions' own exports (webapp/exports.py), in order: options,
votes, percentages (the share of voters) and ballots by kind; never who voted, nor anybody's
email.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime

from webapp import clock, events, exports, polls
from webapp.db import shielded
from webapp.events import EventView
from webapp.exports import PollExport
from webapp.inputs.events import EventCreate
from webapp.serialize import to_json
from webapp.tables import EventMode


@dataclass
class ExportedQuestion:
    number: int  # 1 for the first question, in the event's order
    poll: PollExport  # the poll's own export (webapp/exports.py)


@dataclass
class EventExport:
    event_id: int
    title: str
    join_code: str
    mode: EventMode
    exported_at: datetime
    questions: list[ExportedQuestion] = field(default_factory=list)


async def export_event(event_id: int, user_id: int) -> EventExport:
    """Every question's export, in the event's order (the owner only)."""
    event = await events.owned_event(event_id, user_id)
    export = EventExport(event.id, event.title, event.join_code, event.mode, clock.now())
    for number, question in enumerate(event.questions, 1):
        poll = await exports.export_poll(question.poll_id, user_id)
        export.questions.append(ExportedQuestion(number, poll))
    return export


CSV_HEADER = [
    "question_number",
    "poll_id",
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


def as_csv(export: EventExport) -> str:
    """One row per option of every question; text cells never read as formulas."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for question in export.questions:
        poll = question.poll
        for option in poll.options:
            writer.writerow(
                [
                    question.number,
                    poll.poll_id,
                    exports.cell(poll.question),
                    exports.cell(option.text),
                    option.votes,
                    option.percent,
                    poll.voters,
                    poll.total_votes,
                    poll.ballots.account,
                    poll.ballots.guest,
                    poll.ballots.code,
                    poll.closed_at.isoformat() if poll.closed_at else "",
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
