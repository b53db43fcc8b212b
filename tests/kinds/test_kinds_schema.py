"""What the #15 migration makes the database hold for every kind, on both engines."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.conftest import MakeMember
from tests.kinds.helpers import make_kind_poll
from webapp.tables import Poll

if TYPE_CHECKING:
    from quart.typing import TestClientProtocol


async def test_an_answer_id_is_never_handed_out_again(
    client: TestClientProtocol, make_member: MakeMember
) -> None:
    """The highest id deleted is not reused (SQLite reuses it without AUTOINCREMENT): an
    owner's approval sent for a withdrawn answer must not reach the next one."""
    ann = await make_member()
    poll = await make_kind_poll(client, ann, "open_text")
    for table, columns, values in (
        ("text_answer", '(poll, "user", text)', "({}, {}, 'hello')"),
        ("qa_question", "(poll, asker, text)", "({}, {}, 'why?')"),
    ):
        insert = f"INSERT INTO {table} {columns} VALUES {values} RETURNING id"
        first = (await Poll.raw(insert, poll["id"], ann.id))[0]["id"]
        await Poll.raw(f"DELETE FROM {table} WHERE id = {{}}", first)
        second = (await Poll.raw(insert, poll["id"], ann.id))[0]["id"]
        assert second > first, table
