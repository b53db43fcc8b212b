"""Bearer tokens: sign in and sign out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from quart import Blueprint, current_app
from quart_schema import validate_request, validate_response

from webapp import accounts
from webapp.accounts import Account
from webapp.api.auth import bearer_token, login_required
from webapp.api.contract import problems
from webapp.clients import limit_sign_in
from webapp.inputs.accounts import TokenCreate

blueprint = Blueprint("tokens", __name__)


@dataclass
class TokenIssued:
    token: str
    token_type: Literal["bearer"]
    user: Account


@blueprint.post("/auth/tokens")
@problems(401, 429)
@validate_request(TokenCreate)
@validate_response(TokenIssued, 201)
async def post_token(data: TokenCreate) -> tuple[TokenIssued, int]:
    """Exchange email and password for a bearer token."""
    await limit_sign_in(data.email)
    account = await accounts.authenticate(
        current_app.extensions["passwords"], data.email.strip(), data.password
    )
    settings = current_app.extensions["settings"]
    token = await accounts.issue_token(account.id, timedelta(days=settings.token_ttl_days))
    return TokenIssued(token=token, token_type="bearer", user=account), 201


@blueprint.delete("/auth/tokens/current")
@login_required
async def delete_current_token(account: Account) -> tuple[str, int]:
    """Revoke the token this request carries."""
    token = bearer_token()
    assert token is not None
    await accounts.revoke_token(token)
    return "", 204
