"""Piccolo app config: our tables and the top-level piccolo_migrations folder."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from webapp.tables import (
    AuthToken,
    Ballot,
    InviteCode,
    Poll,
    PollOption,
    RateLimitCounter,
    Refusal,
    User,
    Vote,
)

MIGRATIONS = Path(__file__).resolve().parent.parent / "piccolo_migrations"

APP_CONFIG = AppConfig(
    app_name="livepolls",
    migrations_folder_path=str(MIGRATIONS),
    table_classes=[
        User,
        AuthToken,
        Poll,
        PollOption,
        Vote,
        Ballot,
        InviteCode,
        Refusal,
        RateLimitCounter,
    ],
    migration_dependencies=[],
    commands=[],
)
