"""Logging an operator can read: timestamps and levels on stderr (or JSON lines), a request id
on every request and on every line logged while serving it, and an optional access log.

- `configure(settings)` sets up the root logger once per process (the parent and each worker
  call it): LIVEPOLLS_LOG_LEVEL, LIVEPOLLS_LOG_FORMAT (`text` or `json`).
- `register(app)`: every HTTP request and WebSocket handshake gets a request id: the incoming
  `X-Request-ID` when it is a sane token (1-64 of `A-Z a-z 0-9 . _ -`, so a client cannot
  forge log lines), a new random one otherwise. Responses echo it in `X-Request-ID`.
- LIVEPOLLS_ACCESS_LOG=true logs one line per request on `livepolls.access`: method, path,
  status, duration, request id.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from typing import Any

from quart import Quart, Response, g, request, websocket

from webapp.config import Settings

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
access = logging.getLogger("livepolls.access")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def current_request_id() -> str:
    return _request_id.get()


def request_id_from(incoming: str | None) -> str:
    """The client's id when it is safe to log as is, else a new one."""
    if incoming and _SANE_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


class JsonLines(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, and the
    exception's traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for key in ("method", "path", "status", "duration_ms"):
            if hasattr(record, key):
                line[key] = getattr(record, key)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def handler_for(log_format: str) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if log_format == "json":
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    return handler


def configure(settings: Settings) -> None:
    """The root logger writes to stderr at the configured level, in the configured format."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "livepolls", False)]:
        root.removeHandler(old)
    handler = handler_for(settings.log_format)
    handler.livepolls = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(settings.log_level)


def register(app: Quart, settings: Settings) -> None:
    @app.before_request
    async def take_request_id() -> None:
        g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        g.request_started = time.perf_counter()  # the access log's and webapp.metrics' clock
        _request_id.set(g.request_id)

    @app.before_websocket
    async def take_websocket_request_id() -> None:
        g.request_id = request_id_from(websocket.headers.get(REQUEST_ID_HEADER))
        _request_id.set(g.request_id)

    @app.after_request
    async def echo_request_id(response: Response) -> Response:
        request_id = g.get("request_id") or request_id_from(None)
        response.headers[REQUEST_ID_HEADER] = request_id
        if settings.access_log:
            started = g.get("request_started")
            duration_ms = round((time.perf_counter() - started) * 1000, 1) if started else None
            access.info(
                "%s %s %s %sms",
                request.method,
                request.path,
                response.status_code,
                duration_ms,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": duration_ms,
                },
            )
        return response
