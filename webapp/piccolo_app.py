"""Piccolo app config: our tables and the migrations folder (webapp.resources)."""

from piccolo.conf.apps import AppConfig

from webapp.resources import MIGRATIONS
from webapp.tables import (
    AuthToken,
    Ballot,
    IdempotencyKey,
    InviteCode,
    Poll,
    PollOption,
    RateLimitCounter,
    Refusal,
    User,
    Vote,
)

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
        IdempotencyKey,
    ],
    migration_dependencies=[],
    commands=[],
)
