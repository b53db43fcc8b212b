"""Field types and the strict base model that every request body uses."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from webapp.tables import NAME_MAX, OPTION_MAX, QUESTION_MAX

MAX_ID = 2**31 - 1

NameText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX)
]
QuestionText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=QUESTION_MAX)
]
OptionText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=OPTION_MAX)
]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class StrictModel(BaseModel):
    """Unknown fields and wrong types are errors, not silently coerced."""

    model_config = ConfigDict(extra="forbid", strict=True)
