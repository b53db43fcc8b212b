"""Invite codes and a poll's integrity report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field
from quart import Blueprint, current_app
from quart_schema import validate_request, validate_response

from webapp import accounts, integrity, invites
from webapp.accounts import Account
from webapp.api.auth import login_required
from webapp.api.contract import problems
from webapp.clients import client_key, limit_in_poll
from webapp.inputs.fields import INTEGRAL, StrictModel
from webapp.integrity import IntegrityReport
from webapp.invites import InviteCodeView

blueprint = Blueprint("integrity", __name__)


class InviteCodesCreate(StrictModel):
    count: Annotated[int, Field(ge=1, le=invites.MAX_PER_REQUEST), INTEGRAL]


class InviteCodeRedeem(StrictModel):
    code: Annotated[str, Field(min_length=1, max_length=32)]


@dataclass
class InviteCodesIssued:
    poll_id: int
    codes: list[str]


@dataclass
class InviteCodeList:
    poll_id: int
    items: list[InviteCodeView]


@dataclass
class VoterToken:
    token: str
    token_type: Literal["bearer"]
    user: Account


@blueprint.post("/polls/<id:poll_id>/invite-codes")
@problems(403, 409)
@login_required
@validate_request(InviteCodesCreate)
@validate_response(InviteCodesIssued, 201)
async def post_invite_codes(
    poll_id: int, data: InviteCodesCreate, account: Account
) -> tuple[InviteCodesIssued, int]:
    """Issue one-time invite codes for your poll (up to 500 at a time)."""
    codes = await invites.issue_codes(poll_id, account.id, data.count)
    return InviteCodesIssued(poll_id, codes), 201


@blueprint.get("/polls/<id:poll_id>/invite-codes")
@problems(403)
@login_required
@validate_response(InviteCodeList)
async def get_invite_codes(poll_id: int, account: Account) -> InviteCodeList:
    """Every invite code of your poll, oldest first, and which have been used."""
    return InviteCodeList(poll_id, await invites.list_codes(poll_id, account.id))


@blueprint.post("/polls/<id:poll_id>/invite-codes/redeem")
@problems(403, 409, 429)
@validate_request(InviteCodeRedeem)
@validate_response(VoterToken, 201)
async def post_redeem_invite_code(poll_id: int, data: InviteCodeRedeem) -> tuple[VoterToken, int]:
    """Redeem an invite code (once): a bearer token for the code's voter in this poll."""
    await limit_in_poll(poll_id, "invite", client_key())
    voter = await invites.redeem(poll_id, data.code)
    ttl = timedelta(days=current_app.extensions["settings"].token_ttl_days)
    token = await accounts.issue_token(voter.id, ttl)
    return VoterToken(token=token, token_type="bearer", user=voter), 201


@blueprint.get("/polls/<id:poll_id>/integrity")
@problems(403)
@login_required
@validate_response(IntegrityReport)
async def get_integrity(poll_id: int, account: Account) -> IntegrityReport:
    """Your poll's integrity report: ballots by kind, refusals by rule, top networks."""
    return await integrity.report(poll_id, account.id)
