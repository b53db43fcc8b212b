"""Normalising word-cloud answers and open text."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webapp.errors import Invalid
from webapp.questions.answers import (
    ANSWER_MAX,
    KEY_MAX,
    TEXT_LINES,
    TEXT_MAX,
    Answer,
    AnswerCount,
    count_answers,
    normalise_answer,
    normalise_text,
)


@pytest.mark.parametrize(
    ("sent", "text", "key"),
    [
        ("Python", "Python", "python"),
        ("  PYTHON.  ", "PYTHON", "python"),
        ("«Hello, world!»", "Hello, world", "hello, world"),
        ("\u201cquoted\u201d", "quoted", "quoted"),
        ("ＡＢＣ", "ABC", "abc"),  # full width, NFKC
        ("ﬁne", "fine", "fine"),  # a ligature, NFKC
        ("Straße", "Straße", "strasse"),  # case folding, not lower()
        ("new   york", "new york", "new york"),
        ("new\tyork\r\ncity", "new york city", "new york city"),
        ("C#", "C#", "c#"),
        ("C++", "C++", "c++"),
        ("100%", "100%", "100%"),
        (".NET", ".NET", ".net"),
        ("#tag", "#tag", "#tag"),
        ("@bob!", "@bob", "@bob"),
        ("rock'n'roll?", "rock'n'roll", "rock'n'roll"),
        ("\u200b!\u200bhi?\u200b", "hi", "hi"),  # invisible characters between the punctuation
        ("🎉", "🎉", "🎉"),
        ("e\u0301", "\u00e9", "\u00e9"),  # composed
    ],
)
def test_answers_are_shown_and_counted_normalised(sent: str, text: str, key: str) -> None:
    assert normalise_answer(sent) == Answer(key=key, text=text)


@pytest.mark.parametrize(
    ("sent", "message"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("\u200b\u200b", "must not be empty"),
        ("...", "must contain a word"),
        ("?!", "must contain a word"),
        ("#", "must contain a word"),
        ("a\x00b", "control characters"),
        ("a\x07b", "control characters"),
        ("abc\u202edef", "bidirectional"),
        ("x" * (ANSWER_MAX + 1), f"at most {ANSWER_MAX} characters"),
        ("\ufdfa" * 3, "once normalised"),  # one character, 18 in NFKC
        ("\ud800", "lone surrogate"),
    ],
)
def test_bad_answers_are_refused_naming_the_field(sent: str, message: str) -> None:
    with pytest.raises(Invalid) as refused:
        normalise_answer(sent, field="answers[2]")
    assert refused.value.errors is not None
    assert refused.value.errors[0]["field"] == "answers[2]"
    assert message in refused.value.errors[0]["message"]
    assert refused.value.status == 422


def test_answers_differing_only_in_case_width_and_punctuation_count_as_one() -> None:
    spellings = ["Rust", "rust!", " RUST ", "Ｒｕｓｔ", "«rust»", "rust\u200b"]
    assert {normalise_answer(s).key for s in spellings} == {"rust"}


def test_a_word_is_shown_in_its_first_seen_spelling_and_counted_once_per_answer() -> None:
    answers = [normalise_answer(s) for s in ["Rust", "Go", "RUST", "rust.", "go"]]
    assert count_answers(answers) == [AnswerCount("rust", "Rust", 3), AnswerCount("go", "Go", 2)]


def test_a_key_is_at_most_three_times_the_answer() -> None:
    assert len(normalise_answer("\u0390" * ANSWER_MAX).key) == KEY_MAX


@given(st.text(max_size=ANSWER_MAX))
def test_normalising_an_answer_is_idempotent_and_its_key_is_stable(sent: str) -> None:
    try:
        answer = normalise_answer(sent)
    except Invalid:
        return
    again = normalise_answer(answer.text)
    assert again == answer
    assert answer.text == answer.text.strip() and "  " not in answer.text
    assert unicodedata.is_normalized("NFKC", answer.text)
    assert len(answer.text) <= ANSWER_MAX and len(answer.key) <= KEY_MAX


@given(st.text(max_size=2 * ANSWER_MAX))
def test_an_answer_is_accepted_or_refused_with_invalid_and_nothing_else(sent: str) -> None:
    try:
        answer = normalise_answer(sent)
    except Invalid as refused:
        assert refused.errors and refused.errors[0]["field"] == "answer"
        return
    assert answer.key and all(unicodedata.category(c) not in ("Cc", "Cs") for c in answer.text)


def test_open_text_keeps_paragraphs_and_collapses_spaces() -> None:
    sent = "  First   line\t here \r\n\r\n\r\n\r\nSecond\u00a0 para \n\n"
    assert normalise_text(sent) == "First line here\n\nSecond para"


def test_open_text_stays_in_nfc_not_nfkc() -> None:
    assert normalise_text("10 m² of ﬂoor") == "10 m² of ﬂoor"


@pytest.mark.parametrize(
    ("sent", "message"),
    [
        ("", "must not be empty"),
        (" \n \n\u200b", "must not be empty"),
        ("bad\x00", "control characters"),
        ("left\u202eright", "bidirectional"),
        ("x" * (TEXT_MAX + 1), f"at most {TEXT_MAX} characters"),
        ("a\n" * (TEXT_LINES + 1), f"at most {TEXT_LINES} lines"),
    ],
)
def test_bad_open_text_is_refused_naming_the_field(sent: str, message: str) -> None:
    with pytest.raises(Invalid) as refused:
        normalise_text(sent, field="question")
    assert refused.value.errors is not None
    assert refused.value.errors[0]["field"] == "question"
    assert message in refused.value.errors[0]["message"]


@given(st.text(max_size=300))
def test_normalised_open_text_is_idempotent(sent: str) -> None:
    try:
        text = normalise_text(sent)
    except Invalid:
        return
    assert normalise_text(text) == text
    assert "\n\n\n" not in text and text == text.strip()
