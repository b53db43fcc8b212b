"""An account as people send it: sign-up and sign-in (the API and the forms)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from webapp.inputs.fields import AccountEmail, EmailText, NameText, StrictModel
from webapp.passwords import MAX_LENGTH, MIN_LENGTH


class UserCreate(StrictModel):
    name: NameText
    email: AccountEmail
    password: Annotated[str, Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH)]


class TokenCreate(StrictModel):
    email: EmailText
    password: Annotated[str, Field(min_length=1, max_length=MAX_LENGTH)]
