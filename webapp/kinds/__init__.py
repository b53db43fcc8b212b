"""Reading the results of the kinds other than choice (docs/question_types.md).

Each kind's module reads its running counts (never a scan of the responses) into its
`Detail`; `detail` picks the module by the poll's kind. The writes are in webapp/responses/.
Only the kinds in `WIRED` can be made yet; another is refused with a 422 naming `kind`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from webapp.kinds import open_text, qa, ranking, scale, word_cloud
from webapp.kinds.details import Detail
from webapp.tables import Kind

Loader = Callable[[dict[str, Any]], Awaitable[Detail]]
LOADERS: dict[Kind, Loader] = {
    Kind.scale: scale.detail,
    Kind.word_cloud: word_cloud.detail,
    Kind.ranking: ranking.detail,
    Kind.open_text: open_text.detail,
    Kind.qa: qa.detail,
}
WIRED = frozenset({Kind.choice, *LOADERS})
# A person's own response (None: none yet), by kind: what their page shows as theirs.
MINE: dict[Kind, Callable[[int, int], Awaitable[Any]]] = {
    Kind.scale: scale.rating_of,
    Kind.word_cloud: word_cloud.words_of_page,
    Kind.ranking: ranking.order_of,
    Kind.open_text: open_text.answer_of,
    Kind.qa: qa.mine,
}


async def detail(poll: dict[str, Any]) -> Detail | None:
    """The results of a poll row (its id and the kind columns), None for a choice poll."""
    kind = Kind(poll.get("kind", Kind.choice))
    if kind == Kind.choice:
        return None
    return await LOADERS[kind](poll)


async def mine(poll: dict[str, Any], user_id: int | None) -> Any:
    """The person's own response in a poll of a kind other than choice (None: none)."""
    reader = MINE.get(Kind(poll["kind"]))
    if reader is None or user_id is None:
        return None
    return await reader(poll["id"], user_id)
