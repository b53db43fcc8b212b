"""Field types and the strict base model that every request body uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from webapp.tables import EMAIL_MAX, NAME_MAX, OPTION_MAX, QUESTION_MAX
from webapp.text import clean

MAX_ID = 2**31 - 1


def _cleaned(max_length: int, min_length: int = 1) -> Callable[[str], str]:
    def check(text: str) -> str:
        text = clean(text)
        if len(text) < min_length:
            raise ValueError("must not be empty (spaces and invisible characters do not count)")
        if len(text) > max_length:
            raise ValueError(f"should have at most {max_length} characters")
        return text

    return check


def _schema(max_length: int, min_length: int = 1) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "minLength": min_length, "maxLength": max_length})


# Text normalised and checked by webapp.text.clean, then measured.
NameText = Annotated[str, AfterValidator(_cleaned(NAME_MAX)), _schema(NAME_MAX)]
QuestionText = Annotated[str, AfterValidator(_cleaned(QUESTION_MAX)), _schema(QUESTION_MAX)]
OptionText = Annotated[str, AfterValidator(_cleaned(OPTION_MAX)), _schema(OPTION_MAX)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
# An email as typed at sign-in: any text without control characters (looked up, not stored).
EmailText = Annotated[str, AfterValidator(_cleaned(EMAIL_MAX)), _schema(EMAIL_MAX)]


class StrictModel(BaseModel):
    """Unknown fields and wrong types are errors, not silently coerced."""

    model_config = ConfigDict(extra="forbid", strict=True)
