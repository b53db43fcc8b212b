"""Events (#14): a presenter's session of many polls, with one join code.

Written as plain DDL for each engine so that the database holds the rules:
- `event.join_code` is unique; `event.mode` is one of the two modes (CHECK);
- `event_question.poll` is unique: a poll is a question of at most one event;
- (event, position) is unique: positions never collide within an event;
- at most one current question per event: a partial unique index on (event) WHERE
  is_current; the current question being a row of `event_question` of that event, it is
  always one of the event's own questions (deleting the poll deletes its row, and with it
  the event's current question: nothing dangles);
- positions are not negative (CHECK; a reorder first moves them up out of the way);
- on PostgreSQL only, a CHECK that the window is ordered (opens_at < closes_at). SQLite
  stores these timestamps as text, which it cannot order reliably in a CHECK, so there the
  domain layer (webapp/events.py) alone checks the window; SQLite does take every unique and
  partial index above, the other CHECKs and the foreign keys.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

from webapp.db import is_postgres

ID = "2026-12-02T13:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "events and their questions"

POSTGRES_TABLES = (
    'CREATE TABLE IF NOT EXISTS "event" ('
    ' "id" SERIAL PRIMARY KEY NOT NULL,'
    " \"title\" VARCHAR(200) NOT NULL DEFAULT '',"
    ' "owner" INTEGER NOT NULL REFERENCES "app_user" ("id") ON DELETE CASCADE ON UPDATE CASCADE,'
    ' "join_code" VARCHAR(8) NOT NULL UNIQUE,'
    " \"mode\" VARCHAR(16) NOT NULL DEFAULT 'presenter'"
    " CHECK (mode IN ('presenter', 'self_paced')),"
    ' "opens_at" TIMESTAMPTZ DEFAULT NULL,'
    ' "closes_at" TIMESTAMPTZ DEFAULT NULL,'
    ' "seq" INTEGER NOT NULL DEFAULT 0,'
    ' "created_at" TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,'
    ' "updated_at" TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,'
    " CONSTRAINT event_window CHECK (opens_at IS NULL OR closes_at IS NULL OR opens_at < closes_at)"
    ")",
    'CREATE TABLE IF NOT EXISTS "event_question" ('
    ' "id" SERIAL PRIMARY KEY NOT NULL,'
    ' "event" INTEGER NOT NULL REFERENCES "event" ("id") ON DELETE CASCADE ON UPDATE CASCADE,'
    ' "poll" INTEGER NOT NULL UNIQUE REFERENCES "poll" ("id") ON DELETE CASCADE ON UPDATE CASCADE,'
    ' "position" INTEGER NOT NULL DEFAULT 0,'
    ' "is_current" BOOLEAN NOT NULL DEFAULT false,'
    " CONSTRAINT event_question_position CHECK (position >= 0)"
    ")",
)
SQLITE_TABLES = (
    'CREATE TABLE IF NOT EXISTS "event" ('
    ' "id" INTEGER PRIMARY KEY NOT NULL,'
    " \"title\" VARCHAR(200) NOT NULL DEFAULT '',"
    ' "owner" INTEGER NOT NULL REFERENCES "app_user" ("id") ON DELETE CASCADE ON UPDATE CASCADE,'
    ' "join_code" VARCHAR(8) NOT NULL UNIQUE,'
    " \"mode\" VARCHAR(16) NOT NULL DEFAULT 'presenter'"
    " CHECK (mode IN ('presenter', 'self_paced')),"
    ' "opens_at" TIMESTAMPTZ DEFAULT NULL,'
    ' "closes_at" TIMESTAMPTZ DEFAULT NULL,'
    ' "seq" INTEGER NOT NULL DEFAULT 0,'
    ' "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,'
    ' "updated_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp'
    ")",
    'CREATE TABLE IF NOT EXISTS "event_question" ('
    ' "id" INTEGER PRIMARY KEY NOT NULL,'
    ' "event" INTEGER NOT NULL REFERENCES "event" ("id") ON DELETE CASCADE ON UPDATE CASCADE,'
    ' "poll" INTEGER NOT NULL UNIQUE REFERENCES "poll" ("id") ON DELETE CASCADE ON UPDATE CASCADE,'
    ' "position" INTEGER NOT NULL DEFAULT 0,'
    ' "is_current" BOOLEAN NOT NULL DEFAULT false,'
    " CONSTRAINT event_question_position CHECK (position >= 0)"
    ")",
)
INDEXES = {
    "event_owner": 'CREATE INDEX event_owner ON event ("owner")',
    "event_question_event_position": (
        'CREATE UNIQUE INDEX event_question_event_position ON event_question ("event", position)'
    ),
    "event_question_current": (
        'CREATE UNIQUE INDEX event_question_current ON event_question ("event") WHERE is_current'
    ),
}


class RawTable(Table):
    pass


async def forwards_sql() -> None:
    for statement in POSTGRES_TABLES if is_postgres() else SQLITE_TABLES:
        await RawTable.raw(statement)
    for statement in INDEXES.values():
        await RawTable.raw(statement)


async def backwards_sql() -> None:
    for name in INDEXES:
        await RawTable.raw(f"DROP INDEX IF EXISTS {name}")
    await RawTable.raw("DROP TABLE IF EXISTS event_question")
    await RawTable.raw("DROP TABLE IF EXISTS event")


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="livepolls", description=DESCRIPTION)
    manager.add_raw(forwards_sql)
    manager.add_raw_backwards(backwards_sql)
    return manager
