"""Prometheus metrics at /metrics, with prometheus-client, summed over every worker.

With several workers the parent (webapp.server) gives them a fresh PROMETHEUS_MULTIPROC_DIR
before they start: each worker writes its values there, /metrics on any worker adds them up
(MultiProcessCollector), and the parent marks a dead worker's files so its live gauges drop
out. With one process the default registry serves.

Who may read it: anyone who reaches the port, unless LIVEPOLLS_METRICS_TOKEN is set, in which
case `Authorization: Bearer <token>` is required (401 otherwise). Nothing in it is personal:
counts, times and sizes. Route labels are URL rules (`/api/v1/polls/<id:poll_id>`), never
raw paths, so a scanner cannot grow the label set.
"""

from __future__ import annotations

import hmac
import os
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from quart import Blueprint, Quart, Response, current_app, g, request

from webapp.errors import Unauthorized
from webapp.metrics_folder import MULTIPROC_ENV

blueprint = Blueprint("metrics", __name__)

REQUESTS = Counter(
    "livepolls_http_requests",
    "HTTP requests answered, by method, route (URL rule) and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "livepolls_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
VOTES = Counter("livepolls_votes", "Votes that changed a poll's counts (cast or replaced).")
WITHDRAWALS = Counter("livepolls_withdrawals", "Withdrawals of votes.")
ANSWER_BATCH = Histogram(
    "livepolls_word_answer_batch_size",
    "Word-cloud answers for one poll written in one transaction (group commit).",
    buckets=(1, 2, 4, 8, 16, 32, 64, 100),
)
VOTE_BATCH = Histogram(
    "livepolls_vote_batch_size",
    "Votes for one poll written in one transaction (group commit).",
    buckets=(1, 2, 4, 8, 16, 32, 64, 100),
)
VIEWERS = Gauge(
    "livepolls_viewers", "Live WebSocket viewers connected.", multiprocess_mode="livesum"
)
UPDATES = Counter("livepolls_live_messages_sent", "Live messages handed to viewers' sockets.")
FANOUT = Histogram(
    "livepolls_fanout_seconds",
    "From a change reaching this process to its message handed to every viewer here.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
NOTIFY_SENT = Counter("livepolls_notify_sent", "NOTIFY messages sent for changes.")
NOTIFY_RECEIVED = Counter("livepolls_notify_received", "NOTIFY messages received by LISTEN.")
POOL = Gauge(
    "livepolls_db_pool_connections",
    "Database pool connections, open and in use.",
    ["state"],
    multiprocess_mode="livesum",
)


def route_label() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else "unmatched"


def note_pool() -> None:
    """The pool's size now (PostgreSQL; SQLite has no pool)."""
    from piccolo.engine.postgres import PostgresEngine

    from webapp.db import engine

    database = engine()
    pool = database.pool if isinstance(database, PostgresEngine) else None
    open_, idle = (pool.get_size(), pool.get_idle_size()) if pool is not None else (0, 0)
    POOL.labels("open").set(open_)
    POOL.labels("in_use").set(open_ - idle)


def registry() -> CollectorRegistry:
    if not os.environ.get(MULTIPROC_ENV):
        return REGISTRY
    summed = CollectorRegistry()
    multiprocess.MultiProcessCollector(summed)
    return summed


@blueprint.get("/metrics")
async def get_metrics() -> Response:
    """Prometheus text format, every worker's values summed."""
    token = current_app.extensions["settings"].metrics_token
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), token):
            raise Unauthorized("Send 'Authorization: Bearer <LIVEPOLLS_METRICS_TOKEN>'.")
    note_pool()
    return Response(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)


def register(app: Quart) -> None:
    app.register_blueprint(blueprint)

    @app.after_request
    async def count_request(response: Response) -> Response:
        route = route_label()
        REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        started = g.get("request_started")  # stamped by webapp.logs, registered first
        if started is not None:
            LATENCY.labels(request.method, route).observe(time.perf_counter() - started)
        return response
