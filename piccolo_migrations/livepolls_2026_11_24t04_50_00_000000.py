"""Indexes that enforce the invariants, and the indexes the queries use.

Piccolo's composite Unique emits ALTER TABLE ... ADD CONSTRAINT, which SQLite rejects;
unique indexes (partial ones included) work on both PostgreSQL and SQLite.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-24T04:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "invariant and lookup indexes"

INDEXES = {
    "app_user_email_lower": "CREATE UNIQUE INDEX app_user_email_lower ON app_user (lower(email))",
    "vote_user_option": 'CREATE UNIQUE INDEX vote_user_option ON vote ("user", option)',
    "vote_user_single_poll": (
        'CREATE UNIQUE INDEX vote_user_single_poll ON vote ("user", poll) WHERE single_choice'
    ),
    "vote_user_poll": 'CREATE INDEX vote_user_poll ON vote ("user", poll)',
    "vote_option": "CREATE INDEX vote_option ON vote (option)",
    "vote_poll": "CREATE INDEX vote_poll ON vote (poll)",
    "auth_token_user": 'CREATE INDEX auth_token_user ON auth_token ("user")',
    "poll_published_id": "CREATE INDEX poll_published_id ON poll (is_published, id)",
}


class RawTable(Table):
    pass


async def create_indexes() -> None:
    for statement in INDEXES.values():
        await RawTable.raw(statement)


async def drop_indexes() -> None:
    for name in INDEXES:
        await RawTable.raw(f"DROP INDEX IF EXISTS {name}")


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="livepolls", description=DESCRIPTION)
    manager.add_raw(create_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
