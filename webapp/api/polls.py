"""Polls: create, list, read, edit, publish, close, schedule, reset, duplicate, export,
delete."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field
from quart import Blueprint, Response, current_app, request, url_for
from quart_schema import validate_querystring, validate_request, validate_response

from webapp import clock, exports, polls
from webapp.accounts import Account
from webapp.api.auth import current_account, login_required
from webapp.api.contract import answers_with, conditional, problems
from webapp.clients import limit
from webapp.errors import Forbidden, Unauthorized
from webapp.exports import PollExport
from webapp.inputs.polls import PollCopy, PollCreate, PollUpdate, ResetConfirm
from webapp.polls import PollPage, PollView
from webapp.results import Results
from webapp.routing import MAX_ID

blueprint = Blueprint("polls", __name__)


class PollQuery(BaseModel):
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    # Polls with a smaller id than the cursor; past the largest id, every poll.
    cursor: Annotated[str | None, Field(pattern=r"^[1-9][0-9]{0,9}$")] = None
    mine: bool = False

    @property
    def before_id(self) -> int | None:
        if self.cursor is None or int(self.cursor) > MAX_ID:
            return None
        return int(self.cursor)


@blueprint.post("/polls")
@problems(403, 429)
@login_required
@validate_request(PollCreate)
@validate_response(PollView, 201)
async def post_poll(data: PollCreate, account: Account) -> tuple[PollView, int, dict[str, str]]:
    """Create a poll (a draft unless is_published). Guests can vote, not create polls."""
    if account.is_guest:
        raise Forbidden("Guests can vote but not create polls: sign up for an account.")
    await limit("poll_create", str(account.id))
    poll = await polls.create_from(
        data, account.id, current_app.extensions["settings"].guest_network_cap
    )
    return poll, 201, {"Location": url_for("api.polls.get_poll", poll_id=poll.id)}


@blueprint.get("/polls")
@problems(401)
@validate_querystring(PollQuery)
@validate_response(PollPage)
async def list_polls(query_args: PollQuery) -> PollPage:
    """Published polls, newest first; with mine=true, the caller's own including drafts."""
    account = await current_account()
    if query_args.mine and account is None:
        raise Unauthorized("Sign in to list your own polls.")
    return await polls.list_polls(
        account.id if account else None,
        mine=query_args.mine,
        limit=query_args.limit,
        before_id=query_args.before_id,
    )


@blueprint.get("/polls/<id:poll_id>")
@problems(401)
@conditional
@validate_response(PollView)
async def get_poll(poll_id: int) -> tuple[PollView | str, int, dict[str, str]]:
    """A poll with its options and counts. Drafts are visible only to their creator."""
    account = await current_account()
    viewer_id = account.id if account else None
    # A poll watched on this process answers from the live snapshot, without the database.
    seen = current_app.extensions["live"].watched_view(poll_id, viewer_id)
    if seen is not None and _passed_unannounced(seen[0]):
        seen = None  # the scheduler's closing is on its way: the database says it now
    view, seq = seen if seen is not None else await polls.read_poll(poll_id, viewer_id)
    tag = polls.etag(poll_id, seq, view.results_visible)
    headers = {"ETag": tag}
    if request.if_none_match.contains(tag.strip('"')):
        return "", 304, headers
    return view, 200, headers


def _passed_unannounced(view: PollView) -> bool:
    """A snapshot that still shows a poll open past its closes_at (or scheduled past its
    opens_at), taken before that time came."""
    now = clock.now()
    if view.state == "open":
        return view.closes_at is not None and view.closes_at <= now
    return view.state == "scheduled" and view.opens_at is not None and view.opens_at <= now


@blueprint.patch("/polls/<id:poll_id>")
@problems(403, 409)
@login_required
@validate_request(PollUpdate)
@validate_response(PollView)
async def patch_poll(poll_id: int, data: PollUpdate, account: Account) -> PollView:
    """Edit a draft, publish, close (closed: true) or reopen (closed: false), schedule
    (opens_at, closes_at; null clears one)."""
    changes = polls.changes_of(data)
    return await polls.update_poll(poll_id, account.id, changes)


@blueprint.delete("/polls/<id:poll_id>")
@problems(403)
@login_required
async def delete_poll(poll_id: int, account: Account) -> tuple[str, int]:
    """Delete a poll with its options and votes."""
    await polls.delete_poll(poll_id, account.id)
    return "", 204


@blueprint.post("/polls/<id:poll_id>/reset")
@problems(403)
@login_required
@validate_request(ResetConfirm)
@validate_response(Results)
async def reset_poll(poll_id: int, data: ResetConfirm, account: Account) -> Results:
    """Remove every vote and ballot (send {"confirm": true}); answers the zeroed results."""
    return await polls.reset_results(poll_id, account.id)


@blueprint.post("/polls/<id:poll_id>/duplicate")
@problems(403, 429)
@login_required
@validate_request(PollCopy)
@validate_response(PollView, 201)
async def duplicate_poll(
    poll_id: int, data: PollCopy, account: Account
) -> tuple[PollView, int, dict[str, str]]:
    """A new draft with the poll's question, options and settings (send {} to keep the
    question); no votes, invite codes or schedule."""
    await limit("poll_create", str(account.id))
    poll = await polls.duplicate_poll(poll_id, account.id, data.question)
    return poll, 201, {"Location": url_for("api.polls.get_poll", poll_id=poll.id)}


@blueprint.get("/polls/<id:poll_id>/export")
@problems(403)
@login_required
@validate_response(PollExport)
async def export_poll(poll_id: int, account: Account) -> tuple[PollExport, int, dict[str, str]]:
    """The results to keep: counts, percentages, voters and ballots by kind (no names or
    emails), at any time; the CSV is /export.csv."""
    export = await exports.export_poll(poll_id, account.id)
    disposition = exports.attachment(exports.filename(export, "json"))
    return export, 200, {"Content-Disposition": disposition}


CSV_SCHEMA = {"type": "string", "description": "A header row, then one row per option."}


@blueprint.get("/polls/<id:poll_id>/export.csv")
@problems(403)
@answers_with("text/csv", "The export as CSV (a download).", CSV_SCHEMA)
@login_required
async def export_poll_csv(poll_id: int, account: Account) -> Response:
    """The export as CSV: a row per option; cells never start a formula."""
    export = await exports.export_poll(poll_id, account.id)
    return Response(
        exports.as_csv(export),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": exports.attachment(exports.filename(export, "csv"))},
    )
