"""The `livepolls` command: migrate the database, serve the app, check a deployment's capacity."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket

import asyncpg

from webapp.config import ConfigError, Settings, database_url
from webapp.db import is_postgres_url
from webapp.loadtest import command as loadtest

MIGRATION_LOCK = 7_274_771  # any constant: the advisory lock that serialises migrations


async def _migrate() -> bool:
    """Apply pending migrations; on PostgreSQL one process at a time (an advisory lock), so
    several hosts starting together do not collide."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    url = database_url()
    if not is_postgres_url(url):
        return bool((await run_forwards(app_name="livepolls")).success)
    conn = await asyncpg.connect(url)
    try:
        # Transaction-scoped: released when this transaction ends, whatever happens (and it
        # stays on one server connection even behind a transaction-pooling PgBouncer).
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            return bool((await run_forwards(app_name="livepolls")).success)
    finally:
        await conn.close()


def migrate() -> None:
    """Apply all Piccolo migrations to the configured database."""
    if not asyncio.run(_migrate()):
        raise SystemExit("migrations failed")


def serve(host: str, port: int, workers: int) -> None:
    """Apply migrations, then run Hypercorn (with several workers, in a metrics folder)."""
    from webapp import metrics_folder

    if workers > 1 and not is_postgres_url(database_url()):
        raise SystemExit("SQLite runs in one process: use --workers 1, or set DATABASE_URL.")
    migrate()
    print(f"livepolls on http://{host}:{port} ({workers} worker(s))", flush=True)
    created = metrics_folder.prepare() if workers > 1 else None
    # Only now: webapp.server imports prometheus-client (through the app), which reads the
    # folder's name once, at import.
    from webapp import server

    try:
        server.serve(host, port, workers)
    finally:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)


def demo(host: str, port: int) -> None:
    """Set up the demo account and sample poll, print how to join, then serve."""
    import segno

    from webapp import server
    from webapp.demo import ensure_demo
    from webapp.passwords import Passwords

    migrate()
    settings = Settings.from_env()
    passwords = Passwords(
        settings.password_time_cost, settings.password_memory_kib, settings.password_concurrency
    )
    found = asyncio.run(ensure_demo(passwords))
    shown_host = socket.gethostname() if host in {"0.0.0.0", "::"} else host
    base = f"http://{shown_host}:{port}"
    join_url = f"{base}/j/{found.poll.join_code}"
    print(f"""
livepolls demo
  Poll:       {base}/polls/{found.poll.id}
  Presenter:  {base}/polls/{found.poll.id}/present
  Join code:  {found.poll.join_code}   ({join_url})
  Event:      {base}/events/{found.event.id}   (big screen: /present, phone remote: /remote)
  Event code: {found.event.join_code}   ({base}/e/{found.event.join_code})
  Sign in as: {found.email} / {found.password}
""")
    segno.make(join_url, error="m").terminal(compact=True)
    server.serve(host, port, 1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="livepolls", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply database migrations")
    serve_parser = commands.add_parser("serve", help="apply migrations and run the server")
    demo_parser = commands.add_parser("demo", help="create a demo poll, print its links, serve")
    loadtest_parser = commands.add_parser(
        "loadtest",
        help="measure a deployment: viewers on a poll of its own, votes at a rate",
        description=loadtest.__doc__,
    )
    loadtest.add_arguments(loadtest_parser)
    # The server's settings; the load test, run from anywhere, needs none of them.
    problem: ConfigError | None = None
    try:
        settings: Settings | None = Settings.from_env()
    except ConfigError as exc:
        settings, problem = None, exc
    host = settings.host if settings else None
    port = settings.port if settings else None
    serve_parser.add_argument("--host", default=host)
    serve_parser.add_argument("--port", type=int, default=port)
    serve_parser.add_argument("--workers", type=int, default=1)
    demo_parser.add_argument("--host", default=host)
    demo_parser.add_argument("--port", type=int, default=port)
    args = parser.parse_args(argv)
    if args.command == "loadtest":
        raise SystemExit(loadtest.run(loadtest_parser, args))
    if problem is not None:
        raise SystemExit(f"configuration error: {problem}")
    if args.command == "migrate":
        migrate()
    elif args.command == "demo":
        demo(args.host, args.port)
    else:
        serve(args.host, args.port, args.workers)


if __name__ == "__main__":
    main()
