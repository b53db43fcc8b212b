"""The browser's cookie session (quart-auth) and its CSRF token.

The cookie carries a random session token that is stored hashed, like API tokens, so signing
out revokes it at once. Guests get the same kind of session for their guest user. Who the
cookie belongs to is webapp.callers.session_account.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from itsdangerous import URLSafeTimedSerializer
from quart import Quart, current_app, g, session
from quart.sessions import SecureCookieSessionInterface
from quart_auth import AuthUser, current_user, login_user, logout_user

from webapp.accounts import Account, issue_token, revoke_token


class SignInRequired(Exception):
    """Raised by a page that needs a member; the app redirects to sign in, then back."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class SignedCookieSessions(SecureCookieSessionInterface):
    """Quart's signed-cookie session (it holds the CSRF token), with its signer made once
    per secret key: Quart builds one on every request, API calls included, and itsdangerous
    test-serialises a value each time (about 2% of the CPU of a `GET` of a poll)."""

    _signer: tuple[tuple[object, ...], URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Quart) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, *(app.config["SECRET_KEY_FALLBACKS"] or ()))
        if self._signer is None or self._signer[0] != keys:
            self._signer = (keys, super().get_signing_serializer(app))
        return self._signer[1]


CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


async def start_session(account: Account) -> None:
    """Sign this browser in (replacing, and revoking, any session it had, e.g. a guest's)."""
    previous = current_user.auth_id
    if previous:
        await revoke_token(previous)
    settings = current_app.extensions["settings"]
    token = await issue_token(account.id, timedelta(days=settings.token_ttl_days))
    login_user(AuthUser(token), remember=True)
    session.pop(CSRF_FIELD, None)  # a new CSRF token for the new session
    g.session_account = account


async def end_session() -> None:
    token = current_user.auth_id
    if token:
        await revoke_token(token)
    logout_user()
    session.pop(CSRF_FIELD, None)
    g.session_account = None


def csrf_token() -> str:
    """This session's CSRF token, sent back by forms (a field) and htmx (a header)."""
    if CSRF_FIELD not in session:
        session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return str(session[CSRF_FIELD])


def csrf_valid(submitted: str | None) -> bool:
    expected = session.get(CSRF_FIELD)
    return bool(expected and submitted and secrets.compare_digest(expected, submitted))
