"""Unit tests for the tiered alias judge, the refusal patterns and the judge-version pooling guard."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import ValidationError

from harness.errors import JudgeVersionError
from harness.judges import (
    JudgeInfo,
    Judgement,
    TieredAliasJudge,
    check_one_judge,
    is_refusal,
    normalize_answer,
    rejects_premise,
    split_refusal,
    tier_counts,
)

JUDGE = TieredAliasJudge()


def _judge(answer: str, *aliases: str) -> Judgement:
    return JUDGE.judge("q1", answer, list(aliases))


@pytest.mark.parametrize(
    ("answer", "aliases", "label", "tier"),
    [
        # empty
        ("", ["Paris"], "not_attempted", "empty"),
        ("   ", ["Paris"], "not_attempted", "empty"),
        ("?!", ["Paris"], "not_attempted", "empty"),
        # exact (before refusal: an alias that looks like a refusal is still an answer)
        ("Paris", ["Paris"], "correct", "exact"),
        ("the Eiffel Tower.", ["Eiffel Tower"], "correct", "exact"),
        ("Unknown Soldier", ["Unknown Soldier"], "correct", "exact"),
        ("Unknown", ["unknown"], "correct", "exact"),
        ("3.0", ["3"], "correct", "exact"),
        # refusal
        ("I don't know", ["Paris"], "not_attempted", "refusal"),
        ("I don’t know.", ["Paris"], "not_attempted", "refusal"),
        ("I'm not sure.", ["Paris"], "not_attempted", "refusal"),
        ("I cannot answer that question.", ["Paris"], "not_attempted", "refusal"),
        ("Sorry, I can't.", ["Paris"], "not_attempted", "refusal"),
        ("Unknown.", ["Paris"], "not_attempted", "refusal"),
        ("No idea", ["Paris"], "not_attempted", "refusal"),
        ("I'm not sure, but maybe Paris", ["Paris"], "adjudicate", "refusal"),
        # or_answer
        ("Washington or Oregon", ["Washington"], "adjudicate", "or_answer"),
        ("Either Washington or Oregon", ["Washington"], "adjudicate", "or_answer"),
        ("Washington/Oregon", ["Washington"], "adjudicate", "or_answer"),
        ("Paris, Lyon, Marseille", ["Paris"], "adjudicate", "or_answer"),
        ("either 7 or 8", ["seven"], "adjudicate", "or_answer"),
        # simplified_alias
        ("Mercury", ["Mercury (planet)"], "correct", "simplified_alias"),
        ("Paris (France)", ["Paris"], "correct", "simplified_alias"),
        ("The planet Mercury", ["Mercury (planet)"], "correct", "simplified_alias"),
        # numeric
        ("seven", ["7"], "correct", "numeric"),
        ("7 days", ["7"], "correct", "numeric"),
        ("It takes 7 days", ["seven"], "correct", "numeric"),
        ("3.0 metres", ["3"], "correct", "numeric"),
        ("twenty one", ["21"], "correct", "numeric"),
        ("two hundred five", ["205"], "correct", "numeric"),
        ("2,408 people", ["2408"], "correct", "numeric"),
        # containment
        ("The answer is Paris.", ["Paris"], "correct", "containment"),
        ("Paris, France", ["Paris"], "correct", "containment"),
        ("Portland, OR", ["Portland"], "correct", "containment"),
        ("NYC or New York City", ["New York City", "NYC"], "correct", "containment"),
        ("Kierkegaard's Either/Or", ["Either/Or"], "correct", "containment"),
        # containment_guard
        ("not Paris", ["Paris"], "adjudicate", "containment_guard"),
        ("It isn't in Paris", ["Paris"], "adjudicate", "containment_guard"),
        ("not 7", ["7"], "adjudicate", "containment_guard"),
        (
            "Paris has been the capital of France since the time of the Franks, a long time ago",
            ["Paris"],
            "adjudicate",
            "containment_guard",
        ),
        # no_match
        ("Lyon", ["Paris"], "incorrect", "no_match"),
        ("mars", ["Marshall"], "incorrect", "no_match"),
        ("Marshall", ["Mars"], "incorrect", "no_match"),
        ("1984", ["1"], "incorrect", "no_match"),
        ("3 million", ["3"], "incorrect", "no_match"),
        ("8 days", ["7"], "incorrect", "no_match"),
    ],
)
def test_tier_cases(answer: str, aliases: list[str], label: str, tier: str) -> None:
    j = JUDGE.judge("q1", answer, aliases)
    assert (j.label, j.tier) == (label, tier), j.detail


def test_scores_follow_labels() -> None:
    assert _judge("Paris", "Paris").score == 1.0
    assert _judge("Lyon", "Paris").score == 0.0
    assert _judge("not Paris", "Paris").score is None
    assert _judge("I don't know", "Paris").score is None


def test_judgements_carry_the_judge_tag() -> None:
    assert JUDGE.tag == "tiered_alias@p2/s1"
    j = _judge("Paris", "Paris")
    assert j.judge == "tiered_alias@p2/s1"
    assert j.item_id == "q1"


def test_judge_info_tag_and_validation() -> None:
    assert JudgeInfo(name="llm", prompt_version="3", schema_version="2").tag == "llm@p3/s2"
    with pytest.raises(ValidationError):
        JudgeInfo(name="a@b", prompt_version="1", schema_version="1")
    with pytest.raises(ValidationError):
        JudgeInfo(name="a", prompt_version="1", schema_version="1", extra="x")  # type: ignore[call-arg]


def test_judgement_rejects_unknown_fields_labels_and_scores() -> None:
    base = {"item_id": "q", "label": "correct", "score": 1.0, "tier": "exact", "judge": "t@p1/s1"}
    Judgement(**base)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Judgement(**{**base, "label": "corect"})  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Judgement(**{**base, "score": 1.5})  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Judgement(**{**base, "verdict": "x"})  # type: ignore[arg-type]


def test_check_one_judge_refuses_two_tags() -> None:
    a = _judge("Paris", "Paris")
    b = a.model_copy(update={"judge": "tiered_alias@p1/s1"})
    with pytest.raises(JudgeVersionError, match=r"refusing to pool judge versions .* in claim x; re-judge"):
        check_one_judge([a, b], "claim x")


def test_check_one_judge_accepts_one_tag_and_rows() -> None:
    rows: list[Judgement | dict[str, object]] = [{"judge": "tiered_alias@p2/s1"}, _judge("Lyon", "Paris")]
    assert check_one_judge(rows, "t") == "tiered_alias@p2/s1"
    assert check_one_judge([], "t") is None
    with pytest.raises(JudgeVersionError, match="carries no judge tag"):
        check_one_judge([{"label": "correct"}], "t")


def test_judge_rejects_bad_aliases() -> None:
    with pytest.raises(ValueError, match="wrap it"):
        JUDGE.judge("q", "Paris", "Paris")
    with pytest.raises(ValueError, match="no alias normalizes"):
        JUDGE.judge("q", "Paris", ["the", ""])


def test_judge_many_and_tier_counts() -> None:
    out = JUDGE.judge_many(["a", "b", "c"], ["Paris", "Lyon", "Paris"], [["Paris"]] * 3)
    assert [j.item_id for j in out] == ["a", "b", "c"]
    assert tier_counts(out) == {"exact": 2, "no_match": 1}
    with pytest.raises(ValueError, match="one answer and one alias list per item"):
        JUDGE.judge_many(["a"], ["Paris", "Lyon"], [["Paris"]])


def test_refusal_helpers() -> None:
    assert is_refusal("I have no idea.")
    assert not is_refusal("I'm not sure, but I think it is Paris")
    assert not is_refusal("Unknown Soldier")
    assert not is_refusal("I can tell you: Paris")
    assert split_refusal("I don't know.") == "."
    assert split_refusal("Paris") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("There is no record of such a treaty.", True),
        ("That's a false premise.", True),
        ("Actually, Einstein did not win a second Nobel Prize.", True),
        ("Actually, he never visited Mars.", True),
        ("No such element exists; it does not exist.", True),
        ("The treaty was signed in 1848.", False),
        ("Paris", False),
    ],
)
def test_rejects_premise(text: str, expected: bool) -> None:
    assert rejects_premise(text) is expected


# Words over a-m only: no number word, negation, article-free hedge or refusal word can be built from them.
_ALIAS_WORD = st.text(alphabet="bcdefghijklm", min_size=2, max_size=8)
_ANSWER_TEXT = st.text(alphabet="nopqrstuvwxyz ,.()/'!?-", max_size=40)


@given(st.text(min_size=1, max_size=40))
def test_an_alias_judges_correct_on_itself(alias: str) -> None:
    assume(normalize_answer(alias))
    j = JUDGE.judge("q", alias, [alias])
    assert (j.label, j.tier, j.score) == ("correct", "exact", 1.0)


@given(
    st.lists(st.lists(_ALIAS_WORD, min_size=1, max_size=3).map(" ".join), min_size=1, max_size=3),
    _ANSWER_TEXT,
)
def test_an_answer_sharing_no_token_is_never_correct(aliases: list[str], answer: str) -> None:
    assert JUDGE.judge("q", answer, aliases).label != "correct"


@given(st.lists(_ALIAS_WORD, min_size=1, max_size=3).map(" ".join))
def test_a_negated_alias_is_never_correct(alias: str) -> None:
    assert JUDGE.judge("q", f"not {alias}", [alias]).label == "adjudicate"
