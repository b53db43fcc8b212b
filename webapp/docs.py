"""The interactive API docs page, with Swagger UI served from static/ (no CDN)."""

from __future__ import annotations

from quart import Blueprint, render_template

blueprint = Blueprint("docs", __name__)


@blueprint.get("/docs")
async def get_docs() -> str:
    """Interactive API documentation."""
    return await render_template("docs.html")
