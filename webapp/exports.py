"""A poll's export (#14): its question, options, counts, percentages, voters and ballots by
kind, at any time (also while votes arrive), as JSON or CSV.

Counts only: never who voted, never anybody's email or name (the creator's own name is not
in it either: the file is about the votes), but for what the results show everyone: a
question type's entries (#15) as its `detail` has them (a word, an approved answer, a Q&A
question with its asker's name unless it was asked anonymously). The counts, voters, seq
and ballots come from one statement, so they agree with each other even while votes are
being written.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from webapp import clock, kinds
from webapp.errors import Forbidden, NotFound
from webapp.kinds.details import (
    Detail,
    OpenTextDetail,
    RankingDetail,
    ScaleDetail,
    WordCloudDetail,
)
from webapp.polls import poll_row
from webapp.results import OPTION_COLUMNS, PollState, as_of, state_of
from webapp.serialize import to_json
from webapp.tables import BallotKind, PollOption


@dataclass
class ExportedOption:
    id: int
    text: str
    votes: int
    percent: int  # the share of voters, as the results show it


@dataclass
class ExportBallots:
    """Ballots by how their voter got in: a signed-in account, a guest, an invite code."""

    account: int
    guest: int
    code: int


@dataclass
class PollExport:
    """A poll's results as its creator sees them, at `exported_at` (the server's clock)."""

    poll_id: int
    question: str
    allows_multiple: bool
    voting: str
    state: PollState
    opens_at: datetime | None
    closes_at: datetime | None
    closed_at: datetime | None
    seq: int
    voters: int
    total_votes: int
    options: list[ExportedOption]
    ballots: ExportBallots
    exported_at: datetime
    # The question type, and for a type other than choice its results as its creator sees
    # them (the same body as the results' `detail`): options are then empty.
    kind: str = "choice"
    detail: Detail | None = None


_KINDS = ", ".join(
    f"(SELECT count(*) FROM ballot b WHERE b.poll = p.id AND b.kind = '{kind.value}')"
    f" AS ballots_{kind.value}"
    for kind in BallotKind
)
# One statement, one snapshot: counts, voters, seq and ballots agree.
EXPORT_SQL = (
    f"SELECT {OPTION_COLUMNS}, p.voters, p.seq, p.closed_at, p.closes_at, p.opens_at,"
    f" p.is_published, {_KINDS}"
    " FROM poll p LEFT JOIN poll_option o ON o.poll = p.id"
    ' WHERE p.id = {} ORDER BY o."position"'
)


async def export_poll(poll_id: int, user_id: int) -> PollExport:
    """The poll's export: its creator's only (others get 403, others' drafts 404)."""
    row = await poll_row(poll_id, user_id)
    if row["creator"] != user_id:
        raise Forbidden("Only the poll's creator can export its results.")
    now = clock.now()
    rows = await PollOption.raw(EXPORT_SQL, poll_id)
    if not rows:
        raise NotFound("No such poll.")
    counted = as_of(dict(rows[0]), now)
    voters = int(counted["voters"])
    options = [
        ExportedOption(
            id=int(option["option_id"]),
            text=str(option["option_text"]),
            votes=int(option["option_votes"]),
            percent=round(int(option["option_votes"]) * 100 / voters) if voters else 0,
        )
        for option in rows
        if option["option_id"] is not None
    ]
    return PollExport(
        poll_id=poll_id,
        question=row["question"],
        allows_multiple=bool(row["allows_multiple"]),
        voting=str(row["voting"]),
        state=state_of({**row, "closed_at": counted["closed_at"]}, now),
        opens_at=counted["opens_at"],
        closes_at=counted["closes_at"],
        closed_at=counted["closed_at"],
        seq=int(counted["seq"]),
        voters=voters,
        total_votes=sum(option.votes for option in options),
        options=options,
        ballots=ExportBallots(
            **{kind.value: int(counted[f"ballots_{kind.value}"]) for kind in BallotKind}
        ),
        exported_at=now,
        kind=str(row["kind"]),
        detail=await kinds.detail(row),
    )


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(text: str) -> str:
    """Text as a spreadsheet shows it, never as a formula it would run (CSV injection)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _lines(export: PollExport) -> list[tuple[object, str, object, object]]:
    """What the CSV has a row for: each option of a choice poll; for another type, each of
    its results' entries: (id, text, count, percent)."""
    detail = export.detail
    if detail is None:
        return [(o.id, o.text, o.votes, o.percent) for o in export.options]
    if isinstance(detail, ScaleDetail):
        return [(b.value, str(b.value), b.count, b.percent) for b in detail.histogram]
    if isinstance(detail, WordCloudDetail):
        return [(w.key, w.text, w.count, "") for w in detail.words]
    if isinstance(detail, RankingDetail):
        return [(o.id, o.text, o.points, o.percent) for o in detail.options]
    if isinstance(detail, OpenTextDetail):
        return [(a.id, a.text, "", "") for a in detail.answers]
    return [(q.id, q.text, q.upvotes, "") for q in detail.questions]


CSV_HEADER = [
    "poll_id",
    "question",
    "option_id",
    "option",
    "votes",
    "percent",
    "voters",
    "total_votes",
    "ballots_account",
    "ballots_guest",
    "ballots_code",
    "state",
    "opens_at",
    "closes_at",
    "closed_at",
    "exported_at",
]


def _time(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def as_csv(export: PollExport) -> str:
    """One row per option (for another type: per value, word, option, answer or question;
    its count in `votes`: ratings, answers, Borda points or upvotes), the poll's figures
    repeated on each (a sheet filters by row)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for line_id, text, count, percent in _lines(export):
        writer.writerow(
            [
                export.poll_id,
                cell(export.question),
                line_id,
                cell(text),
                count,
                percent,
                export.voters,
                export.total_votes,
                export.ballots.account,
                export.ballots.guest,
                export.ballots.code,
                export.state,
                _time(export.opens_at),
                _time(export.closes_at),
                _time(export.closed_at),
                _time(export.exported_at),
            ]
        )
    return out.getvalue()


def as_json(export: PollExport) -> str:
    return to_json(export)


def filename(export: PollExport, extension: str) -> str:
    """A download's name: ASCII only, from the id and the time (no question text in it)."""
    stamp = export.exported_at.strftime("%Y%m%dT%H%M%SZ")
    return f"poll-{export.poll_id}-results-{stamp}.{extension}"


def attachment(name: str) -> str:
    """The Content-Disposition of a download named `name` (ASCII, no quotes: see filename)."""
    return f'attachment; filename="{name}"'
