"""Open text's answers, for the poll's owner: the moderation queue and each answer's state."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field
from quart import Blueprint
from quart_schema import validate_querystring, validate_request, validate_response

from webapp.accounts import Account
from webapp.api.auth import login_required
from webapp.api.contract import problems
from webapp.inputs.fields import StrictModel
from webapp.responses import open_text
from webapp.responses.open_text import AnswerQueue, AnswerView
from webapp.routing import MAX_ID

blueprint = Blueprint("answers", __name__)


class AnswerQuery(BaseModel):
    # Answers with a smaller id than this (the `next_before` of the previous page).
    before: Annotated[str | None, Field(pattern=r"^[1-9][0-9]{0,9}$")] = None

    @property
    def before_id(self) -> int | None:
        if self.before is None or int(self.before) > MAX_ID:
            return None
        return int(self.before)


class AnswerModeration(StrictModel):
    """`shown` approves a pending answer or unhides a hidden one; `hidden` hides it."""

    state: Literal["shown", "hidden"]


@blueprint.get("/polls/<id:poll_id>/answers")
@problems(403, 409)
@login_required
@validate_querystring(AnswerQuery)
@validate_response(AnswerQueue)
async def get_answers(poll_id: int, query_args: AnswerQuery, account: Account) -> AnswerQueue:
    """Every answer of an open-text poll with its state, newest first, 100 a page (the
    poll's owner only: the moderation queue)."""
    return await open_text.queue(poll_id, account.id, query_args.before_id)


@blueprint.patch("/polls/<id:poll_id>/answers/<id:answer_id>")
@problems(403, 409, 422)
@login_required
@validate_request(AnswerModeration)
@validate_response(AnswerView)
async def patch_answer(
    poll_id: int, answer_id: int, data: AnswerModeration, account: Account
) -> AnswerView:
    """Approve, hide or unhide an answer (the poll's owner only); the answer as it now is."""
    return await open_text.set_state(poll_id, answer_id, account.id, data.state)
