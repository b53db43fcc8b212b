"""Invite codes (redeem, issue, download) and the creator's live integrity report."""

from __future__ import annotations

import csv
import io
from typing import Any

from quart import Blueprint, Response, render_template, request, url_for

from webapp import integrity, invites
from webapp.clients import client_key, limit_in_poll
from webapp.errors import DomainError
from webapp.pages.forms import back_to_poll, form_number, is_htmx
from webapp.pages.polls import poll_page, require_member
from webapp.pages.session import start_session

blueprint = Blueprint("integrity", __name__)


@blueprint.post("/polls/<id:poll_id>/invite")
async def redeem_invite(poll_id: int) -> Any:
    """Use a one-time invite code: this browser becomes the code's voter in this poll."""
    code = (await request.form).get("code", "")
    try:
        await limit_in_poll(poll_id, "invite", client_key())
        voter = await invites.redeem(poll_id, code)
    except DomainError as error:
        return await poll_page(poll_id, error)
    await start_session(voter)
    return back_to_poll(poll_id)


@blueprint.post("/polls/<id:poll_id>/invite-codes")
async def issue_invite_codes(poll_id: int) -> Any:
    """Issue more invite codes for my poll."""
    me = await require_member()
    raw = (await request.form).get("count", "")
    count = form_number(raw, 4) or 0
    try:
        await invites.issue_codes(poll_id, me.id, count)
    except DomainError as error:
        return await poll_page(poll_id, error)
    return back_to_poll(poll_id)


@blueprint.get("/polls/<id:poll_id>/invite-codes.csv")
async def download_invite_codes(poll_id: int) -> Response:
    """My poll's invite codes as CSV: code, link with the code in it, used or not."""
    me = await require_member()
    codes = await invites.list_codes(poll_id, me.id)
    base = request.host_url.rstrip("/") + url_for("polls.show_poll", poll_id=poll_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["code", "link", "used", "used_at"])
    for item in codes:
        shown = invites.display(item.code)
        used_at = item.redeemed_at.isoformat() if item.redeemed_at else ""
        writer.writerow([shown, f"{base}?code={shown}", "yes" if item.redeemed else "no", used_at])
    filename = f"poll-{poll_id}-invite-codes.csv"
    return Response(
        out.getvalue(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@blueprint.get("/polls/<id:poll_id>/integrity")
async def show_integrity(poll_id: int) -> Any:
    """The integrity report: the page, or (htmx, every few seconds) its figures alone."""
    me = await require_member()
    found = await integrity.report(poll_id, me.id)
    template = "_partials/integrity.html" if is_htmx() else "polls/integrity.html"
    return await render_template(template, report=found, poll_id=poll_id)
