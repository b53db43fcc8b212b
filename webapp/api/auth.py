"""Bearer-token authentication for the JSON API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, TypeVar

from quart import g, request
from quart_schema import security_scheme

from webapp import callers
from webapp.accounts import Account
from webapp.errors import Unauthorized

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


def bearer_token() -> str | None:
    return callers.bearer_token(request.headers)


async def current_account() -> Account | None:
    """The caller, or None when no credentials were sent; a bad token is a 401, not anonymity."""
    if "account" not in g:
        token = bearer_token()
        account = await callers.token_account(token) if token else None
        if token and account is None:
            raise Unauthorized("The token is invalid, expired or revoked.")
        g.account = account
    return g.account


def login_required(handler: F) -> F:
    """Reject anonymous callers with 401 before the body is read; pass `account` in."""

    @security_scheme(BEARER)
    @wraps(handler)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        account = await current_account()
        if account is None:
            raise Unauthorized("Sign in: send 'Authorization: Bearer <token>'.")
        return await handler(*args, account=account, **kwargs)

    return wrapper  # type: ignore[return-value]
