"""Votes and results."""

from __future__ import annotations

from dataclasses import dataclass

from quart import Blueprint
from quart_schema import validate_request, validate_response

from webapp import clients, polls, votes
from webapp.accounts import Account
from webapp.api.auth import current_account, login_required
from webapp.api.contract import problems
from webapp.inputs.fields import Id, StrictModel
from webapp.results import Results

blueprint = Blueprint("votes", __name__)


class VoteCast(StrictModel):
    option_id: Id


@dataclass
class MyVotes:
    poll_id: int
    option_ids: list[int]


@blueprint.post("/polls/<id:poll_id>/votes")
@problems(403, 409, 422, 429)
@login_required
@validate_request(VoteCast)
@validate_response(Results, 201)
@validate_response(Results, 200)
async def post_vote(poll_id: int, data: VoteCast, account: Account) -> tuple[Results, int]:
    """Vote; 201 when it changed something, 200 when it was already so."""
    results, changed = await clients.cast_vote(account, poll_id, data.option_id)
    return results, 201 if changed else 200


@blueprint.delete("/polls/<id:poll_id>/votes/<id:option_id>")
@problems(409, 422, 429)
@login_required
async def delete_vote(poll_id: int, option_id: int, account: Account) -> tuple[str, int]:
    """Withdraw one choice."""
    await clients.withdraw_votes(account, poll_id, option_id)
    return "", 204


@blueprint.delete("/polls/<id:poll_id>/votes")
@problems(409, 429)
@login_required
async def delete_votes(poll_id: int, account: Account) -> tuple[str, int]:
    """Withdraw all of the caller's votes in this poll."""
    await clients.withdraw_votes(account, poll_id)
    return "", 204


@blueprint.get("/polls/<id:poll_id>/votes/me")
@login_required
@validate_response(MyVotes)
async def get_my_votes(poll_id: int, account: Account) -> MyVotes:
    """The caller's current choices in this poll."""
    return MyVotes(poll_id, await votes.my_choices(account.id, poll_id))


@blueprint.get("/polls/<id:poll_id>/results")
@problems(401)
@validate_response(Results)
async def get_results(poll_id: int) -> Results:
    """Counts per option, total votes and distinct voters."""
    account = await current_account()
    return await polls.results_for(poll_id, account.id if account else None)
