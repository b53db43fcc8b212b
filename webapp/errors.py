"""Domain errors. The API turns each into an RFC 9457 problem response."""

from __future__ import annotations

import math
from typing import Any


class DomainError(Exception):
    status = 400
    title = "Bad request"
    slug = "bad-request"
    rule: str | None = None  # the integrity rule that refused it, for the poll's report

    def __init__(self, detail: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class Unauthorized(DomainError):
    status = 401
    title = "Unauthorized"
    slug = "unauthorized"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"
    slug = "forbidden"


class NotFound(DomainError):
    status = 404
    title = "Not found"
    slug = "not-found"


class Conflict(DomainError):
    status = 409
    title = "Conflict"
    slug = "conflict"


class Invalid(DomainError):
    status = 422
    title = "Validation failed"
    slug = "validation"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, [{"field": field, "message": message, "type": "invalid"}])


class TooManyRequests(DomainError):
    status = 429
    title = "Too many requests"
    slug = "rate-limited"

    def __init__(self, detail: str, retry_after: int) -> None:
        minutes = math.ceil(retry_after / 60)
        wait = f"{retry_after} seconds" if retry_after < 120 else f"{minutes} minutes"
        super().__init__(f"{detail} Try again in {wait}.")
        self.retry_after = retry_after
