"""Scheduled voting for polls (#14): `opens_at` and `closes_at`, both optional.

Raw SQL both engines take. On PostgreSQL a CHECK keeps the window ordered (closes_at after
opens_at); SQLite stores these timestamps as text and adds no table constraint by ALTER, so
there webapp/polls.py alone checks it. Partial indexes serve the scheduler's search for the
next poll due to open or close (webapp/schedule.py).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

from webapp.db import is_postgres

ID = "2026-12-02T14:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "poll opens_at and closes_at"

INDEXES = {
    "poll_closes_at_pending": (
        "CREATE INDEX poll_closes_at_pending ON poll (closes_at)"
        " WHERE closed_at IS NULL AND closes_at IS NOT NULL"
    ),
    "poll_opens_at_pending": (
        "CREATE INDEX poll_opens_at_pending ON poll (opens_at)"
        " WHERE closed_at IS NULL AND opens_at IS NOT NULL"
    ),
}
CHECK = (
    "ALTER TABLE poll ADD CONSTRAINT poll_schedule_ordered"
    " CHECK (opens_at IS NULL OR closes_at IS NULL OR closes_at > opens_at)"
)


class RawTable(Table):
    pass


async def forwards_sql() -> None:
    await RawTable.raw("ALTER TABLE poll ADD COLUMN opens_at TIMESTAMPTZ NULL")
    await RawTable.raw("ALTER TABLE poll ADD COLUMN closes_at TIMESTAMPTZ NULL")
    if is_postgres():
        await RawTable.raw(CHECK)
    for statement in INDEXES.values():
        await RawTable.raw(statement)


async def backwards_sql() -> None:
    for name in INDEXES:
        await RawTable.raw(f"DROP INDEX IF EXISTS {name}")
    if is_postgres():
        await RawTable.raw("ALTER TABLE poll DROP CONSTRAINT IF EXISTS poll_schedule_ordered")
    await RawTable.raw("ALTER TABLE poll DROP COLUMN closes_at")
    await RawTable.raw("ALTER TABLE poll DROP COLUMN opens_at")


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="livepolls", description=DESCRIPTION)
    manager.add_raw(forwards_sql)
    manager.add_raw_backwards(backwards_sql)
    return manager
