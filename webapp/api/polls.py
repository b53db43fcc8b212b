"""Polls: create, list, read, edit, publish, close, delete."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from quart import Blueprint, current_app, url_for
from quart_schema import validate_querystring, validate_request, validate_response

from webapp import polls
from webapp.accounts import Account
from webapp.api.auth import current_account, login_required
from webapp.api.contract import problems
from webapp.api.models import INTEGRAL, MAX_ID, OptionText, QuestionText, StrictModel
from webapp.clients import limit
from webapp.errors import Forbidden, Unauthorized
from webapp.polls import PollChanges, PollPage, PollView
from webapp.tables import ResultsVisibility, Voting
from webapp.text import same_key

blueprint = Blueprint("polls", __name__)

MIN_OPTIONS = 2
MAX_OPTIONS = 20
Options = Annotated[
    list[OptionText],
    Field(
        min_length=MIN_OPTIONS,
        max_length=MAX_OPTIONS,
        description="Distinct options: two that differ only in case, width, spacing or "
        "invisible characters look alike and are refused as duplicates.",
        json_schema_extra={"uniqueItems": True},
    ),
]


def _distinct(options: list[str] | None) -> list[str] | None:
    if options is not None and len({same_key(o) for o in options}) != len(options):
        raise ValueError("options must be distinct")
    return options


Visibility = Literal["always", "after_vote", "after_close"]
VotingMode = Literal["accounts", "guests", "invite_codes"]
NetworkCap = Annotated[int, Field(ge=0, le=100_000), INTEGRAL]


# `voting` and `allows_guests` sent together must agree, as JSON Schema (without `not`: a
# `false` property schema is "left out").
AGREEING = {
    "anyOf": [
        {"properties": {"voting": False}},
        {"properties": {"allows_guests": False}},
        {"properties": {"voting": {"type": "null"}}},
        {"properties": {"allows_guests": {"type": "null"}}},
        {"properties": {"voting": {"const": "guests"}, "allows_guests": {"const": True}}},
        {
            "properties": {
                "voting": {"enum": ["accounts", "invite_codes"]},
                "allows_guests": {"const": False},
            }
        },
    ]
}


def _create_schema(schema: dict[str, Any]) -> None:
    schema.update(AGREEING)
    schema["properties"]["allows_guests"]["deprecated"] = True


def _update_schema(schema: dict[str, Any]) -> None:
    """Every field may be left out, none may be null, and at least one must be sent."""
    for field in schema["properties"].values():
        field.pop("default", None)
        choices = [choice for choice in field.pop("anyOf", []) if choice != {"type": "null"}]
        if len(choices) == 1:
            field.update(choices[0])
        elif choices:
            field["anyOf"] = choices
    schema["minProperties"] = 1
    _create_schema(schema)


def _agree(voting: str | None, allows_guests: bool | None) -> None:
    """`voting` and the older `allows_guests` flag, sent together, must not contradict
    (`allows_guests: false` with invite codes is true: no guests there)."""
    if voting is None or allows_guests is None:
        return
    if allows_guests != (voting == "guests"):
        raise ValueError("allows_guests and voting disagree: send voting alone")


class PollCreate(StrictModel):
    model_config = StrictModel.model_config | ConfigDict(json_schema_extra=_create_schema)

    question: QuestionText
    options: Options
    is_published: bool = False
    allows_multiple: bool = False
    voting: VotingMode | None = None
    allows_guests: bool | None = None
    guest_network_cap: NetworkCap | None = None
    results_visibility: Visibility = "always"

    _distinct_options = field_validator("options")(_distinct)

    @model_validator(mode="after")
    def _voting_agrees(self) -> PollCreate:
        _agree(self.voting, self.allows_guests)
        return self

    @property
    def voting_mode(self) -> Voting:
        voting = Voting(self.voting) if self.voting else None
        return polls.voting_for(voting, self.allows_guests) or Voting.accounts

    async def create(self, creator_id: int, default_cap: int) -> PollView:
        """Create this poll (the API and the form both come through here)."""
        cap = default_cap if self.guest_network_cap is None else self.guest_network_cap
        return await polls.create_poll(
            creator_id,
            self.question,
            self.options,
            is_published=self.is_published,
            allows_multiple=self.allows_multiple,
            voting=self.voting_mode,
            guest_network_cap=cap,
            results_visibility=ResultsVisibility(self.results_visibility),
        )

    def as_changes(self) -> PollChanges:
        """The same poll as an edit of a draft (publishing it if asked)."""
        return PollChanges(
            question=self.question,
            options=self.options,
            allows_multiple=self.allows_multiple,
            voting=self.voting_mode,
            guest_network_cap=self.guest_network_cap,
            results_visibility=ResultsVisibility(self.results_visibility),
            is_published=True if self.is_published else None,
        )


class PollUpdate(StrictModel):
    model_config = StrictModel.model_config | ConfigDict(json_schema_extra=_update_schema)

    question: QuestionText | None = None
    options: Options | None = None
    allows_multiple: bool | None = None
    voting: VotingMode | None = None
    allows_guests: bool | None = None
    guest_network_cap: NetworkCap | None = None
    results_visibility: Visibility | None = None
    results_hidden: bool | None = None
    is_published: bool | None = None
    closed: bool | None = None

    _distinct_options = field_validator("options")(_distinct)

    @model_validator(mode="after")
    def _not_empty(self) -> PollUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        nulls = sorted(name for name in self.model_fields_set if getattr(self, name) is None)
        if nulls:
            raise ValueError(f"null is not a value for {', '.join(nulls)}: leave the field out")
        _agree(self.voting, self.allows_guests)
        return self


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
    poll = await data.create(account.id, current_app.extensions["settings"].guest_network_cap)
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
@validate_response(PollView)
async def get_poll(poll_id: int) -> PollView:
    """A poll with its options and counts. Drafts are visible only to their creator."""
    account = await current_account()
    return await polls.get_poll(poll_id, account.id if account else None)


@blueprint.patch("/polls/<id:poll_id>")
@problems(403, 409)
@login_required
@validate_request(PollUpdate)
@validate_response(PollView)
async def patch_poll(poll_id: int, data: PollUpdate, account: Account) -> PollView:
    """Edit a draft, publish, close (closed: true) or reopen (closed: false)."""
    values = data.model_dump(exclude_unset=True)
    if "results_visibility" in values:
        values["results_visibility"] = ResultsVisibility(values["results_visibility"])
    if "voting" in values:
        values["voting"] = Voting(values["voting"])
    changes = PollChanges(**values)
    return await polls.update_poll(poll_id, account.id, changes)


@blueprint.delete("/polls/<id:poll_id>")
@problems(403)
@login_required
async def delete_poll(poll_id: int, account: Account) -> tuple[str, int]:
    """Delete a poll with its options and votes."""
    await polls.delete_poll(poll_id, account.id)
    return "", 204
