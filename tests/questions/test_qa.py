"""Audience Q&A: the order on screen, steady under small changes, and upvote rules."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webapp.errors import Conflict, NotFound
from webapp.questions.qa import THRESHOLD, Question, Upvotes, canonical, order

START = datetime(2026, 12, 2, 14, 0)


def q(qid: int, upvotes: int = 0, minute: int | None = None, **flags: bool) -> Question:
    asked = START + timedelta(minutes=qid if minute is None else minute)
    return Question(qid, asker=100 + qid, asked_at=asked, upvotes=upvotes, **flags)


def test_canonical_order_highlighted_then_open_by_upvotes_then_age_then_answered() -> None:
    questions = [
        q(1, 5, answered=True),
        q(2, 1),
        q(3, 7),
        q(4, 1, minute=0),  # as many upvotes as 2, asked earlier
        q(5, 0, highlighted=True),
        q(6, 99, hidden=True),
    ]
    assert canonical(questions) == (5, 3, 4, 2, 1)


def test_without_a_previous_order_or_on_refresh_the_order_is_canonical() -> None:
    questions = [q(1, 0), q(2, 3)]
    assert order(None, questions) == order([1, 2], questions, refresh=True)
    assert order(None, questions).ids == (2, 1) and order(None, questions).settled


def test_a_small_climb_moves_nothing_and_a_big_one_moves_at_once() -> None:
    shown = [1, 2, 3, 4, 5, 6]
    questions = [q(1, 5), q(2, 4), q(3, 3), q(4, 2), q(5, 2), q(6, 1)]
    assert order(shown, questions) == order(None, questions)
    # 5 gains two upvotes: canonically second, three places up, not more than THRESHOLD
    nudged = [*questions[:4], q(5, 4), questions[5]]
    assert canonical(nudged) == (1, 2, 5, 3, 4, 6)
    result = order(shown, nudged)
    assert result.ids == (1, 2, 3, 4, 5, 6) and not result.settled
    assert order(shown, nudged, threshold=0).ids == canonical(nudged)
    assert order(shown, nudged, refresh=True).ids == canonical(nudged)
    # 6 gains four: canonically second, four places up: it moves there
    climbed = [*questions[:5], q(6, 5)]
    assert canonical(climbed) == (1, 6, 2, 3, 4, 5)
    assert order(shown, climbed).ids == (1, 6, 2, 3, 4, 5)
    assert THRESHOLD == 3


def test_new_questions_join_the_end_of_the_open_ones() -> None:
    shown = [2, 1, 3]
    questions = [q(1, 0), q(2, 1), q(3, 0, answered=True), q(4, 0)]
    assert order(shown, questions).ids == (2, 1, 4, 3)


def test_the_presenters_changes_move_a_question_at_once() -> None:
    shown = [1, 2, 3, 4]
    questions = [q(1, 4), q(2, 3), q(3, 2), q(4, 1)]
    assert order(shown, [*questions[:3], q(4, 1, highlighted=True)]).ids == (4, 1, 2, 3)
    assert order(shown, [q(1, 4, answered=True), *questions[1:]]).ids == (2, 3, 4, 1)
    assert order(shown, [q(1, 4, hidden=True), *questions[1:]]).ids == (2, 3, 4)


def test_ids_the_screen_has_but_the_list_lost_are_ignored() -> None:
    assert order([9, 1, 8, 2], [q(1), q(2)]).ids == (1, 2)


questions_strategy = st.lists(
    st.builds(
        q,
        st.integers(min_value=1, max_value=30),
        st.integers(min_value=0, max_value=20),
        st.integers(min_value=0, max_value=5),
        answered=st.booleans(),
        hidden=st.booleans(),
    ),
    max_size=25,
    unique_by=lambda question: question.id,
)


@given(
    questions_strategy,
    st.lists(st.integers(min_value=1, max_value=30), unique=True),
    st.integers(min_value=0, max_value=5),
)
def test_the_order_lists_each_question_once_near_its_place_and_is_steady(
    questions: list[Question], previous: list[int], threshold: int
) -> None:
    result = order(previous, questions, threshold)
    best = canonical(questions)
    assert sorted(result.ids) == sorted(best)
    assert result.settled == (result.ids == best)
    for index, qid in enumerate(result.ids):
        assert abs(index - best.index(qid)) <= threshold
    # Shown again with nothing changed, nothing moves.
    assert order(result.ids, questions, threshold) == result


@given(questions_strategy, st.lists(st.integers(min_value=1, max_value=30), unique=True))
def test_with_a_threshold_beyond_the_list_the_shown_order_is_kept_within_each_part(
    questions: list[Question], previous: list[int]
) -> None:
    result = order(previous, questions, threshold=len(questions))
    for part in (0, 1, 2):
        ids = [x.id for x in questions if not x.hidden and part_of(x) == part]
        listed = [qid for qid in result.ids if qid in ids]
        old = [qid for qid in listed if qid in previous]
        assert old == sorted(old, key=previous.index)
        assert listed[: len(old)] == old  # new ones after them


def part_of(question: Question) -> int:
    return 0 if question.highlighted else 2 if question.answered else 1


def test_one_upvote_per_person_per_question_withdrawable() -> None:
    book, question = Upvotes(), q(1)
    assert book.upvote(question, person=7) is True
    assert book.upvote(question, person=7) is False  # again: no change
    assert book.upvote(question, person=8) is True
    assert book.count(1) == 2
    assert book.withdraw(1, person=7) is True
    assert book.withdraw(1, person=7) is False  # none left: no change
    assert book.count(1) == 1 and book.count(2) == 0


def test_no_upvote_for_your_own_a_hidden_or_an_answered_question() -> None:
    book = Upvotes()
    with pytest.raises(Conflict, match="your own"):
        book.upvote(q(1), person=101)
    with pytest.raises(NotFound):
        book.upvote(q(1, hidden=True), person=7)
    with pytest.raises(Conflict, match="answered"):
        book.upvote(q(1, answered=True), person=7)
    assert book.count(1) == 0


def test_an_upvote_can_be_withdrawn_after_the_question_is_answered() -> None:
    book = Upvotes()
    book.upvote(q(1), person=7)
    assert book.withdraw(1, person=7) and book.count(1) == 0
