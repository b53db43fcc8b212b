"""Health checks for load balancers and supervisors: /healthz (the process answers) and
/readyz (the database answers and, on PostgreSQL, the LISTEN connection is up)."""

from __future__ import annotations

import asyncio
from typing import Any

from quart import Blueprint, current_app

from webapp.tables import Poll

blueprint = Blueprint("health", __name__)

READY_TIMEOUT_S = 2.0


@blueprint.get("/healthz")
async def healthz() -> Any:
    """The process is up and its event loop answers (no database involved)."""
    return {"status": "ok"}, 200, {"Cache-Control": "no-store"}


@blueprint.get("/readyz")
async def readyz() -> Any:
    """Ready to serve: a query answers within 2 s, and live updates from other processes
    arrive (the LISTEN connection is up). 503 otherwise, with what is missing."""
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(Poll.raw("SELECT 1"), READY_TIMEOUT_S)
        checks["database"] = "ok"
    except Exception as exc:  # any failure is "not ready", never a 500
        checks["database"] = f"unavailable: {type(exc).__name__}"
    feed = current_app.extensions["live"].feed
    if feed is not None:
        checks["listen"] = "ok" if feed.connected.is_set() else "reconnecting"
    ready = all(value == "ok" for value in checks.values())
    body = {"status": "ready" if ready else "unavailable", "checks": checks}
    headers = {"Cache-Control": "no-store"}
    if not ready:
        headers["Retry-After"] = "5"
    return body, 200 if ready else 503, headers
