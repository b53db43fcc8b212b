"""Polls: create, read, list, edit, publish, close, schedule, reset, duplicate, delete;
join codes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from webapp import clock, kinds, notices, schedule
from webapp.db import is_postgres, shielded, write_transaction
from webapp.errors import Conflict, Forbidden, Invalid, NotFound
from webapp.inputs.polls import PollCreate, PollUpdate, voting_for
from webapp.questions.kinds import CHOICE, MODERATED, WITH_OPTIONS, KindSettings, settings_of
from webapp.questions.ranking import OPTIONS_MAX as RANKING_OPTIONS_MAX
from webapp.questions.scale import Scale
from webapp.results import (
    OPTION_COLUMNS,
    PollState,
    Results,
    as_of,
    audience_sees,
    choices_in,
    needs_vote_check,
    present,
    state_of,
    tally,
    tally_of,
    visible_to,
    voted_in,
)
from webapp.tables import Ballot, Kind, Poll, PollOption, ResultsVisibility, User, Vote, Voting

# Short codes people read aloud and type on phones: no 0/O, 1/I/L.
JOIN_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
JOIN_LENGTH = 6


@dataclass
class OptionView:
    id: int
    text: str
    position: int
    votes: int | None


@dataclass
class CreatorView:
    id: int
    name: str


@dataclass
class ScaleView:
    points: int  # ratings are 1 .. points
    low_label: str
    high_label: str


@dataclass
class PollView:
    id: int
    question: str
    kind: Kind  # what the poll asks for (docs/question_types.md)
    is_published: bool
    allows_multiple: bool
    answers_per_person: int | None  # word_cloud: how many answers each person may give
    scale: ScaleView | None  # scale: its points and end labels
    premoderated: bool  # open_text, qa: new entries wait for the owner's approval
    allows_anonymous: bool  # qa: askers may hide their name
    voting: Voting
    allows_guests: bool  # voting == "guests" (kept for API clients written before `voting`)
    guest_network_cap: int
    results_visibility: ResultsVisibility
    results_hidden: bool
    results_visible: bool
    join_code: str | None
    closed_at: datetime | None  # when voting closed (by hand, or at closes_at)
    opens_at: datetime | None  # voting opens then (null: on publishing)
    closes_at: datetime | None  # voting closes then (null: when closed by hand)
    state: PollState  # draft, scheduled (before opens_at), open or closed, by the server's clock
    created_at: datetime
    updated_at: datetime
    creator: CreatorView
    options: list[OptionView]
    total_votes: int | None
    voters: int | None


@dataclass
class PollPage:
    items: list[PollView]
    next_cursor: str | None


class Unset(Enum):
    """A field left out of a change (None clears a schedule's time instead)."""

    UNSET = "unset"


UNSET = Unset.UNSET
When = datetime | None | Unset


@dataclass
class PollChanges:
    question: str | None = None
    options: list[str] | None = None
    allows_multiple: bool | None = None
    voting: Voting | None = None
    # The older flag for `voting`: true is guests; false leaves accounts or invite codes as
    # they are and turns guests into accounts.
    allows_guests: bool | None = None
    guest_network_cap: int | None = None
    results_visibility: ResultsVisibility | None = None
    results_hidden: bool | None = None
    is_published: bool | None = None
    closed: bool | None = None
    opens_at: When = UNSET
    closes_at: When = UNSET
    # A draft's whole kind settings, as the form sends them again (the kind itself is fixed).
    settings: KindSettings | None = None
    premoderated: bool | None = None  # open_text, qa: at any time
    allows_anonymous: bool | None = None  # qa: at any time (questions asked stay as asked)

    @property
    def reschedules(self) -> bool:
        return self.opens_at is not UNSET or self.closes_at is not UNSET


# Every table of the other kinds' responses and counts (they all have a `poll` column).
RESPONSE_TABLES = (
    "scale_rating",
    "scale_count",
    "word_answer",
    "word_count",
    "ranking_response",
    "ranking_count",
    "text_answer",
    "qa_question",
    "question_view",
)

POLL_COLUMNS = (
    Poll.id,
    Poll.question,
    Poll.is_published,
    Poll.allows_multiple,
    Poll.voting,
    Poll.guest_network_cap,
    Poll.results_visibility,
    Poll.results_hidden,
    Poll.join_code,
    Poll.closed_at,
    Poll.opens_at,
    Poll.closes_at,
    Poll.created_at,
    Poll.updated_at,
    Poll.creator,
    Poll.voters,
    Poll.seq,
    Poll.kind,
    Poll.answers_per_person,
    Poll.scale_points,
    Poll.scale_low,
    Poll.scale_high,
    Poll.premoderated,
    Poll.allows_anonymous,
)


# One poll by id, in plain SQL: every vote, read and live update runs it, and building it with
# Piccolo's query builder cost more CPU than the database's work.
POLL_NAMES = tuple(column._meta.db_column_name for column in POLL_COLUMNS)
POLL_ROW_SQL = f"SELECT {', '.join(POLL_NAMES)} FROM poll WHERE id = {{}}"


async def load_row(poll_id: int, *, lock: bool = False) -> dict[str, Any] | None:
    # SQLite's IMMEDIATE transaction already holds the write lock; PostgreSQL locks the row.
    sql = POLL_ROW_SQL + " FOR UPDATE" if lock and is_postgres() else POLL_ROW_SQL
    rows = await Poll.raw(sql, poll_id)
    return as_of(rows[0]) if rows else None


async def poll_row(poll_id: int, viewer_id: int | None, *, lock: bool = False) -> dict[str, Any]:
    """The poll's row, as this viewer may see it: a draft is visible only to its creator."""
    row = await load_row(poll_id, lock=lock)
    if row is None or (not row["is_published"] and row["creator"] != viewer_id):
        raise NotFound("No such poll.")
    return row


_CODE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def normalize_code(code: str) -> str:
    """A code as people type it (any case, dashes, spaces) in its stored form."""
    return "".join(char for char in code.upper()[:64] if char in _CODE_CHARS)[:32]


async def poll_id_for_code(code: str) -> int:
    """The published poll a join code opens."""
    normalized = normalize_code(code)
    row = (
        await Poll.select(Poll.id)
        .where(Poll.join_code == normalized, Poll.is_published == True)  # noqa: E712
        .first()
    )
    if row is None:
        raise NotFound("No poll has this join code.")
    return int(row["id"])


async def _new_join_code() -> str:
    while True:
        code = "".join(secrets.choice(JOIN_ALPHABET) for _ in range(JOIN_LENGTH))
        if not await Poll.exists().where(Poll.join_code == code):
            return code


# Plain SQL, as for POLL_ROW_SQL: every read of a poll runs these.
OPTIONS_SQL = (
    f"SELECT {OPTION_COLUMNS}, o.poll FROM poll_option o"
    ' WHERE o.poll IN ({}) ORDER BY o.poll, o."position"'
)
NAMES_SQL = "SELECT id, name FROM app_user WHERE id IN ({})"


def _marks(values: list[Any]) -> str:
    """Placeholders for an IN list (Piccolo turns each {} into $n or ?)."""
    return ", ".join("{}" for _ in values)


@dataclass
class Seen:
    """A poll as one viewer sees it: the poll, its results and the viewer's own choices."""

    poll: PollView
    results: Results
    mine: list[int]
    response: Any = None  # a kind other than choice: the viewer's own response, if any


async def _seen(
    rows: list[dict[str, Any]], viewer_id: int | None, voted: set[int] | None = None
) -> list[tuple[PollView, Results]]:
    """Each poll row with its options, creator and results, as this viewer may see them, in
    three statements for any number of polls (`voted`: the polls the viewer is known to have
    voted in, which spares asking)."""
    if not rows:
        return []
    ids = [row["id"] for row in rows]
    option_rows = await PollOption.raw(OPTIONS_SQL.format(_marks(ids)), *ids)
    creators = list({row["creator"] for row in rows})
    users = await User.raw(NAMES_SQL.format(_marks(creators)), *creators)
    names = {user["id"]: user["name"] for user in users}
    if voted is None:
        check = [row["id"] for row in rows if needs_vote_check(row, viewer_id)]
        voted = await voted_in(viewer_id, check) if viewer_id is not None else set()
    seen = []
    for row in rows:
        visible = visible_to(row, viewer_id, row["id"] in voted)
        own = [o for o in option_rows if o["poll"] == row["id"]]
        detail = await kinds.detail(row)  # None for a choice poll: no statement
        results = present(tally_of(row, own, detail), visible, audience_sees(row))
        seen.append((view_of(row, results, names.get(row["creator"], "")), results))
    return seen


def view_of(row: dict[str, Any], results: Results, creator_name: str) -> PollView:
    """A poll row with its results as one viewer sees them: what the API returns and what
    the pages' templates (and the fragments the live hub pushes) render. The options come
    in position order, and positions are 0, 1, 2... (`_insert_options` writes them so)."""
    return PollView(
        id=row["id"],
        question=row["question"],
        kind=Kind(row["kind"]),
        is_published=row["is_published"],
        allows_multiple=row["allows_multiple"],
        answers_per_person=row["answers_per_person"],
        scale=scale_of(row),
        premoderated=bool(row["premoderated"]),
        allows_anonymous=bool(row["allows_anonymous"]),
        voting=Voting(row["voting"]),
        allows_guests=row["voting"] == Voting.guests,
        guest_network_cap=row["guest_network_cap"] or 0,
        results_visibility=ResultsVisibility(row["results_visibility"]),
        results_hidden=row["results_hidden"],
        results_visible=results.visible,
        join_code=row["join_code"],
        closed_at=row["closed_at"],
        opens_at=row["opens_at"],
        closes_at=row["closes_at"],
        state=state_of(row),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        creator=CreatorView(row["creator"], creator_name),
        options=[
            OptionView(option.id, option.text, position, option.votes)
            for position, option in enumerate(results.options)
        ],
        total_votes=results.total_votes,
        voters=results.voters,
    )


def settings_in(row: dict[str, Any]) -> KindSettings:
    """A stored poll's kind and settings."""
    scale = None
    if row["kind"] == Kind.scale:
        scale = Scale(row["scale_points"], row["scale_low"] or "", row["scale_high"] or "")
    return KindSettings(
        Kind(row["kind"]),
        row["answers_per_person"],
        scale,
        bool(row["premoderated"]),
        bool(row["allows_anonymous"]),
    )


def scale_of(row: dict[str, Any]) -> ScaleView | None:
    if row["kind"] != Kind.scale:
        return None
    return ScaleView(row["scale_points"], row["scale_low"] or "", row["scale_high"] or "")


async def creator_name(user_id: int) -> str:
    users = await User.raw(NAMES_SQL.format("{}"), user_id)
    return str(users[0]["name"]) if users else ""


async def _views(rows: list[dict[str, Any]], viewer_id: int | None) -> list[PollView]:
    return [view for view, _ in await _seen(rows, viewer_id)]


async def get_poll(poll_id: int, viewer_id: int | None) -> PollView:
    return (await read_poll(poll_id, viewer_id))[0]


async def read_poll(poll_id: int, viewer_id: int | None) -> tuple[PollView, int]:
    """The poll as this viewer sees it, and the seq it was read at."""
    row = await poll_row(poll_id, viewer_id)
    return (await _views([row], viewer_id))[0], int(row["seq"])


def etag(poll_id: int, seq: int, visible: bool) -> str:
    """A poll view's entity tag: every change to a poll moves its seq, and the rest of what
    a viewer sees is whether the counts are visible to them."""
    return f'"{poll_id}.{seq}.{"v" if visible else "h"}"'


async def seen_by(poll_id: int, viewer_id: int | None) -> Seen:
    """The poll, its results and the viewer's choices for a poll page: the poll's row read
    once (four statements in all)."""
    row = await poll_row(poll_id, viewer_id)
    choice = row["kind"] == Kind.choice
    mine = await choices_in(viewer_id, poll_id) if viewer_id is not None and choice else []
    # A choice poll's voter is one with choices; another kind's, one with a ballot.
    voted = ({poll_id} if mine else set()) if choice else None
    ((poll, results),) = await _seen([row], viewer_id, voted=voted)
    return Seen(poll, results, mine, None if choice else await kinds.mine(row, viewer_id))


async def results_for(poll_id: int, viewer_id: int | None, *, as_audience: bool = False) -> Results:
    """The results as this viewer may see them; `as_audience`, as the room sees them (the
    presenter screen), whoever opened it."""
    row = await poll_row(poll_id, viewer_id)
    counts = await tally(poll_id)
    if counts is None:
        raise NotFound("No such poll.")
    public = audience_sees(row)
    if as_audience:
        return present(counts, public, public)
    voted = needs_vote_check(row, viewer_id) and bool(await voted_in(viewer_id or 0, [poll_id]))
    return present(counts, visible_to(row, viewer_id, voted), public)


async def list_polls(
    viewer_id: int | None, *, mine: bool, limit: int, before_id: int | None
) -> PollPage:
    """Published polls (or, with mine, the viewer's own including drafts), newest first."""
    query = Poll.select(*POLL_COLUMNS).order_by(Poll.id, ascending=False).limit(limit + 1)
    if mine:
        query = query.where(Poll.creator == viewer_id)
    else:
        query = query.where(Poll.is_published == True)  # noqa: E712 (a Piccolo expression)
    if before_id is not None:
        query = query.where(Poll.id < before_id)
    rows = [as_of(row) for row in await query]
    next_cursor = str(rows[limit - 1]["id"]) if len(rows) > limit else None
    return PollPage(items=await _views(rows[:limit], viewer_id), next_cursor=next_cursor)


@shielded
async def create_from(data: PollCreate, creator_id: int, default_cap: int) -> PollView:
    """Create the poll sent (the API and the new-poll form both come through here)."""
    cap = default_cap if data.guest_network_cap is None else data.guest_network_cap
    return await create_poll(
        creator_id,
        data.question,
        data.options or [],
        settings=kind_settings(data),
        is_published=data.is_published,
        allows_multiple=data.allows_multiple,
        voting=data.voting_mode,
        guest_network_cap=cap,
        results_visibility=ResultsVisibility(data.results_visibility),
        opens_at=data.opens_at,
        closes_at=data.closes_at,
    )


def kind_settings(data: PollCreate) -> KindSettings:
    """The kind and its settings of a poll sent (checked: a 422 names a misplaced one)."""
    if Kind(data.kind) not in kinds.WIRED:
        raise Invalid("kind", f"{data.kind} polls are not available yet on this server.")
    scale = data.scale
    return settings_of(
        Kind(data.kind),
        options=data.options,
        allows_multiple=data.allows_multiple,
        answers_per_person=data.answers_per_person,
        scale=Scale(scale.points, scale.low_label, scale.high_label) if scale else None,
        premoderated=data.premoderated,
        allows_anonymous=data.allows_anonymous,
        results_visibility=data.results_visibility,
    )


def draft_changes(data: PollCreate) -> PollChanges:
    """A whole poll sent again, as an edit of a draft (publishing it if asked): the form."""
    return PollChanges(
        question=data.question,
        options=data.options,
        allows_multiple=data.allows_multiple,
        voting=data.voting_mode,
        guest_network_cap=data.guest_network_cap,
        results_visibility=ResultsVisibility(data.results_visibility),
        is_published=True if data.is_published else None,
        opens_at=data.opens_at,
        closes_at=data.closes_at,
        settings=kind_settings(data),
    )


def changes_of(data: PollUpdate) -> PollChanges:
    """The fields an edit sent (the API's PATCH), as the domain's change."""
    values = data.model_dump(exclude_unset=True)
    if "results_visibility" in values:
        values["results_visibility"] = ResultsVisibility(values["results_visibility"])
    if "voting" in values:
        values["voting"] = Voting(values["voting"])
    return PollChanges(**values)


async def create_poll(
    creator_id: int,
    question: str,
    options: list[str],
    *,
    settings: KindSettings = CHOICE,
    is_published: bool = False,
    allows_multiple: bool = False,
    voting: Voting = Voting.accounts,
    guest_network_cap: int = 100,
    results_visibility: ResultsVisibility = ResultsVisibility.always,
    opens_at: datetime | None = None,
    closes_at: datetime | None = None,
) -> PollView:
    opens_at, closes_at = in_utc(opens_at), in_utc(closes_at)
    check_window(opens_at, closes_at, closes_changed=closes_at is not None)
    async with write_transaction():
        poll = Poll(
            question=question,
            creator=creator_id,
            is_published=is_published,
            allows_multiple=allows_multiple,
            voting=voting,
            guest_network_cap=guest_network_cap,
            results_visibility=results_visibility,
            join_code=await _new_join_code() if is_published else None,
            opens_at=opens_at,
            closes_at=closes_at,
            kind=settings.kind,
            answers_per_person=settings.answers_per_person,
            scale_points=settings.scale.points if settings.scale else None,
            scale_low=settings.scale.low if settings.scale else None,
            scale_high=settings.scale.high if settings.scale else None,
            premoderated=settings.premoderated,
            allows_anonymous=settings.allows_anonymous,
        )
        await poll.save()
        if options:
            await _insert_options(poll.id, options)
    if opens_at is not None or closes_at is not None:
        schedule.wake()
    # A new poll starts from no live state in any process: an id can come round again (the
    # newest poll deleted on SQLite, or tables emptied under a running server, as the e2e
    # tests do), and a snapshot still held for reads of the old poll must not answer for it.
    notices.poll_changed(poll.id, None)
    return await get_poll(poll.id, creator_id)


def in_utc(value: Any) -> Any:
    """A schedule's time in UTC (SQLite compares the stored text: one offset for all)."""
    return value.astimezone(UTC) if isinstance(value, datetime) else value


def check_window(opens_at: When, closes_at: When, *, closes_changed: bool) -> None:
    """A schedule's times: closes_at after opens_at, and a new closes_at still ahead (to
    close now, close the poll). 422s that name the field."""
    if isinstance(closes_at, datetime):
        if isinstance(opens_at, datetime) and closes_at <= opens_at:
            raise Invalid("closes_at", "closes_at must be after opens_at.")
        if closes_changed and closes_at <= clock.now():
            raise Invalid(
                "closes_at", "closes_at has passed: close the poll instead, or pick a later time."
            )


async def _insert_options(poll_id: int, texts: list[str]) -> None:
    await PollOption.insert(
        *[PollOption(poll=poll_id, text=text, position=i) for i, text in enumerate(texts)]
    )


@shielded
async def update_poll(poll_id: int, user_id: int, changes: PollChanges) -> PollView:
    """Edit a draft; change settings; publish; close or reopen. Only the creator may."""
    async with write_transaction():
        row = await poll_row(poll_id, user_id, lock=True)
        if row["creator"] != user_id:
            raise Forbidden("Only the poll's creator can change it.")
        values = _apply(row, changes)
        if changes.options is not None:
            await PollOption.delete().where(PollOption.poll == poll_id)
            await _insert_options(poll_id, changes.options)
        if not values and changes.options is None:
            return await get_poll(poll_id, user_id)
        if values.get(Poll.is_published) and row["join_code"] is None:
            values[Poll.join_code] = await _new_join_code()
        # Also the scheduler's mark: an opening is still to announce while updated_at is
        # before opens_at (webapp/schedule.py).
        values[Poll.updated_at] = clock.now()
        values[Poll.seq] = Poll.seq + 1
        rows = await Poll.update(values).where(Poll.id == poll_id).returning(Poll.seq)
    notices.poll_changed(poll_id, int(rows[0]["seq"]))
    if changes.reschedules or Poll.is_published in values or Poll.closed_at in values:
        schedule.wake()
    return await get_poll(poll_id, user_id)


async def schedule_poll(
    poll_id: int, user_id: int, *, opens_at: When = UNSET, closes_at: When = UNSET
) -> PollView:
    """Set (a datetime), clear (None) or keep (UNSET) when voting opens and closes: the
    creator's, as in update_poll (a countdown is closes_at = now + its length)."""
    return await update_poll(poll_id, user_id, PollChanges(opens_at=opens_at, closes_at=closes_at))


def _apply(row: dict[str, Any], changes: PollChanges) -> dict[Any, Any]:
    values: dict[Any, Any] = {}
    edits_content = (
        changes.question is not None
        or changes.options is not None
        or changes.allows_multiple is not None
        or changes.settings is not None
    )
    if edits_content:
        if row["is_published"] or row["voters"]:
            raise Conflict("A poll's question and options can change only while it is a draft.")
        _check_kind(row, changes)
        if changes.question is not None:
            values[Poll.question] = changes.question
        if changes.allows_multiple is not None:
            values[Poll.allows_multiple] = changes.allows_multiple
        if changes.settings is not None:
            values.update(_settings_values(changes.settings))
    visibility = changes.results_visibility
    if row["kind"] == Kind.qa and visibility not in (None, ResultsVisibility.always):
        raise Invalid(
            "results_visibility", "A Q&A's questions are what people upvote: they are always shown."
        )
    if changes.premoderated is not None:
        if row["kind"] not in MODERATED:
            raise Invalid("premoderated", "premoderated is a setting of open_text and qa polls.")
        if changes.premoderated != bool(row["premoderated"]):
            values[Poll.premoderated] = changes.premoderated
    if changes.allows_anonymous is not None:
        if row["kind"] != Kind.qa:
            raise Invalid("allows_anonymous", "allows_anonymous is a setting of qa polls only.")
        if changes.allows_anonymous != bool(row["allows_anonymous"]):
            values[Poll.allows_anonymous] = changes.allows_anonymous
    voting = voting_for(changes.voting, changes.allows_guests, Voting(row["voting"]))
    for column, value in (
        (Poll.voting, voting),
        (Poll.guest_network_cap, changes.guest_network_cap),
        (Poll.results_visibility, changes.results_visibility),
        (Poll.results_hidden, changes.results_hidden),
    ):
        if value is not None and value != row[column._meta.name]:
            values[column] = value
    if changes.is_published is not None and changes.is_published != row["is_published"]:
        if not changes.is_published:
            raise Conflict("A published poll cannot go back to draft.")
        values[Poll.is_published] = True
    if changes.closed is not None:
        if changes.closed and not (row["is_published"] or changes.is_published):
            raise Conflict("Publish a poll before closing it.")
        if changes.closed and row["closed_at"] is None:
            values[Poll.closed_at] = clock.now()
        elif not changes.closed and row["closed_at"] is not None:
            values[Poll.closed_at] = None
    _reschedule(row, changes, values)
    return values


def _check_kind(row: dict[str, Any], changes: PollChanges) -> None:
    """A draft's edit keeps to its kind: options only where the kind has them (at most 10
    in a ranking), several choices only in a choice poll, and the kind itself fixed."""
    kind = Kind(row["kind"])
    if changes.settings is not None and changes.settings.kind != kind:
        raise Conflict(f"This poll is a {kind.value} poll: its kind is fixed when it is made.")
    if changes.options is not None:
        if kind not in WITH_OPTIONS:
            raise Invalid("options", f"A {kind.value} poll has no options: leave them out.")
        if kind == Kind.ranking and len(changes.options) > RANKING_OPTIONS_MAX:
            raise Invalid("options", f"A ranking has at most {RANKING_OPTIONS_MAX} options.")
    if changes.allows_multiple and kind != Kind.choice:
        raise Invalid("allows_multiple", "allows_multiple is a setting of choice polls only.")


def _settings_values(settings: KindSettings) -> dict[Any, Any]:
    scale = settings.scale
    return {
        Poll.answers_per_person: settings.answers_per_person,
        Poll.scale_points: scale.points if scale else None,
        Poll.scale_low: scale.low if scale else None,
        Poll.scale_high: scale.high if scale else None,
        Poll.premoderated: settings.premoderated,
        Poll.allows_anonymous: settings.allows_anonymous,
    }


def _reschedule(row: dict[str, Any], changes: PollChanges, values: dict[Any, Any]) -> None:
    """The schedule's part of a change. Reopening clears a closes_at that has passed (it would
    close the poll again at once); a poll closed at its closes_at stays closed when only the
    schedule moves (its closed_at is written down, in case the scheduler has not yet)."""
    opens = row["opens_at"] if changes.opens_at is UNSET else in_utc(changes.opens_at)
    closes = row["closes_at"] if changes.closes_at is UNSET else in_utc(changes.closes_at)
    reopening = values.get(Poll.closed_at, UNSET) is None
    if reopening and changes.closes_at is UNSET and closes is not None and closes <= clock.now():
        closes = values[Poll.closes_at] = None
    check_window(opens, closes, closes_changed=changes.closes_at is not UNSET)
    if not changes.reschedules:
        return
    if opens != row["opens_at"]:
        values[Poll.opens_at] = opens
    if closes != row["closes_at"]:
        values[Poll.closes_at] = closes
    if row["closed_at"] is not None and Poll.closed_at not in values:
        values[Poll.closed_at] = row["closed_at"]


@shielded
async def reset_results(poll_id: int, user_id: int) -> Results:
    """Remove every vote and ballot of the poll: counts and voters back to zero, seq moving
    on (seq + 1) so that every holder of the old counts replaces them. Under the poll's lock,
    as votes are, so a vote lands wholly before the reset or wholly after it. Kept: the
    options, the schedule, invite codes (their holders may vote again), the integrity
    report's refusal counts, and idempotency keys (a retry of a vote sent before the reset
    replays its first answer and counts nothing: it belongs to the round that was reset)."""
    async with write_transaction(queue=(Poll, poll_id)):
        row = await poll_row(poll_id, user_id, lock=True)
        if row["creator"] != user_id:
            raise Forbidden("Only the poll's creator can reset its results.")
        await Vote.raw("DELETE FROM vote WHERE poll = {}", poll_id)
        await Ballot.raw("DELETE FROM ballot WHERE poll = {}", poll_id)
        await PollOption.raw("UPDATE poll_option SET votes = 0 WHERE poll = {}", poll_id)
        if row["kind"] != Kind.choice:  # a Q&A's upvotes go with its questions
            for table in RESPONSE_TABLES:
                await Poll.raw(f"DELETE FROM {table} WHERE poll = {{}}", poll_id)
        rows = await Poll.raw(
            "UPDATE poll SET voters = 0, seq = seq + 1 WHERE id = {} RETURNING seq", poll_id
        )
    notices.poll_changed(poll_id, int(rows[0]["seq"]))
    return await results_for(poll_id, user_id)


@shielded
async def duplicate_poll(poll_id: int, user_id: int, question: str | None = None) -> PollView:
    """A new draft of the creator's poll: the same question (or `question`), options and
    settings; no votes, ballots, invite codes or schedule (its times are the original's
    session's), results shown (not hidden), and a join code of its own once published."""
    row = await poll_row(poll_id, user_id)
    if row["creator"] != user_id:
        raise Forbidden("Only the poll's creator can duplicate it.")
    options = await PollOption.raw(OPTIONS_SQL.format("{}"), poll_id)
    return await create_poll(
        user_id,
        question or row["question"],
        [option["option_text"] for option in options],
        settings=settings_in(row),
        allows_multiple=row["allows_multiple"],
        voting=Voting(row["voting"]),
        guest_network_cap=row["guest_network_cap"] or 0,
        results_visibility=ResultsVisibility(row["results_visibility"]),
    )


@shielded
async def delete_poll(poll_id: int, user_id: int) -> None:
    async with write_transaction():
        row = await poll_row(poll_id, user_id, lock=True)
        if row["creator"] != user_id:
            raise Forbidden("Only the poll's creator can delete it.")
        await Poll.delete().where(Poll.id == poll_id)
    notices.poll_changed(poll_id, None)
