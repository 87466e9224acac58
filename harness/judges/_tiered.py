"""Tiered alias judge: grades a short answer against its aliases rule by rule, sending hedges onward.

Tiers, first decisive one wins: empty, exact, refusal, or_answer, simplified_alias, numeric,
containment (guarded), no_match. Answers the rules cannot decide get label "adjudicate".
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import ClassVar, NamedTuple

from harness.judges._alias import normalize_answer
from harness.judges._base import JudgeInfo, Judgement, Label
from harness.judges._refusal import offers_guess, split_refusal

MAX_CONTAINMENT_TOKENS = 12
"""Longer answers that merely contain an alias go to the adjudicator: they may mention it in passing."""
NEGATION_WINDOW = 3
"""How many tokens before an alias occurrence are searched for a negation ("not Paris", "isn't in Paris")."""
_NEGATIONS = frozenset(
    {"not", "no", "never", "nor", "neither", "t", "cannot", "cant", "isnt", "wasnt", "arent", "werent",
     "dont", "doesnt", "didnt", "wont", "than", "instead", "except", "unlike", "besides"}
)  # fmt: skip
# "t" is what normalization leaves of "n't" ("isn't Paris" -> "isn t paris").

_PARENTHETICAL = re.compile(r"[(\[][^()\[\]]*[)\]]")  # "Paris (France)", "Mercury [planet]"
_THOUSANDS_COMMA = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_LETTER_SLASH = r"(?<=[^\W\d_])\s*/\s*(?=[^\W\d_])"  # "Washington/Oregon", not the fraction "1/60"
_HEDGE = re.compile(rf"\bor\b|{_LETTER_SLASH}", re.IGNORECASE)
_SEPARATOR = re.compile(rf"\s*,\s*|\s+(?:and/)?or\s+|{_LETTER_SLASH}", re.IGNORECASE)
_EITHER = re.compile(r"\beither\b", re.IGNORECASE)
_FILLER = frozenset({"", "or", "either", "and", "and or"})
_MIN_COMMA_LIST = 3  # "Paris, France" qualifies a place; three comma items enumerate candidates

_UNIT_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen"
)
_UNITS = {w: i for i, w in enumerate(_UNIT_WORDS.split())}
_TENS_WORDS = "twenty thirty forty fifty sixty seventy eighty ninety"
_TENS = {w: 10 * i for i, w in enumerate(_TENS_WORDS.split(), 2)}
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_DIGITS = re.compile(r"\d+(?:\.\d+)?")


class _Form(NamedTuple):
    """One comparable form of an alias."""

    alias: str
    """The alias as given."""
    tokens: tuple[str, ...]
    """Its normalized tokens."""
    simplified: bool
    """Whether parenthesised disambiguators were dropped to get it."""
    value: float | None
    """Its numeric value when the whole form is a number ("7", "3.5", "twenty one"), else None."""


class _Number(NamedTuple):
    value: float
    start: int
    end: int


def _kind(token: str) -> str | None:
    if token in _UNITS:
        return "unit" if _UNITS[token] < 10 else "teen"
    if token in _TENS:
        return "tens"
    return "scale" if token in _SCALES else None


# Which kinds of number word may follow which: "twenty one" and "two hundred" are one number,
# "seven eight" is two.
_MAY_FOLLOW = {
    None: {"unit", "teen", "tens", "scale"},
    "unit": {"scale"},
    "teen": {"scale"},
    "tens": {"unit", "scale"},
    "scale": {"unit", "teen", "tens", "scale"},
}


def _word_number(tokens: Sequence[str], start: int) -> _Number:
    """Read a run of number words from ``tokens[start]`` ("two hundred five" -> 205)."""
    total, current, last, i = 0, 0, None, start
    while i < len(tokens):
        kind = _kind(tokens[i])
        if kind is None or kind not in _MAY_FOLLOW[last]:
            break
        word = tokens[i]
        if kind == "scale" and _SCALES[word] == 100:
            current = max(current, 1) * 100
        elif kind == "scale":
            total += max(current, 1) * _SCALES[word]
            current = 0
        else:
            current += _UNITS.get(word, 0) + _TENS.get(word, 0)
        last, i = kind, i + 1
    return _Number(float(total + current), start, i)


def _numbers(tokens: Sequence[str]) -> list[_Number]:
    """Every number in a normalized token list, in digits ("7", "2.5 million") or words ("seven")."""
    found: list[_Number] = []
    i = 0
    while i < len(tokens):
        if _DIGITS.fullmatch(tokens[i]):
            value, j = float(tokens[i]), i + 1
            while j < len(tokens) and tokens[j] in _SCALES:
                value, j = value * _SCALES[tokens[j]], j + 1
            found.append(_Number(value, i, j))
            i = j
        elif _kind(tokens[i]) is not None:
            number = _word_number(tokens, i)
            found.append(number)
            i = number.end
        else:
            i += 1
    return found


def _value(tokens: Sequence[str]) -> float | None:
    """The numeric value of a form that is exactly one number, else None."""
    numbers = _numbers(tokens)
    if len(numbers) == 1 and numbers[0].start == 0 and numbers[0].end == len(tokens):
        return numbers[0].value
    return None


def _simplify(text: str) -> str:
    """Drop parenthesised disambiguators, then normalize (which drops articles and punctuation)."""
    return normalize_answer(_PARENTHETICAL.sub(" ", text))


def _forms(item_id: str, aliases: Iterable[str]) -> list[_Form]:
    """The raw and simplified normalized forms of every alias, validated."""
    if isinstance(aliases, str):
        raise ValueError(
            f"item {item_id!r}: aliases must be a list of strings, got the string {aliases!r}; "
            f"wrap it: [{aliases!r}]"
        )
    aliases = list(aliases)
    forms: list[_Form] = []
    for alias in aliases:
        for text, simplified in ((normalize_answer(alias), False), (_simplify(alias), True)):
            tokens = tuple(text.split())
            if tokens and all(f.tokens != tokens for f in forms):
                forms.append(_Form(alias, tokens, simplified, _value(tokens)))
    if not forms:
        raise ValueError(
            f"item {item_id!r}: no alias normalizes to a non-empty string (aliases {aliases!r}); "
            "fix the item's aliases in its benchmark file"
        )
    return forms


def _occurrences(tokens: Sequence[str], sub: Sequence[str]) -> list[int]:
    """Start positions where ``sub`` occurs in ``tokens`` as a contiguous run."""
    k = len(sub)
    return [i for i in range(len(tokens) - k + 1) if tuple(tokens[i : i + k]) == tuple(sub)]


def _negated(tokens: Sequence[str], start: int) -> bool:
    """Whether a negation occurs in the ``NEGATION_WINDOW`` tokens before position ``start``."""
    return any(t in _NEGATIONS for t in tokens[max(0, start - NEGATION_WINDOW) : start])


def _matches(tokens: Sequence[str], forms: Sequence[_Form]) -> bool:
    """Whether a token list contains some alias as whole words or as an equal number."""
    values = [n.value for n in _numbers(tokens)]
    for form in forms:
        if form.value is not None:
            if any(math.isclose(v, form.value) for v in values):
                return True
        elif _occurrences(tokens, form.tokens):
            return True
    return False


def _candidates(answer: str) -> list[tuple[str, ...]]:
    """The candidate answers of a hedge ("X or Y", "either X or Y", "X, Y, Z"), or [] for one answer."""
    text = _THOUSANDS_COMMA.sub("", answer)
    has_or = _HEDGE.search(text) is not None
    parts = [tuple(normalize_answer(p).split()) for p in _SEPARATOR.split(_EITHER.sub(" ", text))]
    parts = [p for p in parts if " ".join(p) not in _FILLER]
    if len(set(parts)) < 2 or (not has_or and len(parts) < _MIN_COMMA_LIST):
        return []
    return parts


class TieredAliasJudge:
    """Rule-based short-answer judge with explicit tiers; what the rules cannot decide is "adjudicate".

    Tiers in order (the first decisive one wins):

    1. ``empty``: the answer normalizes to nothing -> not_attempted.
    2. ``exact``: the normalized answer equals a normalized alias -> correct. Before the refusal
       tier, so an alias such as "Unknown" or "I Don't Know" (a song) is still matched.
    3. ``refusal``: the answer opens with a not-attempted clause ("I don't know", "Unknown.") ->
       not_attempted; adjudicate when a guess follows ("I'm not sure, but maybe Paris").
    4. ``or_answer``: the answer hedges between candidates ("X or Y", "either X or Y", three or more
       comma items) and some but not all candidates match an alias -> adjudicate.
    5. ``simplified_alias``: equal after dropping parenthesised disambiguators ("Mercury (planet)")
       -> correct.
    6. ``numeric``: a numeric alias equals a number in the answer, on word boundaries ("7" matches
       "7 days" and "seven", not "1984") -> correct.
    7. ``containment``: an alias occurs as whole words -> correct; but adjudicate (tier
       ``containment_guard``) when the answer is longer than ``MAX_CONTAINMENT_TOKENS`` tokens or
       a negation precedes the alias ("not Paris"). The guard also covers numeric matches; a match
       through a simplified alias reports tier ``simplified_alias``.
    8. ``no_match`` -> incorrect.
    """

    info: ClassVar[JudgeInfo] = JudgeInfo(name="tiered_alias", prompt_version="2", schema_version="1")

    @property
    def tag(self) -> str:
        """The judge tag stored on every judgement, ``"tiered_alias@p2/s1"``."""
        return self.info.tag

    def _verdict(self, item_id: str, label: Label, tier: str, detail: str = "") -> Judgement:
        score = {"correct": 1.0, "incorrect": 0.0}.get(label)
        return Judgement(item_id=item_id, label=label, score=score, tier=tier, judge=self.tag, detail=detail)

    def judge(self, item_id: str, answer: str, aliases: Iterable[str]) -> Judgement:
        """Grade one answer.

        Args:
            item_id: Id of the item, copied onto the judgement.
            answer: The model's answer (normally already cut at the first line).
            aliases: The accepted answers of the item (a list, not a single string).

        Returns:
            The judgement: label correct/incorrect (score 1.0/0.0) or not_attempted/adjudicate
            (score None), with the deciding tier.

        Raises:
            ValueError: ``aliases`` is a single string, or no alias normalizes to a non-empty string.
        """
        forms = _forms(item_id, aliases)
        tokens = normalize_answer(answer).split()
        if not tokens:
            return self._verdict(item_id, "not_attempted", "empty", "answer is empty after normalization")
        for form in forms:
            if not form.simplified and tuple(tokens) == form.tokens:
                return self._verdict(item_id, "correct", "exact", f"alias {form.alias!r}")
        refusal = self._refusal(item_id, answer, tokens, forms)
        if refusal is not None:
            return refusal
        hedge = self._hedge(item_id, answer, tokens, forms)
        if hedge is not None:
            return hedge
        simplified = tuple(_simplify(answer).split())
        for form in forms:
            if simplified == form.tokens:
                return self._verdict(item_id, "correct", "simplified_alias", f"alias {form.alias!r}")
        return self._contained(item_id, tokens, forms)

    def _refusal(
        self, item_id: str, answer: str, tokens: Sequence[str], forms: Sequence[_Form]
    ) -> Judgement | None:
        rest = split_refusal(answer)
        if rest is None:
            return None
        # An alias that itself reads as a refusal ("I Don't Know (song)") and occurs in the answer
        # is an answer, not a refusal: leave it to the containment tier.
        if any(split_refusal(f.alias) is not None and _occurrences(tokens, f.tokens) for f in forms):
            return None
        if offers_guess(rest) or _matches(normalize_answer(rest).split(), forms):
            return self._verdict(item_id, "adjudicate", "refusal", "a guess follows a refusal clause")
        return self._verdict(item_id, "not_attempted", "refusal")

    def _hedge(
        self, item_id: str, answer: str, tokens: Sequence[str], forms: Sequence[_Form]
    ) -> Judgement | None:
        # An alias that contains a separator ("Either/Or", "Trinidad, Colorado") is one answer.
        if any(_HEDGE.search(f.alias) or "," in f.alias for f in forms if _occurrences(tokens, f.tokens)):
            return None
        candidates = _candidates(answer)
        hits = [_matches(c, forms) for c in candidates]
        if any(hits) and not all(hits):
            names = [" ".join(c) for c in candidates]
            return self._verdict(item_id, "adjudicate", "or_answer", f"hedges between {names}")
        return None

    def _contained(self, item_id: str, tokens: Sequence[str], forms: Sequence[_Form]) -> Judgement:
        """Numeric and whole-word containment tiers, guarded against long and negated answers."""
        numbers = _numbers(tokens)
        hits: list[tuple[_Form, list[int]]] = []
        for form in forms:
            if form.value is not None:
                starts = [n.start for n in numbers if math.isclose(n.value, form.value)]
            else:
                starts = _occurrences(tokens, form.tokens)
            if starts:
                hits.append((form, starts))
        if not hits:
            return self._verdict(item_id, "incorrect", "no_match")
        form = hits[0][0]
        tier = (
            "numeric" if form.value is not None else "simplified_alias" if form.simplified else "containment"
        )
        if len(tokens) > MAX_CONTAINMENT_TOKENS:
            return self._verdict(
                item_id, "adjudicate", "containment_guard",
                f"{tier} match of {form.alias!r} in a {len(tokens)}-token answer",
            )  # fmt: skip
        negated = [f.alias for f, starts in hits if any(_negated(tokens, s) for s in starts)]
        if negated:
            return self._verdict(
                item_id, "adjudicate", "containment_guard", f"negation before alias {negated[0]!r}"
            )
        return self._verdict(item_id, "correct", tier, f"alias {form.alias!r}")

    def judge_many(
        self, ids: Sequence[str], answers: Sequence[str], aliases_list: Sequence[Sequence[str]]
    ) -> list[Judgement]:
        """Grade a batch of items.

        Args:
            ids: Item ids.
            answers: One answer per item.
            aliases_list: One alias list per item.

        Returns:
            One judgement per item, in order.

        Raises:
            ValueError: The three sequences differ in length, or an item's aliases are unusable.
        """
        if not len(ids) == len(answers) == len(aliases_list):
            raise ValueError(
                f"judge_many: {len(ids)} ids, {len(answers)} answers and {len(aliases_list)} alias "
                "lists; pass one answer and one alias list per item id"
            )
        return [self.judge(i, a, al) for i, a, al in zip(ids, answers, aliases_list, strict=True)]


def tier_counts(judgements: Iterable[Judgement]) -> dict[str, int]:
    """Count judgements per deciding tier, most frequent first (for the sensitivity table).

    Args:
        judgements: Judgements from one judge.

    Returns:
        Mapping tier -> count.
    """
    return dict(Counter(j.tier for j in judgements).most_common())
