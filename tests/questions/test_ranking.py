"""Rankings: complete orders of the options, and their Borda count."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webapp.errors import Invalid
from webapp.questions.ranking import (
    OPTIONS_MAX,
    check_options,
    check_ranking,
    explain,
    ranking_results,
    tally,
)

IDS = [11, 12, 13]


def refusal(order: object) -> tuple[str, str]:
    with pytest.raises(Invalid) as refused:
        check_ranking(IDS, order)
    assert refused.value.errors is not None and refused.value.status == 422
    return refused.value.errors[0]["field"], refused.value.detail


def test_a_complete_ranking_is_taken_as_given() -> None:
    assert check_ranking(IDS, [13, 11, 12]) == (13, 11, 12)


def test_bad_rankings_are_refused_naming_the_element() -> None:
    assert refusal("13,11,12") == ("order", "must be a list of the option ids, best first")
    assert refusal([13, "11", 12]) == ("order[1]", "must be an option id (a whole number)")
    assert refusal([13, True, 12]) == ("order[1]", "must be an option id (a whole number)")
    assert refusal([13, 99, 12]) == ("order[1]", "99 is not an option of this question")
    assert refusal([13, 13, 12]) == ("order[1]", "ranks option 13 a second time")
    assert refusal([13, 11, 12, 11]) == ("order[3]", "ranks option 11 a second time")


def test_a_partial_ranking_is_refused_naming_what_is_missing() -> None:
    assert refusal([12]) == ("order", "must rank every option; missing: 11, 13")
    assert refusal([]) == ("order", "must rank every option; missing: 11, 12, 13")


def test_a_ranking_question_has_2_to_10_options() -> None:
    check_options([1, 2])
    for ids in ([1], list(range(OPTIONS_MAX + 1))):
        with pytest.raises(Invalid) as refused:
            check_options(ids)
        assert refused.value.errors and refused.value.errors[0]["field"] == "options"


def test_borda_gives_k_minus_1_points_to_first_and_0_to_last() -> None:
    results = ranking_results(IDS, tally(IDS, [(11, 12, 13), (12, 11, 13), (12, 13, 11)]))
    assert [(o.id, o.points, o.rank) for o in results.options] == [
        (12, 5, 1),
        (11, 3, 2),
        (13, 1, 3),
    ]
    top = results.options[0]
    assert top.positions == (2, 1, 0) and top.average_position == 1.33
    assert top.percent == round(5 * 100 / 6) and results.rankings == 3


def test_equal_points_share_a_rank_and_more_first_places_list_first() -> None:
    # 11: 2+0 = 2 with one first place; 12: 1+1 = 2 with none; 13: 0+2 = 2 with one.
    results = ranking_results(IDS, tally(IDS, [(11, 12, 13), (13, 12, 11)]))
    assert [(o.id, o.points, o.rank, o.tied) for o in results.options] == [
        (11, 2, 1, True),
        (13, 2, 1, True),  # as many first places as 11: the poll's order decides
        (12, 2, 1, True),
    ]


def test_no_rankings_yet() -> None:
    results = ranking_results(IDS, tally(IDS, []))
    assert [o.id for o in results.options] == IDS
    assert all(o.points == 0 and o.percent == 0 and o.tied for o in results.options)
    assert all(o.average_position is None for o in results.options)


def test_position_counts_must_match_the_options() -> None:
    with pytest.raises(ValueError):
        ranking_results(IDS, {11: [1, 0, 0], 12: [0, 1, 0]})
    with pytest.raises(ValueError):
        ranking_results(IDS, {11: [1, 0], 12: [0, 1], 13: [0, 0]})


def test_the_explanation_says_how_points_are_given() -> None:
    assert explain(3, 5).startswith(
        "Each ranking gives 2 points to its first choice, 1 to its second choice and 0 to its"
        " last. The options are listed by their total points;"
    )
    assert explain(2, 1).startswith("The one ranking gives 1 point to its first choice and 0")
    assert "9 points to its first choice, 8 to its second, and so on to 0" in explain(10, 2)


@given(
    st.integers(min_value=2, max_value=6).flatmap(
        lambda k: st.lists(st.permutations(list(range(1, k + 1))), max_size=30)
    )
)
def test_every_ranking_hands_out_the_same_points_and_the_order_is_total(
    rankings: list[list[int]],
) -> None:
    size = len(rankings[0]) if rankings else 3
    ids = list(range(1, size + 1))
    results = ranking_results(ids, tally(ids, rankings))
    assert sum(o.points for o in results.options) == len(rankings) * size * (size - 1) // 2
    assert sorted(o.id for o in results.options) == ids
    points = [o.points for o in results.options]
    assert points == sorted(points, reverse=True)
    for a, b in itertools.pairwise(results.options):
        assert (a.rank == b.rank) == (a.points == b.points)
