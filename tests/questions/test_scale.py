"""Rating scales: what a rating may be and what the results say."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webapp.errors import Invalid
from webapp.questions.scale import (
    LABEL_MAX,
    Bucket,
    Scale,
    check_rating,
    make_scale,
    scale_results,
)

FIVE = Scale(5, "Poor", "Great")


def field_of(refused: pytest.ExceptionInfo[Invalid]) -> str:
    assert refused.value.errors is not None
    return str(refused.value.errors[0]["field"])


def test_a_scale_takes_2_to_10_points_and_clean_labels() -> None:
    assert make_scale(10, "  Not at all ", "Very\u0301") == Scale(10, "Not at all", "Verý")
    assert make_scale("7", "a", "b").points == 7  # from a form


@pytest.mark.parametrize(
    ("points", "low", "high", "field"),
    [
        (1, "a", "b", "points"),
        (11, "a", "b", "points"),
        (True, "a", "b", "points"),
        (3.5, "a", "b", "points"),
        ("-3", "a", "b", "points"),
        (None, "a", "b", "points"),
        (5, " ", "b", "low_label"),
        (5, "a", "b\u202e", "high_label"),
        (5, "a", "x" * (LABEL_MAX + 1), "high_label"),
    ],
)
def test_a_bad_scale_is_refused_naming_the_field(
    points: object, low: str, high: str, field: str
) -> None:
    with pytest.raises(Invalid) as refused:
        make_scale(points, low, high)
    assert field_of(refused) == field


@pytest.mark.parametrize("value", [1, 5, "3"])
def test_a_rating_from_1_to_n_is_taken(value: object) -> None:
    assert check_rating(FIVE, value) == int(str(value))


@pytest.mark.parametrize("value", [0, 6, -1, True, False, 2.0, "2.0", " 2", "", None, [3]])
def test_anything_else_is_refused_naming_the_field(value: object) -> None:
    with pytest.raises(Invalid) as refused:
        check_rating(FIVE, value, field="ratings[0]")
    assert field_of(refused) == "ratings[0]"
    assert refused.value.detail == "must be a whole number from 1 to 5"


def test_results_count_average_median_histogram_and_percentages() -> None:
    results = scale_results(FIVE, {1: 1, 4: 2, 5: 1})
    assert results.responses == 4
    assert results.average == 3.5
    assert results.median == 4.0
    assert results.histogram == (
        Bucket(1, 1, 25),
        Bucket(2, 0, 0),
        Bucket(3, 0, 0),
        Bucket(4, 2, 50),
        Bucket(5, 1, 25),
    )
    assert (results.low, results.high, results.points) == ("Poor", "Great", 5)


def test_the_median_of_an_even_count_is_the_mean_of_the_middle_two() -> None:
    assert scale_results(FIVE, {2: 1, 3: 1}).median == 2.5
    assert scale_results(FIVE, {1: 2, 5: 2}).median == 3.0
    assert scale_results(FIVE, {4: 1}).median == 4.0


def test_the_average_is_rounded_to_two_decimals() -> None:
    assert scale_results(FIVE, {1: 1, 2: 1, 5: 1}).average == 2.67


def test_no_responses_have_no_average_or_median() -> None:
    results = scale_results(FIVE, {})
    assert (results.responses, results.average, results.median) == (0, None, None)
    assert [b.percent for b in results.histogram] == [0] * 5


def test_counts_outside_the_scale_are_a_bug_not_a_result() -> None:
    with pytest.raises(ValueError):
        scale_results(FIVE, {6: 1})
    with pytest.raises(ValueError):
        scale_results(FIVE, {2: -1})


@given(st.lists(st.integers(min_value=1, max_value=10), min_size=1, max_size=200))
def test_results_agree_with_the_ratings_themselves(ratings: list[int]) -> None:
    scale = Scale(10, "low", "high")
    counts = {value: ratings.count(value) for value in set(ratings)}
    results = scale_results(scale, counts)
    assert results.responses == len(ratings)
    assert results.median == statistics.median(ratings)
    assert results.average == round(statistics.mean(ratings), 2)
    assert [b.count for b in results.histogram] == [ratings.count(v) for v in range(1, 11)]
