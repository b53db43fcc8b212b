"""Polls: create, list, read, edit, publish, close, delete."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field
from quart import Blueprint, current_app, request, url_for
from quart_schema import validate_querystring, validate_request, validate_response

from webapp import polls
from webapp.accounts import Account
from webapp.api.auth import current_account, login_required
from webapp.api.contract import conditional, problems
from webapp.clients import limit
from webapp.errors import Forbidden, Unauthorized
from webapp.inputs.polls import PollCreate, PollUpdate
from webapp.polls import PollPage, PollView
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
    view, seq = seen if seen is not None else await polls.read_poll(poll_id, viewer_id)
    tag = polls.etag(poll_id, seq, view.results_visible)
    headers = {"ETag": tag}
    if request.if_none_match.contains(tag.strip('"')):
        return "", 304, headers
    return view, 200, headers


@blueprint.patch("/polls/<id:poll_id>")
@problems(403, 409)
@login_required
@validate_request(PollUpdate)
@validate_response(PollView)
async def patch_poll(poll_id: int, data: PollUpdate, account: Account) -> PollView:
    """Edit a draft, publish, close (closed: true) or reopen (closed: false)."""
    changes = polls.changes_of(data)
    return await polls.update_poll(poll_id, account.id, changes)


@blueprint.delete("/polls/<id:poll_id>")
@problems(403)
@login_required
async def delete_poll(poll_id: int, account: Account) -> tuple[str, int]:
    """Delete a poll with its options and votes."""
    await polls.delete_poll(poll_id, account.id)
    return "", 204
