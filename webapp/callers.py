"""Who is calling: the account behind a request's bearer token or behind the browser's
session cookie. The API, the pages and the live stream all ask here, once per request (the
answer is kept on `g`), and the process keeps known tokens for a few seconds
(webapp/tokencache.py)."""

from __future__ import annotations

from quart import current_app, g
from quart_auth import current_user
from werkzeug.datastructures import Headers

from webapp.accounts import Account, token_digest, token_holder
from webapp.tokencache import TokenCache


def bearer_token(headers: Headers) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if there is one."""
    scheme, _, token = headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def token_account(token: str) -> Account | None:
    """The account a bearer or session token belongs to (None: unknown, expired or revoked)."""
    cache: TokenCache = current_app.extensions["tokens"]
    digest = token_digest(token)
    account = cache.get(digest)
    if account is not None:
        return account
    held = await token_holder(digest)
    if held is None:
        return None
    cache.put(digest, *held)
    return held[0]


async def session_account() -> Account | None:
    """The account (or guest) behind this browser's cookie, if any."""
    if "session_account" not in g:
        token = current_user.auth_id
        g.session_account = await token_account(token) if token else None
    account: Account | None = g.session_account
    return account
