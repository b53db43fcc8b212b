"""Invite codes: the creator issues one-time codes; each, redeemed once, is one voter.

Redeeming a code makes a voter of its own (a guest-like user with no name or password that
may vote only in the code's poll) and binds the code to it in one conditional update, so of
two people redeeming one code at the same moment exactly one gets in. The voter then casts,
and may change, exactly one ballot: the vote table's unique indexes see to that.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from webapp import refusals
from webapp.accounts import Account
from webapp.db import shielded, write_transaction
from webapp.errors import Conflict, Forbidden, Invalid, NotFound
from webapp.polls import JOIN_ALPHABET, normalize_code, poll_row
from webapp.tables import InviteCode, User

CODE_LENGTH = 10
MAX_PER_REQUEST = 500
MAX_PER_POLL = 5000
VOTER_NAME = "Invited voter"

COUNT_SQL = "SELECT count(*) AS n FROM invite_code WHERE poll = {}"
LIST_SQL = "SELECT code, redeemed_at FROM invite_code WHERE poll = {} ORDER BY id"
FIND_SQL = 'SELECT id, "user" FROM invite_code WHERE code = {} AND poll = {}'
CLAIM_SQL = (
    'UPDATE invite_code SET "user" = {}, redeemed_at = {}'
    ' WHERE id = {} AND "user" IS NULL AND redeemed_at IS NULL RETURNING id'
)


@dataclass
class InviteCodeView:
    code: str
    redeemed: bool
    redeemed_at: datetime | None


def display(code: str) -> str:
    """ABCDE-FGHJK: easier to read out and type."""
    return f"{code[:5]}-{code[5:]}"


async def _own_poll(poll_id: int, user_id: int) -> None:
    row = await poll_row(poll_id, user_id)
    if row["creator"] != user_id:
        raise Forbidden("Only the poll's creator can manage its invite codes.")


@shielded
async def issue_codes(poll_id: int, user_id: int, count: int) -> list[str]:
    """Issue `count` new codes for the creator's poll; returns them."""
    if not 1 <= count <= MAX_PER_REQUEST:
        raise Invalid("count", f"Issue from 1 to {MAX_PER_REQUEST} codes at a time.")
    async with write_transaction():
        await _own_poll(poll_id, user_id)
        existing = int((await InviteCode.raw(COUNT_SQL, poll_id))[0]["n"])
        if existing + count > MAX_PER_POLL:
            raise Conflict(f"A poll has at most {MAX_PER_POLL} invite codes ({existing} so far).")
        codes = [
            "".join(secrets.choice(JOIN_ALPHABET) for _ in range(CODE_LENGTH)) for _ in range(count)
        ]
        # 31**10 codes: a collision is as good as impossible, and the unique index refuses it.
        await InviteCode.insert(*[InviteCode(poll=poll_id, code=code) for code in codes])
    return codes


async def list_codes(poll_id: int, user_id: int) -> list[InviteCodeView]:
    """Every code of the creator's poll, oldest first, and whether it has been used."""
    await _own_poll(poll_id, user_id)
    rows = await InviteCode.raw(LIST_SQL, poll_id)
    return [
        InviteCodeView(row["code"], row["redeemed_at"] is not None, row["redeemed_at"])
        for row in rows
    ]


async def redeem(poll_id: int, code: str) -> Account:
    """The voter a valid, unused code of this poll becomes; unknown or used codes are refused
    (and counted in the poll's report)."""
    try:
        return await _redeem(poll_id, normalize_code(code))
    except (NotFound, Forbidden, Conflict):
        refusals.note(poll_id, "code")
        raise


@shielded
async def _redeem(poll_id: int, code: str) -> Account:
    async with write_transaction():
        rows = await InviteCode.raw(FIND_SQL, code, poll_id)
        if not rows:  # a credential that admits nobody: 403, whichever poll it names
            raise Forbidden("This is not an invite code of this poll.")
        await poll_row(poll_id, None)
        if rows[0]["user"] is not None:
            raise Conflict("This invite code has already been used.")
        voter = User(name=VOTER_NAME, email="", password_hash="", is_guest=True)
        await voter.save()
        now = datetime.now(UTC)
        claimed = await InviteCode.raw(CLAIM_SQL, voter.id, now, rows[0]["id"])
        if not claimed:  # someone redeemed it since we looked: our voter rolls back with us
            raise Conflict("This invite code has already been used.")
    return Account(
        id=voter.id,
        name=VOTER_NAME,
        email=None,
        created_at=now,
        is_guest=True,
        invited_to=poll_id,
    )
