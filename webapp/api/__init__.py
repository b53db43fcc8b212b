"""The versioned JSON API under /api/v1."""

from __future__ import annotations

import json
from typing import Any

from quart import Blueprint, request
from quart_schema import tag_blueprint
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from webapp.api import (
    answers,
    events,
    integrity,
    polls,
    qa,
    qa_list,
    responses,
    tokens,
    users,
    votes,
    words,
)

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
# Each resource is a group of its own on /docs.
for child, group in (
    (users.blueprint, "Users"),
    (tokens.blueprint, "Tokens"),
    (polls.blueprint, "Polls"),
    (votes.blueprint, "Votes and results"),
    (responses.blueprint, "Responses (other kinds)"),
    (words.blueprint, "Word clouds"),
    (answers.blueprint, "Open-text answers"),
    (qa.blueprint, "Audience Q&A"),
    (qa_list.blueprint, "Audience Q&A"),
    (integrity.blueprint, "Invite codes and integrity"),
    (events.blueprint, "Events"),
):
    tag_blueprint(child, [group])
    blueprint.register_blueprint(child)


@blueprint.before_request
async def require_json_body() -> None:
    """Bodies must be JSON: anything else is a 415, and a body that is not UTF-8 or nests
    too deeply to parse a 400, before any handler runs."""
    if request.method not in {"POST", "PUT", "PATCH"}:
        return
    if not request.is_json:
        raise UnsupportedMediaType("Send the body as JSON with 'Content-Type: application/json'.")
    body = await request.get_data(as_text=False)
    assert isinstance(body, bytes)
    try:
        parsed = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise BadRequest("The body is not valid UTF-8.") from exc
    except RecursionError as exc:
        raise BadRequest("The body is nested too deeply.") from exc
    except ValueError as exc:
        raise BadRequest("The body is not valid JSON.") from exc
    keep_parsed(parsed)


def keep_parsed(parsed: Any) -> None:
    """Hand the parsed body to Quart's own cache of it, so that `request.get_json()` (which
    quart-schema's validation calls) does not decode and parse it a second time. Quart 0.22's
    Request keeps it in `_cached_json`, keyed by `silent` (pinned in pyproject.toml;
    tests/api/test_json_body.py checks that the body is parsed once)."""
    cached = getattr(request, "_cached_json", None)
    if isinstance(cached, dict) and set(cached) == {False, True}:
        cached[False] = cached[True] = parsed
