"""A poll as people send it: create (the API and the new-poll form) and edit (the API)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from webapp.inputs.fields import (
    INTEGRAL,
    OptionText,
    QuestionText,
    StrictModel,
    cleaned,
    text_schema,
)
from webapp.questions.scale import LABEL_MAX, POINTS_MAX, POINTS_MIN
from webapp.tables import Voting
from webapp.text import same_key

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
KindName = Literal["choice", "word_cloud", "scale", "ranking", "open_text", "qa"]
AnswersPerPerson = Annotated[int, Field(ge=1, le=10), INTEGRAL]
ScaleLabel = Annotated[
    str, AfterValidator(cleaned(LABEL_MAX)), WithJsonSchema(text_schema(LABEL_MAX))
]


class ScaleSettings(StrictModel):
    """A rating scale: ratings 1 to `points`, with a label at each end."""

    points: Annotated[int, Field(ge=POINTS_MIN, le=POINTS_MAX), INTEGRAL]
    low_label: ScaleLabel
    high_label: ScaleLabel


VotingMode = Literal["accounts", "guests", "invite_codes"]
NetworkCap = Annotated[int, Field(ge=0, le=100_000), INTEGRAL]


def _timestamp_text(value: object) -> object:
    """A time is sent as RFC 3339 text with its offset: not a number, not a date alone."""
    if value is not None and not isinstance(value, str | datetime):
        raise ValueError("send a date and time with its offset, e.g. 2030-01-31T18:00:00Z")
    return value


# The years a schedule may name, as written (the schema's pattern says the same): PostgreSQL
# keeps the edges of datetime's range as +-infinity, which come back without an offset.
FIRST_YEAR, LAST_YEAR = 2000, 2999


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"should be a time in the years {FIRST_YEAR} to {LAST_YEAR}")
    return value.astimezone(UTC)


SCHEDULE_SCHEMA = {
    "anyOf": [
        {"type": "string", "format": "date-time", "pattern": "^2[0-9]{3}-"},
        {"type": "null"},
    ],
    "description": "RFC 3339 with an offset; null: none (on an edit, clears it).",
}
# When voting opens or closes: strict about the form (text with an offset), stored in UTC.
When = Annotated[
    Annotated[AwareDatetime, Strict(False)] | None,
    BeforeValidator(_timestamp_text),
    WithJsonSchema(SCHEDULE_SCHEMA),
]
# The order (closes_at after opens_at, also against the stored times on an edit) is the
# domain's check: webapp.polls.check_window, a 422 that names closes_at.
SCHEDULE_FIELDS = ("opens_at", "closes_at")


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
    for name, field in schema["properties"].items():
        field.pop("default", None)
        if name in SCHEDULE_FIELDS:  # null clears these
            continue
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
    kind: KindName = Field("choice", description="What the poll asks for (docs/question_types.md).")
    options: Options | None = Field(
        None, description="choice and ranking (2 to 10 there) only; required for them."
    )
    is_published: bool = False
    allows_multiple: bool = Field(False, description="choice only.")
    answers_per_person: AnswersPerPerson | None = Field(
        None, description="word_cloud only: answers each person may give (default 3)."
    )
    scale: ScaleSettings | None = Field(None, description="scale only; required there.")
    premoderated: bool = Field(
        False, description="open_text and qa only: new entries wait for the owner's approval."
    )
    allows_anonymous: bool = Field(
        False, description="qa only: askers may leave their name off a question."
    )
    voting: VotingMode | None = None
    allows_guests: bool | None = None
    guest_network_cap: NetworkCap | None = None
    results_visibility: Visibility = "always"
    opens_at: When = None
    closes_at: When = None

    _distinct_options = field_validator("options")(_distinct)
    _in_utc = field_validator(*SCHEDULE_FIELDS)(_utc)

    @model_validator(mode="after")
    def _voting_agrees(self) -> PollCreate:
        _agree(self.voting, self.allows_guests)
        return self

    @property
    def voting_mode(self) -> Voting:
        voting = Voting(self.voting) if self.voting else None
        return voting_for(voting, self.allows_guests) or Voting.accounts


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
    opens_at: When = None
    closes_at: When = None
    premoderated: bool | None = Field(
        None, description="open_text and qa only, at any time: new entries wait for approval."
    )
    allows_anonymous: bool | None = Field(
        None, description="qa only, at any time: askers may leave their name off a question."
    )

    _distinct_options = field_validator("options")(_distinct)
    _in_utc = field_validator(*SCHEDULE_FIELDS)(_utc)

    @model_validator(mode="after")
    def _not_empty(self) -> PollUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        nulls = sorted(
            name
            for name in self.model_fields_set - set(SCHEDULE_FIELDS)
            if getattr(self, name) is None
        )
        if nulls:
            raise ValueError(f"null is not a value for {', '.join(nulls)}: leave the field out")
        _agree(self.voting, self.allows_guests)
        return self


def voting_for(
    voting: Voting | None, allows_guests: bool | None, current: Voting | None = None
) -> Voting | None:
    """`voting`, or what the older `allows_guests` flag asks of a poll whose mode is
    `current` (None: a new poll): true is guests; false turns guests (or a new poll) into
    accounts and leaves invite codes alone. None: no change."""
    if voting is not None or allows_guests is None:
        return voting
    if allows_guests:
        return Voting.guests
    return Voting.accounts if current in (None, Voting.guests) else None


def _confirmed(value: bool) -> bool:
    if value is not True:
        raise ValueError("send true to confirm: the votes cannot be brought back")
    return value


# true itself: not 1, not "yes" (Literal[True] takes 1, since 1 == True).
Confirmation = Annotated[
    bool,
    Strict(),
    AfterValidator(_confirmed),
    WithJsonSchema({"type": "boolean", "const": True}),
]


class ResetConfirm(StrictModel):
    """Removing every vote cannot be undone: the body must say so."""

    confirm: Confirmation


class PollCopy(StrictModel):
    """A duplicate's question (left out: the original's)."""

    question: QuestionText | None = None
