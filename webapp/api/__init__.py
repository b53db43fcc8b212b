"""The versioned JSON API under /api/v1."""

from __future__ import annotations

from quart import Blueprint, request
from werkzeug.exceptions import UnsupportedMediaType

from webapp.api import integrity, polls, tokens, users, votes

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
for child in (
    users.blueprint,
    tokens.blueprint,
    polls.blueprint,
    votes.blueprint,
    integrity.blueprint,
):
    blueprint.register_blueprint(child)


@blueprint.before_request
async def require_json_body() -> None:
    """Bodies must be JSON: anything else is a 415 before any handler runs."""
    if request.method in {"POST", "PUT", "PATCH"} and not request.is_json:
        raise UnsupportedMediaType("Send the body as JSON with 'Content-Type: application/json'.")
