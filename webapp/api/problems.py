"""The API's errors: RFC 9457 problems (`application/problem+json`), fields named for 422."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from quart import Response, json

PROBLEM_TYPE = "https://livepolls.dev/problems/"


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


def field_errors(error: ValidationError | Exception) -> list[dict[str, Any]]:
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
