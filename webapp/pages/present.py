"""The presenter view: full screen, big live bars, the join link, code and QR code."""

from __future__ import annotations

from typing import Any

import segno
from quart import Blueprint, current_app, render_template, request, url_for

from webapp import polls
from webapp.errors import Forbidden
from webapp.pages.polls import require_member

blueprint = Blueprint("present", __name__)


def qr_svg(url: str) -> str:
    """The QR code as inline SVG (no image request, no inline style)."""
    code = segno.make(url, error="m")
    return str(code.svg_inline(border=2, dark="#111", light="#fff", omitsize=True))


@blueprint.get("/polls/<id:poll_id>/present")
async def present_poll(poll_id: int) -> Any:
    """For the big screen: results, join details, live counts, reveal and close controls."""
    me = await require_member()
    poll = await polls.get_poll(poll_id, me.id)
    if poll.creator.id != me.id:
        raise Forbidden("Only the poll's creator can present it.")
    # The big screen shows what the room may see, not what its creator may.
    results = await polls.results_for(poll_id, me.id, as_audience=True)
    join_url = None
    if poll.join_code:
        join_url = request.host_url.rstrip("/") + url_for("home.join_short", code=poll.join_code)
    return await render_template(
        "polls/present.html",
        poll=poll,
        results=results,
        join_url=join_url,
        qr=qr_svg(join_url) if join_url else None,
        count=current_app.extensions["live"].hub.viewer_count(poll_id),
    )
