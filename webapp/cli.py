"""The `livepolls` command: migrate the database, serve the app."""

from __future__ import annotations

import argparse
import asyncio

from webapp.config import ConfigError, Settings, database_url
from webapp.db import is_postgres_url


async def _migrate() -> bool:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    result = await run_forwards(app_name="livepolls")
    return bool(result.success)


def migrate() -> None:
    """Apply all Piccolo migrations to the configured database."""
    if not asyncio.run(_migrate()):
        raise SystemExit("migrations failed")


def serve(host: str, port: int, workers: int) -> None:
    """Apply migrations, then run Hypercorn."""
    from webapp import server

    if workers > 1 and not is_postgres_url(database_url()):
        raise SystemExit("SQLite runs in one process: use --workers 1, or set DATABASE_URL.")
    migrate()
    print(f"livepolls on http://{host}:{port} ({workers} worker(s))", flush=True)
    server.serve(host, port, workers)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="livepolls", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply database migrations")
    serve_parser = commands.add_parser("serve", help="apply migrations and run the server")
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        raise SystemExit(f"configuration error: {exc}") from exc
    serve_parser.add_argument("--host", default=settings.host)
    serve_parser.add_argument("--port", type=int, default=settings.port)
    serve_parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    if args.command == "migrate":
        migrate()
    else:
        serve(args.host, args.port, args.workers)


if __name__ == "__main__":
    main()
