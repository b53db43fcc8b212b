"""A word cloud's answers: give one, list and take back your own; the owner hides words."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, WithJsonSchema
from quart import Blueprint
from quart_schema import validate_request, validate_response

from webapp import clients, polls
from webapp.accounts import Account
from webapp.api.auth import login_required
from webapp.api.contract import idempotent, problems
from webapp.api.responses import answer, no_content, results_reply
from webapp.inputs.fields import StrictModel, text_schema
from webapp.kinds.word_cloud import MyWords, answers_of
from webapp.questions.answers import ANSWER_MAX, KEY_MAX
from webapp.responses.words import hide_word
from webapp.results import Results
from webapp.tables import Kind
from webapp.votes import wrong_kind

blueprint = Blueprint("words", __name__)


class WordGiven(StrictModel):
    """One short answer (at most 40 characters once normalised)."""

    answer: Annotated[str, WithJsonSchema(text_schema(ANSWER_MAX))]


class WordModerated(StrictModel):
    """A word by its key (as the results give it, or as typed), hidden or shown again."""

    key: Annotated[str, Field(min_length=1, max_length=KEY_MAX)]
    hidden: bool


@blueprint.post("/polls/<id:poll_id>/words")
@problems(403, 409, 422, 429)
@idempotent
@login_required
@validate_request(WordGiven)
@validate_response(Results, 201)
@validate_response(Results, 200)
async def post_word(poll_id: int, data: WordGiven, account: Account) -> Any:
    """Give an answer (201), or one you already gave (200, unchanged); 409 once you have
    given as many as the poll takes. The results as you may now see them."""
    reply = results_reply(poll_id, account, lambda change: change.changed)
    return await answer(
        account,
        poll_id,
        (data.answer,),
        reply,
        lambda keyed: clients.add_word(account, poll_id, data.answer, keyed),
    )


@blueprint.get("/polls/<id:poll_id>/words/mine")
@problems(409)
@login_required
@validate_response(MyWords)
async def get_my_words(poll_id: int, account: Account) -> MyWords:
    """Your own answers, each in its slot (1 .. the poll's answers per person)."""
    row = await polls.poll_row(poll_id, account.id)
    if row["kind"] != Kind.word_cloud:
        raise wrong_kind(Kind(row["kind"]))
    answers = await answers_of(poll_id, account.id)
    return MyWords(poll_id, int(row["answers_per_person"]), answers)


@blueprint.delete("/polls/<id:poll_id>/words/mine/<id:slot>")
@problems(409, 429)
@idempotent
@login_required
async def delete_my_word(poll_id: int, slot: int, account: Account) -> Any:
    """Take back the answer in one of your slots (204, also when the slot was empty)."""
    return await answer(
        account,
        poll_id,
        (slot,),
        no_content,
        lambda keyed: clients.remove_word(account, poll_id, slot, keyed),
    )


@blueprint.patch("/polls/<id:poll_id>/words")
@problems(403, 404, 409, 422)
@login_required
@validate_request(WordModerated)
@validate_response(Results)
async def patch_words(poll_id: int, data: WordModerated, account: Account) -> Results:
    """Hide a word from every screen, or show it again (the poll's creator only); 404 for
    a word nobody gave. The results as you now see them."""
    await hide_word(poll_id, account.id, data.key, data.hidden)
    return await polls.results_for(poll_id, account.id)
