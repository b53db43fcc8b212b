"""An event as people send it: create, edit, add a question, reorder, move, count down."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, ConfigDict, Field, model_validator

from webapp.inputs.fields import INTEGRAL, Id, StrictModel, _cleaned, _schema
from webapp.tables import TITLE_MAX

MAX_QUESTIONS = 100
COUNTDOWN_MIN_S = 5
COUNTDOWN_MAX_S = 3600
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)

TitleText = Annotated[str, AfterValidator(_cleaned(TITLE_MAX)), _schema(TITLE_MAX)]
Mode = Literal["presenter", "self_paced"]


def _in_range(value: datetime) -> datetime:
    if not EARLIEST <= value < LATEST:
        raise ValueError("should be a time between 2000 and 2100")
    return value.astimezone(UTC)


# An instant with its offset (RFC 3339), from 2000 to 2100; JSON has no datetime type, so
# this field alone is not strict about its input being a string.
Instant = Annotated[
    AwareDatetime,
    Field(strict=False, json_schema_extra={"format": "date-time"}),
    AfterValidator(_in_range),
]


def _window(opens_at: datetime | None, closes_at: datetime | None) -> None:
    if opens_at is not None and closes_at is not None and not opens_at < closes_at:
        raise ValueError("opens_at must be before closes_at")


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
        _window(self.opens_at, self.closes_at)
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
        _window(self.opens_at, self.closes_at)
        return self


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
