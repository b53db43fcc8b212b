"""Field types and the strict base model that every request body uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from webapp.routing import MAX_ID
from webapp.tables import EMAIL_MAX, NAME_MAX, OPTION_MAX, QUESTION_MAX
from webapp.text import PATTERN, clean


def cleaned(max_length: int) -> Callable[[str], str]:
    def check(text: str) -> str:
        if len(text) > max_length:
            raise ValueError(f"should have at most {max_length} characters")
        text = clean(text)
        if not text:
            raise ValueError("must not be empty (spaces and invisible characters do not count)")
        if len(text) > max_length:  # a few characters grow under NFC
            raise ValueError(f"should have at most {max_length} characters once normalised")
        return text

    return check


def text_schema(max_length: int) -> dict[str, object]:
    """What `cleaned` accepts, as JSON Schema: the length as sent, and `text.PATTERN`."""
    return {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": PATTERN}


def _schema(max_length: int) -> WithJsonSchema:
    return WithJsonSchema(text_schema(max_length))


# Text normalised and checked by webapp.text.clean, then measured.
NameText = Annotated[str, AfterValidator(cleaned(NAME_MAX)), _schema(NAME_MAX)]
QuestionText = Annotated[str, AfterValidator(cleaned(QUESTION_MAX)), _schema(QUESTION_MAX)]
OptionText = Annotated[str, AfterValidator(cleaned(OPTION_MAX)), _schema(OPTION_MAX)]


def _integral(value: object) -> object:
    """JSON counts 3.0 as an integer, as JSON Schema does: take it as 3 (3.5 is refused)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# For an integer in a body: strict (no "3", no true) but for a float with nothing after the
# point. It goes after the Field: constraints after a validator drop out of the JSON Schema.
INTEGRAL = BeforeValidator(_integral)
Id = Annotated[int, Field(ge=1, le=MAX_ID), INTEGRAL]


def _email(address: str) -> str:
    """An address as email-validator reads it: syntax only, no DNS, and `.test` domains
    allowed (a self-hosted server may well live at one); other special-use names such as
    `.local` are refused."""
    if len(address) > EMAIL_MAX:
        raise ValueError(f"should have at most {EMAIL_MAX} characters")
    if clean(address) != address:
        raise ValueError("must not contain control or invisible characters")
    try:
        checked = validate_email(address, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise ValueError(f"value is not a valid email address: {exc}") from None
    return str(checked.normalized)


# A new account's address.
AccountEmail = Annotated[
    str,
    AfterValidator(_email),
    WithJsonSchema(
        {
            "type": "string",
            "format": "email",
            "maxLength": EMAIL_MAX,
            "description": "Syntax is checked, not delivery. Special-use domains other than "
            "`.test` (such as `.local` or `.onion`) are refused.",
        }
    ),
]
# An email as typed at sign-in: any text without control characters (looked up, not stored).
EmailText = Annotated[str, AfterValidator(cleaned(EMAIL_MAX)), _schema(EMAIL_MAX)]


class StrictModel(BaseModel):
    """Unknown fields and wrong types are errors, not silently coerced."""

    model_config = ConfigDict(extra="forbid", strict=True)
