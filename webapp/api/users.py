"""Accounts: sign up, look up, and the caller."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from quart import Blueprint, current_app, url_for
from quart_schema import validate_request, validate_response

from webapp import accounts
from webapp.accounts import Account
from webapp.api.auth import current_account, login_required
from webapp.api.contract import problems
from webapp.clients import client_key, limit
from webapp.errors import NotFound
from webapp.inputs.accounts import UserCreate

blueprint = Blueprint("users", __name__)


@dataclass
class UserProfile:
    id: int
    name: str
    created_at: datetime
    is_guest: bool
    email: str | None = None


@blueprint.post("/users")
@problems(409, 429)
@validate_request(UserCreate)
@validate_response(Account, 201)
async def post_user(data: UserCreate) -> tuple[Account, int, dict[str, str]]:
    """Create an account."""
    await limit("signup", client_key())
    account = await accounts.create_user(
        current_app.extensions["passwords"], data.name, data.email, data.password
    )
    return account, 201, {"Location": url_for("api.users.get_user", user_id=account.id)}


@blueprint.get("/users/me")
@login_required
@validate_response(Account)
async def get_me(account: Account) -> Account:
    """The signed-in caller, with email."""
    return account


@blueprint.get("/users/<id:user_id>")
@problems(401)
@validate_response(UserProfile)
async def get_user(user_id: int) -> UserProfile:
    """A user's public profile; the email only when it is the caller."""
    account = await accounts.get_account(user_id)
    if account is None:
        raise NotFound("No such user.")
    caller = await current_account()
    email = account.email if caller is not None and caller.id == account.id else None
    return UserProfile(account.id, account.name, account.created_at, account.is_guest, email)
