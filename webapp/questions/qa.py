"""Audience Q&A: the order of the questions on screen, and the rules of upvotes.

The order. Hidden questions are not listed. The highlighted question (at most one: the one
being answered) comes first; then the open questions; then the answered ones. Within each
part the canonical order is most upvotes first, then the older question first (it has
waited longer, and a new question joins at the end instead of pushing the list down), then
the smaller id.

Not jumping under the reader's finger. A list re-sorted on every upvote moves while people
read and tap it. `order(previous, questions)` starts from the order last shown (`previous`,
what the screen has): questions keep their places relative to each other, new ones join at
the end of their part, and a question moves only when its canonical place is more than
`THRESHOLD` places away from where it is. So one upvote that lifts a question past a
neighbour or two moves nothing, and a question that climbs far moves at once. A change the
presenter makes (highlight, answered, hidden) moves the question at once, since it changes
its part. `refresh=True` gives the canonical order: what the reader gets by asking for it
(a "Sort now" button) and what the server publishes every `SETTLE_S` seconds at most, so the
list converges. `Ordering.settled` says whether the order shown is the canonical one.

Upvotes. One per person per question, withdrawable: a second upvote or a withdrawal of none
changes nothing (idempotent; no new `seq`). Nobody upvotes their own question, a hidden one
(to everyone else it does not exist) or one marked answered; a withdrawal is always allowed.
`Upvotes` is the model the table follows: a primary key (question, person) and a count kept
with the rows, changed only when a row was really inserted or deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from webapp.errors import Conflict, NotFound

THRESHOLD = 3  # places a question may be away from its canonical place before it moves
SETTLE_S = 10  # the longest a published order stays unsettled


@dataclass(frozen=True)
class Question:
    id: int
    asker: int  # the person who asked, anonymous or not (never shown when anonymous)
    asked_at: datetime
    upvotes: int = 0
    answered: bool = False
    highlighted: bool = False
    hidden: bool = False


@dataclass(frozen=True)
class Ordering:
    ids: tuple[int, ...]
    settled: bool  # the order is the canonical one


def _part(question: Question) -> int:
    return 0 if question.highlighted else 2 if question.answered else 1


def _rank(question: Question) -> tuple[int, int, datetime, int]:
    return (_part(question), -question.upvotes, question.asked_at, question.id)


def canonical(questions: Iterable[Question]) -> tuple[int, ...]:
    """The listed questions in the canonical order."""
    return tuple(q.id for q in sorted((q for q in questions if not q.hidden), key=_rank))


def _moved(before: list[int], target: dict[int, int], threshold: int) -> list[int]:
    """`before` with the ids more than `threshold` places from their `target` place moved
    there, in order of that place."""
    movers = {qid for index, qid in enumerate(before) if abs(index - target[qid]) > threshold}
    result = [qid for qid in before if qid not in movers]
    for qid in sorted(movers, key=target.__getitem__):
        result.insert(min(target[qid], len(result)), qid)
    return result


def _steady(before: list[int], best: list[int], threshold: int) -> list[int]:
    """The nearest order to `before` (the same ids as `best`) with every id at most
    `threshold` places from its place in `best`: moving some ids can push others too far, so
    the moves repeat until none is needed (or, after as many rounds as there are ids, `best`
    itself). The result needs no move, so the same input gives it back: no jump without a
    change."""
    target = {qid: index for index, qid in enumerate(best)}
    current = before
    for _ in range(len(best) + 1):
        moved = _moved(current, target, threshold)
        if moved == current:
            return current
        current = moved
    return best


def order(
    previous: Sequence[int] | None,
    questions: Iterable[Question],
    threshold: int = THRESHOLD,
    refresh: bool = False,
) -> Ordering:
    """The order to show, as stable as the module's rule allows against `previous`."""
    listed = [q for q in questions if not q.hidden]
    best = canonical(listed)
    if refresh or previous is None:
        return Ordering(best, True)
    part = {q.id: _part(q) for q in listed}
    shown = {qid: index for index, qid in enumerate(previous)}
    result: list[int] = []
    for section in (0, 1, 2):
        best_part = [qid for qid in best if part[qid] == section]
        kept = sorted((qid for qid in best_part if qid in shown), key=shown.__getitem__)
        new = [qid for qid in best_part if qid not in shown]
        result.extend(_steady(kept + new, best_part, threshold))
    return Ordering(tuple(result), tuple(result) == best)


@dataclass
class Upvotes:
    """Who upvoted which question."""

    voters: dict[int, set[int]] = field(default_factory=dict)

    def count(self, question_id: int) -> int:
        return len(self.voters.get(question_id, ()))

    def upvote(self, question: Question, person: int) -> bool:
        """Add `person`'s upvote; False if it was there already."""
        if question.hidden:
            raise NotFound("No such question.")
        if question.asker == person:
            raise Conflict("You cannot upvote your own question.")
        if question.answered:
            raise Conflict("This question has been answered.")
        people = self.voters.setdefault(question.id, set())
        if person in people:
            return False
        people.add(person)
        return True

    def withdraw(self, question_id: int, person: int) -> bool:
        """Take `person`'s upvote back; False if there was none."""
        people = self.voters.get(question_id)
        if not people or person not in people:
            return False
        people.remove(person)
        return True
