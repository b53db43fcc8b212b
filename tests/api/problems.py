"""Assertions on RFC 9457 problem responses, shared by the API tests."""

from __future__ import annotations

from typing import Any

from quart.wrappers import Response

PROBLEM_JSON = "application/problem+json"


async def assert_problem(response: Response, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status; return its body."""
    assert response.status_code == status, await response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    body = await response.get_json()
    assert isinstance(body, dict)
    assert isinstance(body["type"], str) and body["type"]
    assert isinstance(body["title"], str) and body["title"]
    assert body["status"] == status
    assert isinstance(body["detail"], str) and body["detail"]
    return body


async def assert_validation_problem(response: Response, field: str) -> dict[str, Any]:
    """A 422 problem whose `errors` list names `field`."""
    body = await assert_problem(response, 422)
    assert isinstance(body["errors"], list) and body["errors"]
    fields = [error["field"] for error in body["errors"]]
    assert field in fields, fields
    return body
