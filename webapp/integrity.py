"""A poll's integrity report, for its creator: who voted how, what was refused, from where.

Ballots come from the ballot table (one row per voter with a vote in the poll, with its kind
and a keyed hash of its network), refusals from the per-minute counters webapp/refusals.py
keeps, votes per minute from the votes themselves. Networks appear only as keyed hashes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from webapp.db import is_postgres
from webapp.errors import Forbidden
from webapp.polls import poll_row
from webapp.refusals import RULES
from webapp.tables import Ballot, Voting

TOP_NETWORKS = 10
MINUTES = 60

BALLOTS_SQL = "SELECT kind, count(*) AS n FROM ballot WHERE poll = {} GROUP BY kind"
NETWORKS_SQL = (
    "SELECT network, count(*) AS n, sum(CASE WHEN kind = 'guest' THEN 1 ELSE 0 END) AS guests"
    " FROM ballot WHERE poll = {} AND network <> ''"
    " GROUP BY network ORDER BY n DESC, network LIMIT {}"
)
REFUSALS_SQL = "SELECT rule, sum(attempts) AS n FROM refusal WHERE poll = {} GROUP BY rule"
CODES_SQL = (
    "SELECT count(*) AS issued, count(redeemed_at) AS redeemed FROM invite_code WHERE poll = {}"
)
# Minutes since the Unix epoch, per engine (the only statement here that differs).
_MINUTE = {
    True: "CAST(floor(extract(epoch FROM created_at) / 60) AS bigint)",
    False: "CAST(strftime('%s', created_at) AS INTEGER) / 60",
}
PER_MINUTE_SQL = (
    "SELECT {minute} AS minute, count(*) AS n FROM vote WHERE poll = {{}} AND created_at > {{}}"
    " GROUP BY 1 ORDER BY 1"
)


@dataclass
class BallotCounts:
    accounts: int = 0
    guests: int = 0
    codes: int = 0
    total: int = 0


@dataclass
class NetworkBallots:
    network: str  # a keyed hash of the network, never the address
    ballots: int
    guests: int


@dataclass
class MinuteVotes:
    minute: datetime
    votes: int


@dataclass
class InviteCodeCounts:
    issued: int
    redeemed: int


@dataclass
class IntegrityReport:
    poll_id: int
    voting: Voting
    guest_network_cap: int
    ballots: BallotCounts
    refused: dict[str, int]
    top_networks: list[NetworkBallots]
    votes_per_minute: list[MinuteVotes]
    invite_codes: InviteCodeCounts
    refused_total: int = 0
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))


async def report(poll_id: int, user_id: int) -> IntegrityReport:
    """The report for the poll's creator; anyone else is refused."""
    row = await poll_row(poll_id, user_id)
    if row["creator"] != user_id:
        raise Forbidden("Only the poll's creator can see its integrity report.")
    ballots = BallotCounts()
    for item in await Ballot.raw(BALLOTS_SQL, poll_id):
        kind = {"account": "accounts", "guest": "guests", "code": "codes"}[item["kind"]]
        setattr(ballots, kind, int(item["n"]))
        ballots.total += int(item["n"])
    refused = dict.fromkeys(RULES, 0)
    for item in await Ballot.raw(REFUSALS_SQL, poll_id):
        refused[item["rule"]] = int(item["n"])
    networks = [
        NetworkBallots(item["network"], int(item["n"]), int(item["guests"] or 0))
        for item in await Ballot.raw(NETWORKS_SQL, poll_id, TOP_NETWORKS)
    ]
    since = datetime.now(UTC) - timedelta(minutes=MINUTES)
    sql = PER_MINUTE_SQL.format(minute=_MINUTE[is_postgres()])
    per_minute = [
        MinuteVotes(datetime.fromtimestamp(int(item["minute"]) * 60, UTC), int(item["n"]))
        for item in await Ballot.raw(sql, poll_id, since)
    ]
    codes = (await Ballot.raw(CODES_SQL, poll_id))[0]
    return IntegrityReport(
        poll_id=poll_id,
        voting=Voting(row["voting"]),
        guest_network_cap=row["guest_network_cap"] or 0,
        ballots=ballots,
        refused=refused,
        top_networks=networks,
        votes_per_minute=per_minute,
        invite_codes=InviteCodeCounts(int(codes["issued"]), int(codes["redeemed"])),
        refused_total=sum(refused.values()),
    )
