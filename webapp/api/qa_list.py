"""Audience Q&A's list past the results' first 100: the shown questions, a page at a time."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field
from quart import Blueprint
from quart_schema import validate_querystring, validate_response

from webapp import polls
from webapp.api.auth import current_account
from webapp.api.contract import problems
from webapp.errors import Conflict
from webapp.kinds import qa
from webapp.kinds.qa import QaPage
from webapp.results import visible_to
from webapp.tables import Kind

blueprint = Blueprint("qa_list", __name__)

MAX_POSITION = 1_000_000  # past any list a poll can hold; a bigger `after` is a 422


class QaListQuery(BaseModel):
    # The position to start after (0: the top), the `next_after` of the previous page.
    after: Annotated[int, Field(ge=0, le=MAX_POSITION)] = 0
    limit: Annotated[int, Field(ge=1, le=qa.PAGE)] = qa.PAGE
    # `screen`: the order every screen shows; `upvotes`: fully sorted now ("Sort now").
    sort: Literal["screen", "upvotes"] = "screen"


async def listing(poll_id: int, viewer_id: int | None, query: QaListQuery) -> QaPage:
    """A page of the list as this viewer may see it: hidden when the results are hidden
    (the owner always sees it), as GET .../results decides; a draft is its owner's only."""
    row = await polls.poll_row(poll_id, viewer_id)
    if row["kind"] != Kind.qa:
        raise Conflict(f"This poll is a {Kind(row['kind']).value} poll: it has no questions.")
    # A Q&A refuses `after_vote` and `after_close`, so whether the viewer voted never counts.
    visible = visible_to(row, viewer_id, has_voted=False)
    return await qa.page(
        poll_id, visible, query.after, query.limit, fully_sorted=query.sort == "upvotes"
    )


@blueprint.get("/polls/<id:poll_id>/qa")
@problems(401, 409)
@validate_querystring(QaListQuery)
@validate_response(QaPage)
async def get_questions(poll_id: int, query_args: QaListQuery) -> QaPage:
    """The shown questions in the screens' order (or `sort=upvotes`), `limit` (at most 100)
    from position `after`; `questions` is null while the results are hidden from you."""
    account = await current_account()
    return await listing(poll_id, account.id if account else None, query_args)
