"""Responses of the kinds that take one per person (a rating, a ranking, an open-text
answer); and `answer`, how every voter-side write of the kinds other than choice answers,
with or without an Idempotency-Key."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from pydantic import Field, WithJsonSchema
from quart import Blueprint, request
from quart_schema import validate_request, validate_response

from webapp import clients, idempotency, polls
from webapp.accounts import Account
from webapp.api.auth import login_required
from webapp.api.contract import idempotent, problems
from webapp.api.replies import replied
from webapp.idempotency import Claim, Outcome
from webapp.inputs.fields import INTEGRAL, StrictModel
from webapp.questions.answers import TEXT_MAX
from webapp.responses import Change, Keyed, Reply
from webapp.responses.one import MyResponse, my_response
from webapp.results import Results
from webapp.routing import MAX_ID
from webapp.serialize import to_json

blueprint = Blueprint("responses", __name__)
# A ranking's order as the schema tells clients: option ids (put_response checks them).
ORDER_SCHEMA = WithJsonSchema(
    {
        "type": "array",
        "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        "maxItems": 10,
    }
)


async def no_content(change: Change) -> Outcome:
    return Outcome(204)


def results_reply(poll_id: int, account: Account, created: Callable[[Change], bool]) -> Reply:
    """Answer with the results as the caller may now see them: 201 when `created`, else 200."""

    async def reply(change: Change) -> Outcome:
        results = change.results or await polls.results_for(poll_id, account.id)
        return Outcome(201 if created(change) else 200, to_json(results))

    return reply


async def answer(
    account: Account,
    poll_id: int,
    fields: tuple[object, ...],
    reply: Reply,
    write: Callable[[Keyed | None], Awaitable[Change]],
    model: type = Results,
) -> Any:
    """Run a voter's write and answer it with `reply`. With an Idempotency-Key (400 if
    malformed) the reply is read in the write's transaction and stored with the key, and a
    retry gets it again, marked as replayed; `fields` are what, besides the method, route
    and poll, tells this request from another sent with the same key."""
    key = idempotency.parse_key(request.headers.get(idempotency.HEADER))
    if key is None:
        return replied(await reply(await write(None)), model)
    route = request.url_rule.rule if request.url_rule else request.path
    sent = (request.method, route, poll_id, json.dumps(fields))
    claim = Claim(account.id, key, sent)
    return replied(await idempotency.once(claim, lambda: write(Keyed(claim, reply))), model)


class ResponseGiven(StrictModel):
    """The response, in the field of the poll's kind: `rating` (1 to the scale's points),
    `order` (a ranking's option ids, best first)."""

    rating: Annotated[int, Field(ge=1, le=10), INTEGRAL] | None = None
    # Open text: paragraphs kept (at most 20 lines), normalised by answers.normalise_text.
    text: Annotated[str, Field(min_length=1, max_length=TEXT_MAX)] | None = None
    # A ranking: every option id once, best first. Its elements are checked against the
    # poll's options (webapp.questions.ranking), so every fault names `order[i]` alike.
    order: Annotated[list[Any], Field(max_length=10), ORDER_SCHEMA] | None = None


@blueprint.put("/polls/<id:poll_id>/response")
@problems(403, 409, 422, 429)
@idempotent
@login_required
@validate_request(ResponseGiven)
@validate_response(Results, 201)
@validate_response(Results, 200)
async def put_response(poll_id: int, data: ResponseGiven, account: Account) -> Any:
    """Give your response (201), replace it, or send it again unchanged (200); the results
    as you may now see them."""
    values = data.model_dump()
    reply = results_reply(poll_id, account, lambda change: change.ballot > 0)
    return await answer(
        account,
        poll_id,
        (data.rating, data.text, data.order),
        reply,
        lambda keyed: clients.put_response(account, poll_id, values, keyed),
    )


@blueprint.delete("/polls/<id:poll_id>/response")
@problems(409, 429)
@idempotent
@login_required
async def delete_response(poll_id: int, account: Account) -> Any:
    """Withdraw your response (204, also when you had none)."""
    return await answer(
        account,
        poll_id,
        (),
        no_content,
        lambda keyed: clients.withdraw_response(account, poll_id, keyed),
    )


@blueprint.get("/polls/<id:poll_id>/response/me")
@problems(409)
@login_required
@validate_response(MyResponse)
async def get_my_response(poll_id: int, account: Account) -> MyResponse:
    """Your own response (null fields: none given)."""
    return await my_response(poll_id, account.id)
