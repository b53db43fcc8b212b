"""Accounts and bearer tokens."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from piccolo.query.functions.string import Lower

from webapp import notices
from webapp.db import is_unique_violation
from webapp.errors import Conflict, Unauthorized
from webapp.passwords import Passwords
from webapp.tables import AuthToken, User


@dataclass
class Account:
    id: int
    name: str
    email: str | None
    created_at: datetime
    is_guest: bool = False
    # The poll whose invite code made this voter (a guest-like user that votes only there).
    invited_to: int | None = None


USER_COLUMNS = (User.id, User.name, User.email, User.created_at, User.is_guest)


# Plain SQL (the same on PostgreSQL and SQLite): every authenticated request runs it, and
# Piccolo's join through the foreign key cost more CPU than the query itself.
ACCOUNT_FOR_TOKEN_SQL = (
    "SELECT t.expires_at, u.id, u.name, u.email, u.created_at, u.is_guest,"
    ' CASE WHEN u.is_guest THEN (SELECT i.poll FROM invite_code i WHERE i."user" = u.id)'
    " END AS invited_to"
    ' FROM auth_token t JOIN app_user u ON u.id = t."user" WHERE t.token_hash = {}'
)


def _account(row: dict) -> Account:
    return Account(
        id=row["id"],
        name=row["name"],
        email=None if row["is_guest"] else row["email"],
        created_at=row["created_at"],
        is_guest=row["is_guest"],
        invited_to=row.get("invited_to"),
    )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_user(passwords: Passwords, name: str, email: str, password: str) -> Account:
    """Create an account; a taken email (in any case) raises Conflict."""
    password_hash = await passwords.hash(password)
    user = User(name=name, email=email, password_hash=password_hash)
    try:
        await user.save()
    except Exception as exc:
        if is_unique_violation(exc):
            raise Conflict("An account with this email already exists.") from exc
        raise
    row = await User.select(*USER_COLUMNS).where(User.id == user.id).first()
    assert row is not None
    return _account(row)


async def create_guest(name: str) -> Account:
    """A guest: a display name only; it can vote where polls allow guests, never sign in."""
    guest = User(name=name, email="", password_hash="", is_guest=True)
    await guest.save()
    account = await get_account(guest.id)
    assert account is not None
    return account


async def get_account(user_id: int) -> Account | None:
    row = await User.select(*USER_COLUMNS).where(User.id == user_id).first()
    return _account(row) if row else None


async def authenticate(passwords: Passwords, email: str, password: str) -> Account:
    """The account for these credentials; an unknown email and a wrong password fail alike."""
    row = (
        await User.select(*USER_COLUMNS, User.password_hash)
        .where(Lower(User.email) == email.lower(), User.is_guest == False)  # noqa: E712
        .first()
    )
    if not await passwords.verify(row["password_hash"] if row else None, password) or not row:
        raise Unauthorized("Wrong email or password.")
    if passwords.needs_rehash(row["password_hash"]):
        new_hash = await passwords.hash(password)
        await User.update({User.password_hash: new_hash}).where(User.id == row["id"])
    return _account(row)


async def issue_token(user_id: int, ttl: timedelta) -> str:
    token = secrets.token_urlsafe(32)
    await AuthToken.insert(
        AuthToken(token_hash=_digest(token), user=user_id, expires_at=datetime.now(UTC) + ttl)
    )
    return token


def token_digest(token: str) -> str:
    """What the database keeps of a token (and what revocations name)."""
    return _digest(token)


async def token_holder(digest: str) -> tuple[Account, datetime] | None:
    """The account a token (by digest) belongs to and the token's expiry; None when the
    token is unknown or expired. One query: every request that is not cached runs it."""
    rows = await AuthToken.raw(ACCOUNT_FOR_TOKEN_SQL, digest)
    row = rows[0] if rows else None
    if row is None or row["expires_at"] <= datetime.now(UTC):
        return None
    return _account(row), row["expires_at"]


async def account_for_token(token: str) -> Account | None:
    """The account a bearer or session token belongs to, read from the database."""
    held = await token_holder(_digest(token))
    return held[0] if held else None


async def revoke_token(token: str) -> None:
    digest = _digest(token)
    await AuthToken.delete().where(AuthToken.token_hash == digest)
    notices.revoked(notices.Revoked(digests=(digest,)))
