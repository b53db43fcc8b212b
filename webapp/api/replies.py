"""A keyed request's outcome (webapp/idempotency.py) as the response it gets, the first
time and on every replay: the same status and body, marked `Idempotent-Replayed` when it
is a replay; a stored refusal as the problem it was."""

from __future__ import annotations

from typing import Any

from webapp import idempotency
from webapp.api.problems import problem
from webapp.idempotency import Outcome
from webapp.results import Results
from webapp.serialize import adapter


def replied(outcome: Outcome, model: type = Results) -> Any:
    """The response for `outcome`, its body read back as `model`."""
    headers = {idempotency.REPLAYED_HEADER: "true"} if outcome.replayed else {}
    error = outcome.error()
    if error is not None:
        response = problem(error.status, error.title, error.detail, error.slug, error.errors)
        response.headers.update(headers)
        return response
    if outcome.body:
        return adapter(model).validate_json(outcome.body), outcome.status, headers
    return "", outcome.status, headers
