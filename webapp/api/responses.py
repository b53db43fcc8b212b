"""Responses of the kinds that take one per person (a rating scale's rating)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, WithJsonSchema
from quart import Blueprint
from quart_schema import validate_request, validate_response

from webapp import clients, polls
from webapp.accounts import Account
from webapp.api.auth import login_required
from webapp.api.contract import problems
from webapp.inputs.fields import INTEGRAL, StrictModel
from webapp.questions.answers import TEXT_MAX
from webapp.responses.one import MyResponse, my_response
from webapp.results import Results
from webapp.routing import MAX_ID

blueprint = Blueprint("responses", __name__)
# A ranking's order as the schema tells clients: option ids (put_response checks them).
ORDER_SCHEMA = WithJsonSchema(
    {
        "type": "array",
        "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        "maxItems": 10,
    }
)


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
@login_required
@validate_request(ResponseGiven)
@validate_response(Results, 201)
@validate_response(Results, 200)
async def put_response(poll_id: int, data: ResponseGiven, account: Account) -> Any:
    """Give your response (201), replace it, or send it again unchanged (200); the results
    as you may now see them."""
    change = await clients.put_response(account, poll_id, data.model_dump())
    results = await polls.results_for(poll_id, account.id)
    return results, 201 if change.ballot > 0 else 200


@blueprint.delete("/polls/<id:poll_id>/response")
@problems(409, 429)
@login_required
async def delete_response(poll_id: int, account: Account) -> Any:
    """Withdraw your response (204, also when you had none)."""
    await clients.withdraw_response(account, poll_id)
    return "", 204


@blueprint.get("/polls/<id:poll_id>/response/me")
@problems(409)
@login_required
@validate_response(MyResponse)
async def get_my_response(poll_id: int, account: Account) -> MyResponse:
    """Your own response (null fields: none given)."""
    return await my_response(poll_id, account.id)
