"""Form handling shared by the pages: validate with the API's models, errors per field."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from quart import redirect, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], data: dict[str, Any]) -> tuple[M | None, dict[str, str]]:
    """The model, or None and one message per field (the first error for each)."""
    try:
        return model.model_validate(data), {}
    except ValidationError as error:
        errors: dict[str, str] = {}
        for item in error.errors(include_url=False):
            field = str(item["loc"][0]) if item["loc"] else "form"
            message = item["msg"].removeprefix("Value error, ")
            errors.setdefault(field, message[:1].upper() + message[1:])
        return None, errors


def form_number(raw: str, digits: int = 10) -> int | None:
    """A whole number as typed in a form (ASCII digits only: "²" and "١" are digits to
    str.isdigit but not to int), or None."""
    raw = raw.strip()
    if raw.isascii() and raw.isdigit() and len(raw) <= digits:
        return int(raw)
    return None


def retry_headers(error: Exception) -> dict[str, str]:
    """Retry-After for a refusal that says when to come back (a rate limit, a cap)."""
    retry_after = getattr(error, "retry_after", None)
    return {"Retry-After": str(retry_after)} if retry_after else {}


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


SAFE_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9/_\-.~?=&%+]*")


def safe_next(default: str) -> str:
    """A same-site path to return to after a form; never an open redirect.

    Only a plain path is accepted: browsers read "\\" as "/" and drop tabs and newlines, so
    anything that could turn into "//host" is refused.
    """
    target = request.args.get("next", "")
    if not SAFE_PATH.fullmatch(target) or "%" in target.split("?", 1)[0]:
        return default
    return target


def back_to_poll(poll_id: int) -> WerkzeugResponse:
    return redirect(url_for("polls.show_poll", poll_id=poll_id), 303)
