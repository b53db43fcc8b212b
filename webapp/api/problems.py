"""RFC 9457 problem responses for every error under /api (and the OpenAPI document)."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from quart import Quart, Response, json, request
from quart_schema.validation import QuerystringValidationError, RequestSchemaValidationError
from werkzeug.exceptions import HTTPException

from webapp.errors import DomainError

PROBLEM_TYPE = "https://livepolls.dev/problems/"
log = logging.getLogger(__name__)


def problem(
    status: int, title: str, detail: str, slug: str, errors: list[dict[str, Any]] | None = None
) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    response = Response(json.dumps(body), status=status, content_type="application/problem+json")
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="livepolls"'
    return response


def _field_errors(error: ValidationError | Exception) -> list[dict[str, Any]]:
    if not isinstance(error, ValidationError):
        return [{"field": "", "message": str(error), "type": "invalid"}]
    return [
        {
            "field": ".".join(str(part) for part in item["loc"]),
            "message": item["msg"],
            "type": item["type"],
        }
        for item in error.errors(include_url=False)
    ]


def _is_api() -> bool:
    return request.path.startswith("/api/") or request.path == "/openapi.json"


def register(app: Quart) -> None:
    @app.errorhandler(DomainError)
    async def domain_error(error: DomainError) -> Response:
        return problem(error.status, error.title, error.detail, error.slug, error.errors)

    @app.errorhandler(RequestSchemaValidationError)
    async def body_invalid(error: RequestSchemaValidationError) -> Response:
        errors = _field_errors(error.validation_error)
        return problem(
            422, "Validation failed", "The request body is not valid.", "validation", errors
        )

    @app.errorhandler(QuerystringValidationError)
    async def query_invalid(error: QuerystringValidationError) -> Response:
        errors = _field_errors(error.validation_error)
        return problem(
            422, "Validation failed", "The query string is not valid.", "validation", errors
        )

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Any:
        if not _is_api():
            return error
        status = error.code or 500
        title = error.name
        return problem(status, title, error.description or title, title.lower().replace(" ", "-"))

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem(
            500, "Internal server error", "Something went wrong on our side.", "internal"
        )
