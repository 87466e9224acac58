"""Unit tests for the alias-match judge: normalization, the whole-word rule and first-line cutting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.judges import AliasJudge, alias_match, first_line, normalize_answer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Paris", "paris"),
        ("  The   Eiffel Tower ", "eiffel tower"),
        ("A cat and an owl", "cat and owl"),
        ("Bogotá", "bogota"),
        ("Chișinău", "chisinau"),
        ("São Tomé and Príncipe", "sao tome and principe"),
        ("Washington, D.C.", "washington dc"),
        ("U.S.A.", "usa"),
        ("J.K. Rowling", "jk rowling"),
        ("St. Paul", "st paul"),
        ("Côte d'Ivoire", "cote d ivoire"),
        ("Guinea-Bissau", "guinea bissau"),
        ("H₂O", "h2o"),
        ("2,408", "2408"),
        ("1,000,000", "1000000"),
        ("3.14", "3.14"),
        ("7.0", "7"),
        ("2.50 m", "2.5 m"),
        ("1/60", "1/60"),
        ("and/or", "and or"),
        ("It is 7.", "it is 7"),
        ("STRASSE", "strasse"),
        ("Straße", "strasse"),
        ("the", ""),
        ("", ""),
        ("?!", ""),
    ],
)
def test_normalize_answer_cases(text: str, expected: str) -> None:
    assert normalize_answer(text) == expected


@given(st.text())
def test_normalize_answer_is_idempotent(text: str) -> None:
    once = normalize_answer(text)
    assert normalize_answer(once) == once


@given(st.text())
def test_normalize_answer_has_single_spaces_and_no_articles(text: str) -> None:
    norm = normalize_answer(text)
    assert norm == norm.strip()
    assert "  " not in norm
    assert not {"a", "an", "the"} & set(norm.split())


@pytest.mark.parametrize(
    ("answer", "aliases", "expected"),
    [
        ("Paris", ["Paris"], True),
        ("paris.", ["Paris"], True),
        ("It is Paris, France", ["Paris"], True),
        ("The Moon", ["Moon"], True),
        ("Bogota", ["Bogotá"], True),
        ("Bogotá", ["Bogota"], True),
        ("2,408", ["2408"], True),
        ("2408", ["2,408"], True),
        ("seven", ["7", "seven"], True),
        ("Washington DC", ["Washington, D.C."], True),
        ("William Shakespeare", ["Shakespeare"], True),
        # whole-word rule: no substring loophole
        ("Marshall", ["Mars"], False),
        ("marshmallow", ["mars"], False),
        ("London", ["a"], False),
        ("London", ["i"], False),
        ("1984", ["1"], False),
        ("3.14", ["3"], False),
        ("1/60", ["60"], False),
        ("7.0", ["7"], True),
        ("365.24 days", ["365.24"], True),
        ("Nigeria", ["Niger"], False),
        ("Arkansas", ["Kansas"], False),
        ("Shakespeare", ["William Shakespeare"], False),
        # empty or article-only aliases are ignored, not wildcards
        ("Paris", [""], False),
        ("Paris", ["   "], False),
        ("Paris", ["the"], False),
        ("", ["Paris"], False),
        ("Paris", [], False),
    ],
)
def test_alias_match_cases(answer: str, aliases: list[str], expected: bool) -> None:
    assert alias_match(answer, aliases) is expected


@given(st.text(), st.text(), st.text())
def test_alias_matches_itself_inside_other_words(alias: str, before: str, after: str) -> None:
    if normalize_answer(alias):
        assert alias_match(f"{before} {alias} {after}", [alias])


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1), st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1))
def test_alias_never_matches_inside_a_longer_word(alias: str, suffix: str) -> None:
    if normalize_answer(alias):
        assert not alias_match(alias + suffix, [alias])
        assert not alias_match(suffix + alias, [alias])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" Paris\n\nQuestion: What is 2 plus 2?", "Paris"),
        ("Paris", "Paris"),
        ("  Au  \r\nmore", "Au"),
        ("\nParis", ""),
        ("", ""),
    ],
)
def test_first_line(text: str, expected: str) -> None:
    assert first_line(text) == expected


def test_alias_judge_contract() -> None:
    judge = AliasJudge()
    assert judge.name == "alias_match"
    assert judge.version == "1"
    assert judge.judge("Mount Everest", ["Everest"]) is True
    assert judge.judge("Marshall", ["Mars"]) is False
