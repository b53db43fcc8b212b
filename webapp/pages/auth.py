"""Sign up, sign in, sign out, and joining as a guest."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from quart import Blueprint, current_app, redirect, render_template, request, url_for

from webapp import accounts
from webapp.api.models import NameText
from webapp.api.tokens import TokenCreate
from webapp.api.users import UserCreate
from webapp.errors import Conflict, Unauthorized
from webapp.pages.forms import safe_next, validate
from webapp.pages.session import end_session, start_session

blueprint = Blueprint("auth", __name__)


class GuestJoin(BaseModel):
    name: NameText


@blueprint.route("/signup", methods=["GET", "POST"])
async def signup() -> Any:
    """Create an account and sign in."""
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = await request.form
        values = {key: form.get(key, "") for key in ("name", "email", "password")}
        data, errors = validate(UserCreate, values)
        if data is not None:
            try:
                account = await accounts.create_user(
                    current_app.extensions["passwords"], data.name, data.email, data.password
                )
            except Conflict as exc:
                errors = {"email": exc.detail}
            else:
                await start_session(account)
                return redirect(safe_next(url_for("home.index")), 303)
    values.pop("password", None)
    status = 422 if errors else 200
    return await render_template("auth/signup.html", values=values, errors=errors), status


@blueprint.route("/signin", methods=["GET", "POST"])
async def signin() -> Any:
    """Sign in with email and password."""
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = await request.form
        values = {key: form.get(key, "") for key in ("email", "password")}
        data, errors = validate(TokenCreate, values)
        if data is not None:
            try:
                account = await accounts.authenticate(
                    current_app.extensions["passwords"], data.email.strip(), data.password
                )
            except Unauthorized as exc:
                errors = {"form": exc.detail}
            else:
                await start_session(account)
                return redirect(safe_next(url_for("home.index")), 303)
    values.pop("password", None)
    status = 422 if errors else 200
    return await render_template("auth/signin.html", values=values, errors=errors), status


@blueprint.post("/signout")
async def signout() -> Any:
    """Sign out: the session token is revoked at once."""
    await end_session()
    return redirect(url_for("home.index"), 303)


@blueprint.post("/guest")
async def join_as_guest() -> Any:
    """Become a guest with just a display name, then return to the poll."""
    form = await request.form
    data, errors = validate(GuestJoin, {"name": form.get("name", "")})
    target = safe_next(url_for("home.index"))
    if data is None:
        return await render_template("auth/guest.html", errors=errors, next=target, values={}), 422
    await start_session(await accounts.create_guest(data.name))
    return redirect(target, 303)
