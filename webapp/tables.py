"""Piccolo tables. The schema itself is created only by piccolo_migrations/."""

from enum import StrEnum

from piccolo.columns import (
    M2M,
    Boolean,
    DoublePrecision,
    ForeignKey,
    Integer,
    LazyTableReference,
    OnDelete,
    Serial,
    SmallInt,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Voting(StrEnum):
    """Who may vote in a poll (the duplicate-check ladder); the server enforces it."""

    accounts = "accounts"  # signed-in accounts only
    guests = "guests"  # accounts, and guests: one ballot per browser, a cap per network
    invite_codes = "invite_codes"  # only holders of the creator's one-time invite codes


class BallotKind(StrEnum):
    account = "account"
    guest = "guest"
    code = "code"


class Kind(StrEnum):
    """What a poll asks for (docs/question_types.md); fixed once the poll is published."""

    choice = "choice"  # votes for options (PollOption, Vote)
    word_cloud = "word_cloud"  # up to `answers_per_person` short answers each
    scale = "scale"  # one rating 1 .. `scale_points` each
    ranking = "ranking"  # one complete order of the options each
    open_text = "open_text"  # one text answer each
    qa = "qa"  # audience questions and upvotes


class ResultsVisibility(StrEnum):
    """When voters see the results; the creator always does."""

    always = "always"
    after_vote = "after_vote"
    after_close = "after_close"


NAME_MAX = 100
EMAIL_MAX = 254
QUESTION_MAX = 300
OPTION_MAX = 200
IDEMPOTENCY_KEY_MAX = 255


class User(Table, tablename="app_user"):
    """An account, or a guest (a display name only, no email or password).

    Account emails are unique regardless of case (a partial unique index on lower(email)).
    """

    id = Serial(primary_key=True)

    name = Varchar(length=NAME_MAX)
    email = Varchar(length=EMAIL_MAX)
    password_hash = Varchar(length=255, secret=True)
    is_guest = Boolean(default=False)
    created_at = Timestamptz(default=TimestamptzNow())
    options = M2M(LazyTableReference("Vote", module_path=__name__))


class AuthToken(Table):
    """A bearer token, stored only as its SHA-256 digest."""

    id = Serial(primary_key=True)

    token_hash = Varchar(length=64, unique=True)
    user = ForeignKey(User, on_delete=OnDelete.cascade, null=False)
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()


class Poll(Table):
    """A question with options; `voters` and `seq` are kept by the vote transaction.

    `opens_at`/`closes_at` schedule voting (webapp/schedule.py); `closed_at` is when voting
    did close (by hand, or set to `closes_at` once that passed).
    """

    id = Serial(primary_key=True)

    question = Varchar(length=QUESTION_MAX)
    is_published = Boolean(default=False)
    allows_multiple = Boolean(default=False)
    creator = ForeignKey(User, on_delete=OnDelete.cascade, null=False, index=True)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    closed_at = Timestamptz(null=True, default=None)
    voters = Integer(default=0)
    seq = Integer(default=0)
    voting = Varchar(length=16, default="accounts", choices=Voting)
    # New guest ballots one client network may cast in this poll per window; null: no cap.
    guest_network_cap = Integer(null=True, default=None)
    join_code = Varchar(length=8, null=True, default=None)
    results_visibility = Varchar(length=16, default="always", choices=ResultsVisibility)
    results_hidden = Boolean(default=False)
    opens_at = Timestamptz(null=True, default=None)
    closes_at = Timestamptz(null=True, default=None)
    # The kind and its settings (#15): the database refuses a setting of another kind.
    kind = Varchar(length=16, default="choice", choices=Kind)
    answers_per_person = SmallInt(null=True, default=None)  # word_cloud
    scale_points = SmallInt(null=True, default=None)  # scale: ratings 1 .. scale_points
    scale_low = Varchar(length=60, null=True, default=None)  # scale: the label of 1
    scale_high = Varchar(length=60, null=True, default=None)  # scale: the label of the top
    premoderated = Boolean(default=False)  # open_text, qa: the owner approves each entry
    allows_anonymous = Boolean(default=False)  # qa: askers may hide their name


class PollOption(Table):
    """One choice of a poll; `votes` is its running count."""

    id = Serial(primary_key=True)

    text = Varchar(length=OPTION_MAX)
    position = Integer()
    poll = ForeignKey(Poll, on_delete=OnDelete.cascade, null=False, index=True)
    votes = Integer(default=0)
    voters = M2M(LazyTableReference("Vote", module_path=__name__))


class Vote(Table):
    """The M2M joining table between User and PollOption.

    `poll` and `single_choice` are copies that let unique indexes enforce the invariants:
    one vote per (user, option), and one per (user, poll) where the poll is single-choice.
    """

    user = ForeignKey(User, on_delete=OnDelete.cascade, null=False)
    option = ForeignKey(PollOption, on_delete=OnDelete.cascade, null=False)
    poll = ForeignKey(Poll, on_delete=OnDelete.cascade, null=False)
    single_choice = Boolean()
    created_at = Timestamptz(default=TimestamptzNow())


class Ballot(Table):
    """One voter's ballot in a poll, present while they have at least one vote there.

    `kind` says how the voter got in; `device` is the voter's browser (a keyed hash of its
    device cookie) and `network` a keyed hash of the client's network (an IPv4 address or an
    IPv6 /64), never the address itself. Unique indexes: one ballot per (poll, user) and one
    guest ballot per (poll, device); a guest's first vote is also refused, under the poll's
    lock, where the browser already holds an account's or a code's ballot.
    """

    id = Serial(primary_key=True)

    poll = ForeignKey(Poll, on_delete=OnDelete.cascade, null=False)
    user = ForeignKey(User, on_delete=OnDelete.cascade, null=False)
    kind = Varchar(length=8, choices=BallotKind)
    device = Varchar(length=32, null=True, default=None)
    network = Varchar(length=32)
    created_at = Timestamptz(default=TimestamptzNow())


class InviteCode(Table):
    """A one-time invite code: redeemed once, it becomes one voter (`user`) in its poll."""

    id = Serial(primary_key=True)

    poll = ForeignKey(Poll, on_delete=OnDelete.cascade, null=False, index=True)
    code = Varchar(length=16, unique=True)
    user = ForeignKey(User, on_delete=OnDelete.set_null, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    redeemed_at = Timestamptz(null=True, default=None)


class Refusal(Table):
    """Attempts refused in a poll, counted per rule and minute (bounded: one row each)."""

    id = Serial(primary_key=True)

    poll = ForeignKey(Poll, on_delete=OnDelete.cascade, null=False)
    rule = Varchar(length=16)
    minute = Integer()  # minutes since the Unix epoch
    attempts = Integer(default=0)


class RateLimitCounter(Table, tablename="rate_limit"):
    """Fixed-window rate-limit counters shared by every worker (webapp/ratelimit_store.py)."""

    key = Varchar(length=128, primary_key=True)
    hits = Integer(default=0)
    expires_at = DoublePrecision()  # seconds since the Unix epoch


class IdempotencyKey(Table):
    """A vote request's `Idempotency-Key` and its outcome (webapp/idempotency.py).

    Written in the same transaction as the vote it answers, so a key is stored exactly when
    its vote counted (or its refusal was final). One key per (user, key): a unique index.
    `fingerprint` is a SHA-256 of what the request asked for (method, route, poll, option);
    `status` and `body` are the answer to repeat; rows go once `expires_at` has passed.
    """

    id = Serial(primary_key=True)

    user = ForeignKey(User, on_delete=OnDelete.cascade, null=False)
    key = Varchar(length=IDEMPOTENCY_KEY_MAX)
    fingerprint = Varchar(length=64)
    status = Integer()
    body = Text()
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()


class EventMode(StrEnum):
    """Who moves through an event's questions."""

    presenter = "presenter"  # the presenter: every phone shows the current question
    self_paced = "self_paced"  # each member of the audience, on their own


TITLE_MAX = 200


class Event(Table):
    """A presenter's session: one join code for an ordered list of polls (its questions).

    `seq` grows with every change, as a poll's does. The current question is the
    `event_question` row with `is_current` (a partial unique index: at most one per event,
    and being a row of the event's own questions it is always one of them).
    """

    id = Serial(primary_key=True)

    title = Varchar(length=TITLE_MAX)
    owner = ForeignKey(User, on_delete=OnDelete.cascade, null=False, index=True)
    join_code = Varchar(length=8, unique=True)
    mode = Varchar(length=16, default="presenter", choices=EventMode)
    opens_at = Timestamptz(null=True, default=None)
    closes_at = Timestamptz(null=True, default=None)
    seq = Integer(default=0)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class EventQuestion(Table):
    """A poll's place in an event: a poll is in at most one event (unique), positions are
    unique within an event, and at most one question per event is current."""

    id = Serial(primary_key=True)

    event = ForeignKey(Event, on_delete=OnDelete.cascade, null=False)
    poll = ForeignKey(Poll, on_delete=OnDelete.cascade, null=False, unique=True)
    position = Integer()
    is_current = Boolean(default=False)
