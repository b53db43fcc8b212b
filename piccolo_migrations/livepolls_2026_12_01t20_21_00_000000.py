"""Voting modes replace allows_guests; the indexes that enforce one ballot per voter and per
guest browser, one refusal counter per (poll, rule, minute), and the lookups the report uses.

Raw SQL that PostgreSQL and SQLite (3.35 or newer, for DROP COLUMN) both take.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-12-01T20:21:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "voting modes from allows_guests; ballot, invite code and refusal indexes"

INDEXES = {
    "ballot_poll_user": 'CREATE UNIQUE INDEX ballot_poll_user ON ballot (poll, "user")',
    "ballot_poll_device": (
        "CREATE UNIQUE INDEX ballot_poll_device ON ballot (poll, device) WHERE kind = 'guest'"
    ),
    "ballot_poll_network": "CREATE INDEX ballot_poll_network ON ballot (poll, network)",
    "ballot_user": 'CREATE INDEX ballot_user ON ballot ("user")',
    "invite_code_user": 'CREATE UNIQUE INDEX invite_code_user ON invite_code ("user")',
    "refusal_poll_rule_minute": (
        "CREATE UNIQUE INDEX refusal_poll_rule_minute ON refusal (poll, rule, minute)"
    ),
    "rate_limit_expires_at": "CREATE INDEX rate_limit_expires_at ON rate_limit (expires_at)",
    "app_user_guest_created": (
        "CREATE INDEX app_user_guest_created ON app_user (created_at) WHERE is_guest"
    ),
    "auth_token_expires_at": "CREATE INDEX auth_token_expires_at ON auth_token (expires_at)",
}


class RawTable(Table):
    pass


async def forwards_sql() -> None:
    await RawTable.raw("UPDATE poll SET voting = 'guests' WHERE allows_guests")
    # Polls from before the cap get the documented default (LIVEPOLLS_GUEST_NETWORK_CAP).
    await RawTable.raw("UPDATE poll SET guest_network_cap = 100")
    await RawTable.raw("ALTER TABLE poll DROP COLUMN allows_guests")
    # Voters of existing polls get their ballots (their network is unknown: empty).
    await RawTable.raw(
        'INSERT INTO ballot (poll, "user", kind, network, created_at)'
        " SELECT v.poll, v.\"user\", CASE WHEN u.is_guest THEN 'guest' ELSE 'account' END, '',"
        ' min(v.created_at) FROM vote v JOIN app_user u ON u.id = v."user"'
        ' GROUP BY v.poll, v."user", u.is_guest'
    )
    for statement in INDEXES.values():
        await RawTable.raw(statement)


async def backwards_sql() -> None:
    for name in INDEXES:
        await RawTable.raw(f"DROP INDEX IF EXISTS {name}")
    await RawTable.raw("ALTER TABLE poll ADD COLUMN allows_guests BOOLEAN NOT NULL DEFAULT false")
    await RawTable.raw("UPDATE poll SET allows_guests = (voting = 'guests')")


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="livepolls", description=DESCRIPTION)
    manager.add_raw(forwards_sql)
    manager.add_raw_backwards(backwards_sql)
    return manager
