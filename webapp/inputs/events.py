"""An event as people send it: create, edit, add a question, reorder, move, count down."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, ConfigDict, Field, model_validator

from webapp.inputs.fields import INTEGRAL, Id, StrictModel, _schema, cleaned
from webapp.tables import TITLE_MAX

MAX_QUESTIONS = 100
COUNTDOWN_MIN_S = 5
COUNTDOWN_MAX_S = 3600
FIRST_YEAR, LAST_YEAR = 2000, 2999

TitleText = Annotated[str, AfterValidator(cleaned(TITLE_MAX)), _schema(TITLE_MAX)]
Mode = Literal["presenter", "self_paced"]


def _in_range(value: datetime) -> datetime:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:  # as written, before any offset applies
        raise ValueError(f"should be a time in the years {FIRST_YEAR} to {LAST_YEAR}")
    return value.astimezone(UTC)


# An instant with its offset (RFC 3339), in the years 2000 to 2999 as written (the schema's
# pattern); JSON has no datetime type, so this field alone is not strict about its input
# being a string.
Instant = Annotated[
    AwareDatetime,
    Field(strict=False, json_schema_extra={"format": "date-time", "pattern": "^2[0-9]{3}-"}),
    AfterValidator(_in_range),
]


class EventCreate(StrictModel):
    title: TitleText
    mode: Mode = "presenter"
    opens_at: Instant | None = None
    closes_at: Instant | None = None
    # The owner's own polls to add as questions, in this order.
    poll_ids: Annotated[
        list[Id], Field(max_length=MAX_QUESTIONS, json_schema_extra={"uniqueItems": True})
    ] = []

    @model_validator(mode="after")
    def _valid(self) -> EventCreate:
        if len(set(self.poll_ids)) != len(self.poll_ids):
            raise ValueError("poll_ids must be distinct")
        return self


def _update_schema(schema: dict[str, Any]) -> None:
    """At least one field; title and mode may not be null (the window's ends may: cleared)."""
    for name in ("title", "mode"):
        field = schema["properties"][name]
        field.pop("default", None)
        choices = [choice for choice in field.pop("anyOf", []) if choice != {"type": "null"}]
        if len(choices) == 1:
            field.update(choices[0])
    schema["minProperties"] = 1


class EventUpdate(StrictModel):
    model_config = StrictModel.model_config | ConfigDict(json_schema_extra=_update_schema)

    title: TitleText | None = None
    mode: Mode | None = None
    opens_at: Instant | None = None
    closes_at: Instant | None = None

    @model_validator(mode="after")
    def _valid(self) -> EventUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        for name in ("title", "mode"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"null is not a value for {name}: leave the field out")
        return self


def _one_of_schema(schema: dict[str, Any]) -> None:
    """`poll_id` (null: none) or `move`, exactly one (without `not`: a `false` property
    schema is "left out")."""
    move = schema["properties"]["move"]
    move.pop("default", None)
    choices = [choice for choice in move.pop("anyOf", []) if choice != {"type": "null"}]
    if len(choices) == 1:
        move.update(choices[0])
    schema["properties"]["poll_id"].pop("default", None)
    schema["oneOf"] = [
        {"required": ["poll_id"], "properties": {"move": False}},
        {"required": ["move"], "properties": {"poll_id": False}},
    ]


class CurrentMove(StrictModel):
    """Which question the audience sees: `poll_id` (a question of the event, or null for
    none), or `move` to the next or previous one."""

    model_config = StrictModel.model_config | ConfigDict(json_schema_extra=_one_of_schema)

    poll_id: Id | None = None
    move: Literal["next", "previous"] | None = None

    @model_validator(mode="after")
    def _one(self) -> CurrentMove:
        if len(self.model_fields_set & {"poll_id", "move"}) != 1:
            raise ValueError("send either poll_id or move")
        if "move" in self.model_fields_set and self.move is None:
            raise ValueError("null is not a value for move: leave the field out")
        return self


class EventCopy(StrictModel):
    title: TitleText | None = None


class QuestionAdd(StrictModel):
    poll_id: Id


class QuestionOrder(StrictModel):
    poll_ids: Annotated[
        list[Id],
        Field(min_length=1, max_length=MAX_QUESTIONS, json_schema_extra={"uniqueItems": True}),
    ]

    @model_validator(mode="after")
    def _distinct(self) -> QuestionOrder:
        if len(set(self.poll_ids)) != len(self.poll_ids):
            raise ValueError("poll_ids must be distinct")
        return self


class Countdown(StrictModel):
    seconds: Annotated[int, Field(ge=COUNTDOWN_MIN_S, le=COUNTDOWN_MAX_S), INTEGRAL]
