"""livepolls: the app factory."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from typing import Any

from quart import Quart
from quart_schema import Info, QuartSchema, hide

from webapp import db, housekeeping, logs, refusals, schedule
from webapp.config import Settings
from webapp.passwords import Passwords
from webapp.ratelimits import RateLimits, shared_storage
from webapp.resources import STATIC, TEMPLATES
from webapp.routing import IdConverter

# Piccolo finds its engine through this module (it defaults to a top-level piccolo_conf).
os.environ.setdefault("PICCOLO_CONF", "webapp.piccolo_conf")


def _only_the_api_in_the_spec(app: Quart) -> None:
    """/openapi.json describes the JSON API: the browser's pages and forms stay out of it."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            view = app.view_functions[rule.endpoint]
            hide(getattr(view, "__func__", view))  # static files: a bound method


def create_app(overrides: dict[str, Any] | None = None) -> Quart:
    """Build the app: settings from the environment, then any overrides (tests)."""
    settings = dataclasses.replace(Settings.from_env(), **(overrides or {}))
    app = Quart(
        __name__,
        static_folder=str(STATIC),
        template_folder=str(TEMPLATES),
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        BODY_TIMEOUT=10,
    )
    app.url_map.converters["id"] = IdConverter
    app.extensions["settings"] = settings
    app.extensions["passwords"] = Passwords(
        settings.password_time_cost, settings.password_memory_kib, settings.password_concurrency
    )
    from webapp.api.contract import ContractProvider

    QuartSchema(
        app,
        info=Info(title="livepolls API", version="1.0.0"),
        openapi_path="/openapi.json",
        redoc_ui_path=None,
        scalar_ui_path=None,
        swagger_ui_path=None,
        security_schemes={"bearer": {"type": "http", "scheme": "bearer"}},
        conversion_preference="pydantic",
        openapi_provider_class=ContractProvider,
    )

    # Imported here, not at the top: the serving parent imports this package but must not
    # load prometheus-client's values before it has chosen the workers' metrics folder.
    from webapp import docs, failures, health, live, metrics, pages
    from webapp.api import adapters
    from webapp.api import blueprint as api_blueprint

    adapters.install()

    logs.register(app, settings)
    metrics.register(app)
    app.register_blueprint(api_blueprint)
    app.register_blueprint(docs.blueprint)
    app.register_blueprint(health.blueprint)
    failures.register(app)
    live_results = live.setup(app, settings)
    pages.setup(app, settings)
    _only_the_api_in_the_spec(app)

    app.extensions["limits"] = RateLimits(
        settings, shared_storage(settings, db.is_postgres_url(settings.database_url))
    )
    background: list[asyncio.Task[None]] = []

    @app.before_serving
    async def start_services() -> None:
        await db.start(settings.db_pool_size)
        await live_results.start()
        background.append(asyncio.create_task(refusals.run_flusher()))
        background.append(asyncio.create_task(schedule.run()))
        background.append(
            asyncio.create_task(housekeeping.run_periodically(settings.guest_prune_after_s))
        )

    @app.after_serving
    async def stop_services() -> None:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        background.clear()
        await live_results.stop()
        await db.stop()

    return app
