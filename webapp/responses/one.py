"""The kinds that take one response per person, replaceable (scale now; ranking and open
text share the endpoints): `PUT .../response`, `GET .../response/me`, `DELETE .../response`.

The poll's kind is read under its lock and picks the kind's module; the field the request
filled must be that kind's (`rating` for a scale), or the answer is a 422 naming the field
the kind wants. A poll of a kind that takes no such response is a 409 saying where it does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from webapp.errors import Invalid
from webapp.polls import poll_row
from webapp.responses import Change, Keyed, respond
from webapp.responses import open_text as open_text_responses
from webapp.responses import ranking as ranking_responses
from webapp.responses import scale as scale_responses
from webapp.tables import Kind
from webapp.votes import Voter, wrong_kind


class OneResponse(Protocol):
    FIELD: str

    async def put(
        self, poll: dict[str, Any], user_id: int, value: object, has_ballot: bool
    ) -> Change: ...

    async def withdraw(self, poll: dict[str, Any], user_id: int) -> Change: ...

    async def mine(self, poll_id: int, user_id: int) -> Any: ...


MODULES: dict[Kind, Any] = {
    Kind.scale: scale_responses,
    Kind.ranking: ranking_responses,
    Kind.open_text: open_text_responses,
}


@dataclass
class MyResponse:
    """A person's own response, in the field of the poll's kind (null: none given)."""

    poll_id: int
    kind: Kind
    rating: int | None = None
    text: str | None = None  # open text: your answer, whatever its state
    order: list[int] | None = None  # a ranking: option ids, best first


def _module(kind: Kind) -> OneResponse:
    module = MODULES.get(kind)
    if module is None:
        raise wrong_kind(kind)
    return module


async def put_response(
    voter: Voter,
    poll_id: int,
    values: dict[str, object],
    window_s: int,
    keyed: Keyed | None = None,
) -> Change:
    """Give or replace the person's response: `values` holds the fields the request sent."""

    async def write(poll: dict[str, Any], has_ballot: bool) -> Change:
        module = _module(Kind(poll["kind"]))
        sent = [name for name, value in values.items() if value is not None]
        if sent != [module.FIELD]:
            raise Invalid(module.FIELD, f"This poll takes {module.FIELD}: send it alone.")
        return await module.put(poll, voter.user_id, values[module.FIELD], has_ballot)

    return await respond(voter, poll_id, None, write, window_s=window_s, keyed=keyed)


async def withdraw_response(voter: Voter, poll_id: int, keyed: Keyed | None = None) -> Change:
    async def write(poll: dict[str, Any], has_ballot: bool) -> Change:
        return await _module(Kind(poll["kind"])).withdraw(poll, voter.user_id)

    return await respond(voter, poll_id, None, write, keyed=keyed)


async def my_response(poll_id: int, user_id: int) -> MyResponse:
    row = await poll_row(poll_id, user_id)
    kind = Kind(row["kind"])
    module = _module(kind)
    mine = MyResponse(poll_id, kind)
    setattr(mine, module.FIELD, await module.mine(poll_id, user_id))
    return mine
