"""Sign up, sign in, sign out, and joining as a guest."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from quart import Blueprint, current_app, redirect, render_template, request, url_for

from webapp import accounts
from webapp.clients import client_key, device_id, ensure_device, limit, limit_sign_in
from webapp.errors import Conflict, TooManyRequests, Unauthorized
from webapp.inputs.accounts import TokenCreate, UserCreate
from webapp.inputs.fields import NameText
from webapp.pages.forms import safe_next, validate
from webapp.pages.session import end_session, start_session

blueprint = Blueprint("auth", __name__)


class GuestJoin(BaseModel):
    name: NameText


async def _form_again(template: str, values: dict[str, str], error: TooManyRequests) -> Any:
    """The form again, saying why and for how long it is refused (429, Retry-After)."""
    values.pop("password", None)
    page = await render_template(template, values=values, errors={"form": error.detail})
    return page, 429, {"Retry-After": str(error.retry_after)}


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
                await limit("signup", client_key())
            except TooManyRequests as exc:
                return await _form_again("auth/signup.html", values, exc)
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
                await limit_sign_in(data.email)
            except TooManyRequests as exc:
                return await _form_again("auth/signin.html", values, exc)
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
    try:
        await limit("guest", client_key())
    except TooManyRequests as exc:
        page = await render_template(
            "auth/guest.html", errors={"name": exc.detail}, next=target, values={}
        )
        return page, 429, {"Retry-After": str(exc.retry_after)}
    await start_session(await accounts.create_guest(data.name))
    response = redirect(target, 303)
    # The browser's device id outlives this guest: a new guest here is the same browser.
    ensure_device(response, device_id())
    return response
