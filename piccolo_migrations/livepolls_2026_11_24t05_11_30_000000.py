"""Indexes for guests and join codes.

Guests have no email, so the case-insensitive email index covers accounts only; join codes
are unique where set (NULLs are distinct in both PostgreSQL and SQLite).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-24T05:11:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "guest-aware email index, unique join codes"


class RawTable(Table):
    pass


async def forwards_sql() -> None:
    await RawTable.raw("DROP INDEX app_user_email_lower")
    await RawTable.raw(
        "CREATE UNIQUE INDEX app_user_email_lower ON app_user (lower(email)) WHERE NOT is_guest"
    )
    await RawTable.raw("CREATE UNIQUE INDEX poll_join_code ON poll (join_code)")


async def backwards_sql() -> None:
    await RawTable.raw("DROP INDEX poll_join_code")
    await RawTable.raw("DROP INDEX app_user_email_lower")
    await RawTable.raw("CREATE UNIQUE INDEX app_user_email_lower ON app_user (lower(email))")


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="livepolls", description=DESCRIPTION)
    manager.add_raw(forwards_sql)
    manager.add_raw_backwards(backwards_sql)
    return manager
