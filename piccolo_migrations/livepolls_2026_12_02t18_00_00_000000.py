"""Question types beyond choice (#15): a poll's `kind` and its settings, and one table set
per kind (docs/question_types.md).

Plain DDL for each engine, so that the database holds the rules:
- `poll.kind` is one of the six kinds (CHECK), `choice` for every poll made before;
- one rating per person per scale poll, one ranking per person per ranking poll, one open
  answer per person per open-text poll: primary keys or unique indexes on (poll, user);
- a word-cloud answer once per person and word, in a numbered slot 1..10: the insert takes
  a slot no higher than the poll's `answers_per_person`, so a person's answers sent at once
  can never exceed it; identical answers from many people are one `word_count` row
  (primary key (poll, answer_key)) counted once each by an upsert;
- one upvote per person per audience question (primary key), at most one highlighted
  question per poll (a partial unique index);
- counts are never negative (CHECK);
- an answer's or a question's id is never reused, on SQLite too (AUTOINCREMENT).
On PostgreSQL the settings of the wrong kind are refused too (a CHECK per setting);
SQLite adds no table constraint by ALTER, so there webapp/inputs/polls.py alone checks it.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

from webapp.db import is_postgres

ID = "2026-12-02T18:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "question kinds and their responses"

KINDS = "('choice', 'word_cloud', 'scale', 'ranking', 'open_text', 'qa')"
POLL_COLUMNS = (
    "ALTER TABLE poll ADD COLUMN kind VARCHAR(16) NOT NULL DEFAULT 'choice'"
    f" CHECK (kind IN {KINDS})",
    "ALTER TABLE poll ADD COLUMN answers_per_person SMALLINT NULL"
    " CHECK (answers_per_person BETWEEN 1 AND 10)",
    "ALTER TABLE poll ADD COLUMN scale_points SMALLINT NULL CHECK (scale_points BETWEEN 2 AND 10)",
    "ALTER TABLE poll ADD COLUMN scale_low VARCHAR(60) NULL",
    "ALTER TABLE poll ADD COLUMN scale_high VARCHAR(60) NULL",
    "ALTER TABLE poll ADD COLUMN premoderated BOOLEAN NOT NULL DEFAULT false",
    "ALTER TABLE poll ADD COLUMN allows_anonymous BOOLEAN NOT NULL DEFAULT false",
)
POSTGRES_POLL_CHECKS = (
    "ALTER TABLE poll ADD CONSTRAINT poll_kind_words"
    " CHECK ((kind = 'word_cloud') = (answers_per_person IS NOT NULL))",
    "ALTER TABLE poll ADD CONSTRAINT poll_kind_scale"
    " CHECK ((kind = 'scale') = (scale_points IS NOT NULL AND scale_low IS NOT NULL"
    " AND scale_high IS NOT NULL))",
)

POLL = '"poll" INTEGER NOT NULL REFERENCES "poll" ("id") ON DELETE CASCADE'
USER = '"user" INTEGER NOT NULL REFERENCES "app_user" ("id") ON DELETE CASCADE'


def tables(serial: str, now: str) -> tuple[str, ...]:
    created = f'"created_at" TIMESTAMPTZ NOT NULL DEFAULT {now}'
    return (
        f'CREATE TABLE "scale_rating" ({POLL}, {USER},'
        ' "rating" SMALLINT NOT NULL CHECK (rating BETWEEN 1 AND 10),'
        f' {created}, PRIMARY KEY ("poll", "user"))',
        f'CREATE TABLE "scale_count" ({POLL},'
        ' "value" SMALLINT NOT NULL CHECK (value BETWEEN 1 AND 10),'
        ' "count" INTEGER NOT NULL DEFAULT 0 CHECK (count >= 0), PRIMARY KEY ("poll", "value"))',
        f'CREATE TABLE "word_answer" ({POLL}, {USER},'
        ' "slot" SMALLINT NOT NULL CHECK (slot BETWEEN 1 AND 10),'
        ' "answer_key" VARCHAR(120) NOT NULL, "text" VARCHAR(40) NOT NULL,'
        f' {created}, PRIMARY KEY ("poll", "user", "slot"),'
        ' UNIQUE ("poll", "user", "answer_key"))',
        f'CREATE TABLE "word_count" ({POLL},'
        ' "answer_key" VARCHAR(120) NOT NULL, "text" VARCHAR(40) NOT NULL,'
        ' "count" INTEGER NOT NULL DEFAULT 0 CHECK (count >= 0),'
        ' "hidden" BOOLEAN NOT NULL DEFAULT false,'
        f' {created}, PRIMARY KEY ("poll", "answer_key"))',
        f'CREATE TABLE "ranking_response" ({POLL}, {USER}, "ranking" VARCHAR(200) NOT NULL,'
        f' {created}, PRIMARY KEY ("poll", "user"))',
        f'CREATE TABLE "ranking_count" ({POLL},'
        ' "option" INTEGER NOT NULL REFERENCES "poll_option" ("id") ON DELETE CASCADE,'
        ' "position" SMALLINT NOT NULL CHECK (position BETWEEN 1 AND 10),'
        ' "count" INTEGER NOT NULL DEFAULT 0 CHECK (count >= 0),'
        ' PRIMARY KEY ("option", "position"))',
        f'CREATE TABLE "text_answer" ("id" {serial} NOT NULL, {POLL}, {USER},'
        ' "text" VARCHAR(1000) NOT NULL,'
        " \"state\" VARCHAR(8) NOT NULL DEFAULT 'shown'"
        " CHECK (state IN ('pending', 'shown', 'hidden')),"
        f' {created}, UNIQUE ("poll", "user"))',
        f'CREATE TABLE "qa_question" ("id" {serial} NOT NULL, {POLL},'
        ' "asker" INTEGER NOT NULL REFERENCES "app_user" ("id") ON DELETE CASCADE,'
        ' "text" VARCHAR(1000) NOT NULL, "anonymous" BOOLEAN NOT NULL DEFAULT false,'
        " \"state\" VARCHAR(8) NOT NULL DEFAULT 'shown'"
        " CHECK (state IN ('pending', 'shown', 'hidden')),"
        ' "answered_at" TIMESTAMPTZ NULL, "highlighted" BOOLEAN NOT NULL DEFAULT false,'
        f' "upvotes" INTEGER NOT NULL DEFAULT 0 CHECK (upvotes >= 0), {created})',
        'CREATE TABLE "qa_upvote" ('
        ' "question" INTEGER NOT NULL REFERENCES "qa_question" ("id") ON DELETE CASCADE,'
        f' {USER}, {created}, PRIMARY KEY ("question", "user"))',
        'CREATE TABLE "question_view" ("poll" INTEGER PRIMARY KEY NOT NULL'
        ' REFERENCES "poll" ("id") ON DELETE CASCADE,'
        ' "seq" INTEGER NOT NULL DEFAULT 0, "view" TEXT NOT NULL)',
    )


INDEXES = {
    "word_count_poll_count": "CREATE INDEX word_count_poll_count ON word_count (poll, count)",
    "ranking_count_poll": "CREATE INDEX ranking_count_poll ON ranking_count (poll)",
    "text_answer_poll_id": "CREATE INDEX text_answer_poll_id ON text_answer (poll, id)",
    "qa_question_poll": "CREATE INDEX qa_question_poll ON qa_question (poll)",
    "qa_question_highlighted": (
        "CREATE UNIQUE INDEX qa_question_highlighted ON qa_question (poll) WHERE highlighted"
    ),
    "qa_upvote_user": 'CREATE INDEX qa_upvote_user ON qa_upvote ("user")',
}
TABLES = (
    "question_view",
    "qa_upvote",
    "qa_question",
    "text_answer",
    "ranking_count",
    "ranking_response",
    "word_count",
    "word_answer",
    "scale_count",
    "scale_rating",
)
COLUMNS = (
    "allows_anonymous",
    "premoderated",
    "scale_high",
    "scale_low",
    "scale_points",
    "answers_per_person",
    "kind",
)


class RawTable(Table):
    pass


async def forwards_sql() -> None:
    for statement in POLL_COLUMNS:
        await RawTable.raw(statement)
    postgres = is_postgres()
    if postgres:
        for statement in POSTGRES_POLL_CHECKS:
            await RawTable.raw(statement)
    # SQLite's AUTOINCREMENT never hands out an id again, even the highest one after its row
    # is deleted: an owner's approval of an answer withdrawn meanwhile finds nothing, rather
    # than the next person's answer under the same id.
    serial, now = (
        ("SERIAL PRIMARY KEY", "CURRENT_TIMESTAMP")
        if postgres
        else ("INTEGER PRIMARY KEY AUTOINCREMENT", "current_timestamp")
    )
    for statement in tables(serial, now):
        await RawTable.raw(statement)
    for statement in INDEXES.values():
        await RawTable.raw(statement)


async def backwards_sql() -> None:
    for name in INDEXES:
        await RawTable.raw(f"DROP INDEX IF EXISTS {name}")
    for table in TABLES:
        await RawTable.raw(f"DROP TABLE IF EXISTS {table}")
    if is_postgres():
        for name in ("poll_kind_words", "poll_kind_scale"):
            await RawTable.raw(f"ALTER TABLE poll DROP CONSTRAINT IF EXISTS {name}")
    for column in COLUMNS:
        await RawTable.raw(f"ALTER TABLE poll DROP COLUMN {column}")


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="livepolls", description=DESCRIPTION)
    manager.add_raw(forwards_sql)
    manager.add_raw_backwards(backwards_sql)
    return manager
