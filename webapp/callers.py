"""Who is calling: the account behind a request's bearer token or behind the browser's
session cookie. The API, the pages and the live stream all ask here, once per request (the
answer is kept on `g`)."""

from __future__ import annotations

from quart import g
from quart_auth import current_user
from werkzeug.datastructures import Headers

from webapp.accounts import Account, account_for_token


def bearer_token(headers: Headers) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if there is one."""
    scheme, _, token = headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def token_account(token: str) -> Account | None:
    """The account a bearer token belongs to (None: unknown, expired or revoked)."""
    return await account_for_token(token)


async def session_account() -> Account | None:
    """The account (or guest) behind this browser's cookie, if any."""
    if "session_account" not in g:
        token = current_user.auth_id
        g.session_account = await account_for_token(token) if token else None
    account: Account | None = g.session_account
    return account
