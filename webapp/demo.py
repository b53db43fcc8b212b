"""`livepolls demo`: a demo account, a published sample poll and a sample event of a few
questions (#14), ready to present."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from webapp import accounts, events, polls
from webapp.events import EventView
from webapp.inputs.events import EventCreate
from webapp.passwords import Passwords
from webapp.polls import PollView
from webapp.tables import Event, Poll, User, Voting

DEMO_EMAIL = "demo@livepolls.example"
DEMO_NAME = "Demo presenter"
DEMO_QUESTION = "Which talk should we hear first?"
DEMO_OPTIONS = ["Live data at scale", "Accessible by default", "Shipping on Fridays", "Lunch"]
DEMO_EVENT_TITLE = "Sample talk: live polls in practice"
# (question, options, several answers allowed)
DEMO_EVENT_QUESTIONS = [
    ("How did you get here today?", ["Train", "Bike", "Car", "On foot"], False),
    ("How often do you run polls in your talks?", ["Never", "Sometimes", "Every talk"], False),
    (
        "Which features matter most to you?",
        ["Join by QR code", "Live results", "Countdowns", "Export"],
        True,
    ),
    ("Would you come to the next one?", ["Yes", "Maybe", "No"], False),
]


@dataclass
class Demo:
    email: str
    password: str
    poll: PollView
    event: EventView


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
    return Demo(DEMO_EMAIL, password, poll, await _ensure_event(user_id))


async def _ensure_event(user_id: int) -> EventView:
    """The sample event, presenter-paced, its questions open to guests; reused if there."""
    existing = (
        await Event.select(Event.id)
        .where(Event.owner == user_id, Event.title == DEMO_EVENT_TITLE)
        .order_by(Event.id, ascending=False)
        .first()
    )
    if existing is not None:
        return await events.get_event(existing["id"], user_id)
    poll_ids = []
    for question, options, several in DEMO_EVENT_QUESTIONS:
        poll = await polls.create_poll(
            user_id,
            question,
            options,
            is_published=True,
            allows_multiple=several,
            voting=Voting.guests,
        )
        poll_ids.append(poll.id)
    return await events.create_event(
        user_id, EventCreate(title=DEMO_EVENT_TITLE, poll_ids=poll_ids)
    )
