"""`livepolls demo`: a demo account and a published sample poll, ready to present."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from webapp import accounts, polls
from webapp.passwords import Passwords
from webapp.polls import PollView
from webapp.tables import Poll, User, Voting

DEMO_EMAIL = "demo@livepolls.example"
DEMO_NAME = "Demo presenter"
DEMO_QUESTION = "Which talk should we hear first?"
DEMO_OPTIONS = ["Live data at scale", "Accessible by default", "Shipping on Fridays", "Lunch"]


@dataclass
class Demo:
    email: str
    password: str
    poll: PollView


async def ensure_demo(passwords: Passwords) -> Demo:
    """Create the demo account and poll, or reuse them; the password is new each time."""
    password = secrets.token_urlsafe(9)
    row = await User.select(User.id).where(User.email == DEMO_EMAIL).first()
    if row is None:
        account = await accounts.create_user(passwords, DEMO_NAME, DEMO_EMAIL, password)
        user_id = account.id
    else:
        user_id = row["id"]
        await User.update({User.password_hash: await passwords.hash(password)}).where(
            User.id == user_id
        )
    existing = (
        await Poll.select(Poll.id)
        .where(Poll.creator == user_id, Poll.question == DEMO_QUESTION, Poll.is_published == True)  # noqa: E712
        .order_by(Poll.id, ascending=False)
        .first()
    )
    if existing is not None:
        poll = await polls.get_poll(existing["id"], user_id)
    else:
        poll = await polls.create_poll(
            user_id, DEMO_QUESTION, DEMO_OPTIONS, is_published=True, voting=Voting.guests
        )
    return Demo(DEMO_EMAIL, password, poll)
