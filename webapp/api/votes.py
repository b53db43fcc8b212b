"""Votes and results."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from quart import Blueprint, request
from quart_schema import validate_request, validate_response

from webapp import clients, idempotency, polls, votes
from webapp.accounts import Account
from webapp.api.auth import current_account, login_required
from webapp.api.contract import idempotent, problems
from webapp.api.replies import replied
from webapp.idempotency import Answer, Claim, Outcome
from webapp.inputs.fields import Id, StrictModel
from webapp.results import Results
from webapp.serialize import to_json

blueprint = Blueprint("votes", __name__)


class VoteCast(StrictModel):
    option_id: Id


@dataclass
class MyVotes:
    poll_id: int
    option_ids: list[int]


def _voted(results: Results | None, changed: bool) -> Outcome:
    assert results is not None, "a vote answers with the results"
    return Outcome(201 if changed else 200, to_json(results))


def _withdrawn(results: Results | None, changed: bool) -> Outcome:
    return Outcome(204)


def _claim(account: Account, poll_id: int, option_id: int | None, answer: Answer) -> Claim | None:
    """The request's claim on its Idempotency-Key, if it sent one (400 if malformed)."""
    key = idempotency.parse_key(request.headers.get(idempotency.HEADER))
    if key is None:
        return None
    route = request.url_rule.rule if request.url_rule else request.path
    return Claim(account.id, key, (request.method, route, poll_id, option_id), answer)


async def _once(claim: Claim, action: Callable[[], Awaitable[object]]) -> Any:
    """Answer a keyed request: the first outcome, again on a retry (marked as replayed)."""
    return replied(await idempotency.once(claim, action))


@blueprint.post("/polls/<id:poll_id>/votes")
@problems(403, 409, 422, 429)
@idempotent
@login_required
@validate_request(VoteCast)
@validate_response(Results, 201)
@validate_response(Results, 200)
async def post_vote(poll_id: int, data: VoteCast, account: Account) -> Any:
    """Vote; 201 when it changed something, 200 when it was already so."""
    claim = _claim(account, poll_id, data.option_id, _voted)
    if claim is None:
        results, changed = await clients.cast_vote(account, poll_id, data.option_id)
        return results, 201 if changed else 200
    return await _once(claim, lambda: clients.cast_vote(account, poll_id, data.option_id, claim))


@blueprint.delete("/polls/<id:poll_id>/votes/<id:option_id>")
@problems(409, 422, 429)
@idempotent
@login_required
async def delete_vote(poll_id: int, option_id: int, account: Account) -> Any:
    """Withdraw one choice."""
    claim = _claim(account, poll_id, option_id, _withdrawn)
    if claim is None:
        await clients.withdraw_votes(account, poll_id, option_id)
        return "", 204
    return await _once(claim, lambda: clients.withdraw_votes(account, poll_id, option_id, claim))


@blueprint.delete("/polls/<id:poll_id>/votes")
@problems(409, 429)
@idempotent
@login_required
async def delete_votes(poll_id: int, account: Account) -> Any:
    """Withdraw all of the caller's votes in this poll."""
    claim = _claim(account, poll_id, None, _withdrawn)
    if claim is None:
        await clients.withdraw_votes(account, poll_id)
        return "", 204
    return await _once(claim, lambda: clients.withdraw_votes(account, poll_id, None, claim))


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
