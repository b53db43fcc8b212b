"""How every error answers: a problem (webapp.api.problems) for the API and WebSocket
handshakes, an HTML page for the browser; a database outage is a 503 with Retry-After,
logged once per outage; anything unexpected is a 500, logged with its traceback."""

from __future__ import annotations

import logging
from typing import Any

from quart import (
    Quart,
    Response,
    has_websocket_context,
    render_template,
    request,
    websocket,
)
from quart_schema.validation import QuerystringValidationError, RequestSchemaValidationError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from webapp import db
from webapp.api.problems import field_errors, problem
from webapp.errors import DomainError

log = logging.getLogger(__name__)


def _path() -> str:
    return websocket.path if has_websocket_context() else request.path


def _is_api() -> bool:
    """JSON problems for the API and for WebSocket handshakes; HTML pages elsewhere."""
    path = _path()
    return has_websocket_context() or path.startswith("/api/") or path == "/openapi.json"


async def _page(status: int, title: str, detail: str) -> Response:
    body = await render_template("error.html", status=status, title=title, detail=detail)
    return Response(body, status=status, content_type="text/html; charset=utf-8")


RETRY_AFTER_S = 5


async def _unavailable() -> Response:
    detail = "The database is not reachable right now: try again in a few seconds."
    if _is_api():
        response = problem(503, "Service unavailable", detail, "unavailable")
    else:
        response = await _page(503, "Service unavailable", detail)
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def register(app: Quart) -> None:
    @app.after_request
    async def note_database_back(response: Response) -> Response:
        if db.outage.since is not None and response.status_code < 500:
            db.outage.up()
        return response

    @app.errorhandler(DomainError)
    async def domain_error(error: DomainError) -> Response:
        if not _is_api():
            response = await _page(error.status, error.title, error.detail)
        else:
            response = problem(error.status, error.title, error.detail, error.slug, error.errors)
        retry_after = getattr(error, "retry_after", None)
        if retry_after:
            response.headers["Retry-After"] = str(retry_after)
        return response

    @app.errorhandler(RequestSchemaValidationError)
    async def body_invalid(error: RequestSchemaValidationError) -> Response:
        errors = field_errors(error.validation_error)
        return problem(
            422, "Validation failed", "The request body is not valid.", "validation", errors
        )

    @app.errorhandler(QuerystringValidationError)
    async def query_invalid(error: QuerystringValidationError) -> Response:
        errors = field_errors(error.validation_error)
        return problem(
            422, "Validation failed", "The query string is not valid.", "validation", errors
        )

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Any:
        status = error.code or 500
        title = error.name
        if not _is_api():
            if error.response is not None:
                return error.response
            response = await _page(status, title, error.description or title)
        else:
            slug = title.lower().replace(" ", "-")
            response = problem(status, title, error.description or title, slug)
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
        return response

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> Response:
        if db.is_unavailable(error):
            db.outage.down(error)  # logged once per outage, not per request
            return await _unavailable()
        log.exception("unhandled error on %s", _path())
        if not _is_api():
            return await _page(500, "Internal server error", "Something went wrong on our side.")
        return problem(
            500, "Internal server error", "Something went wrong on our side.", "internal"
        )
