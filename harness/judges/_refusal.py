"""Refusal patterns: answers that do not attempt the question, and replies that reject a false premise."""

from __future__ import annotations

import re

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "*": " ", "_": " "})
# A bare refusal word ("unknown", "not sure") only counts when a clause ends after it, so
# "Unknown Soldier" is an answer, not a refusal.
_CLAUSE_END = r"(?=\s*(?:[,.;:!?()\-–—]|\bbut\b|$))"
# Openers that may precede a refusal: "Sorry, I don't know", "Honestly, no idea".
_OPENER = r"(?:(?:i'?m\s+|i\s+am\s+)?(?:sorry|afraid)|honestly|well|hmm+|unfortunately)\s*[,.!]?\s*"

NOT_ATTEMPTED_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(rf"(?:{_OPENER})*(?:{body})(?!\w)")
    for body in (
        r"i\s+(?:really\s+|honestly\s+|just\s+)?(?:do\s+not|don'?t)\s+know",
        r"i(?:\s+am|'?m)\s+(?:not\s+(?:sure|certain)|unsure|uncertain)",
        r"i\s+(?:cannot|can\s*'?t|can\s+not|am\s+unable\s+to|'?m\s+unable\s+to|am\s+not\s+able\s+to)",
        r"i\s+have\s+no\s+(?:idea|clue)",
        r"(?:i\s+)?(?:do\s+not|don'?t)\s+have\s+(?:enough\s+|the\s+)?(?:information|data|access)",
        rf"(?:no\s+idea|no\s+clue|not\s+sure|unsure|unknown|not\s+known|dunno|n/?a){_CLAUSE_END}",
        rf"(?:the\s+answer\s+is|it\s+is|it'?s|that\s+is|that'?s)\s+(?:unknown|not\s+known|unclear){_CLAUSE_END}",
    )
)
"""A reply that opens with one of these (after lower-casing) declines to answer."""

PREMISE_REJECTION_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p)
    for p in (
        r"\bthere\s+(?:is|are|was|were|has\s+been|have\s+been)\s+(?:no|never)\b",
        r"\bthere'?s\s+(?:no|never)\b",
        r"\bfalse\s+premise\b",
        r"\bpremise\s+(?:is|seems|appears)\s+(?:to\s+be\s+)?(?:false|incorrect|wrong|mistaken|flawed)\b",
        r"\b(?:no\s+such|(?:does|did)\s+not\s+exist|(?:doesn|didn)'?t\s+exist|never\s+existed)\b",
        r"\bactually,?\s+(?:[\w'-]+\s+){0,8}?"
        r"(?:did|does|was|were|is|has|had)(?:\s+not|n'?t)\b",
        r"\bactually,?\s+(?:[\w'-]+\s+){0,8}?never\b",
        r"\b(?:that|this|it)(?:\s+is|'?s)\s+not\s+(?:true|correct|accurate|the\s+case)\b",
        r"\b(?:is|was)\s+(?:a\s+)?(?:fictional|fictitious|myth)\b",
        r"\bmisconception\b",
    )
)
"""A reply that contains one of these (anywhere, after lower-casing) rejects the question's premise."""

# After a refusal clause, these words mean the reply still offers a guess ("I'm not sure, but maybe X").
_GUESS = re.compile(
    r"\b(?:but|maybe|perhaps|possibly|probably|likely|might|could|guess|think|believe|suspect)\b"
)


def _prepare(text: str) -> str:
    """Lower-case, straighten apostrophes and drop markdown emphasis so the patterns see plain text."""
    return text.translate(_APOSTROPHES).casefold().strip()


def split_refusal(text: str) -> str | None:
    """Split a reply that opens with a not-attempted clause.

    Args:
        text: The model's answer, e.g. "I'm not sure, but I think it is Paris".

    Returns:
        The (lower-cased) remainder after the refusal clause, e.g. ", but i think it is paris"
        ("" for a bare "I don't know."), or None when the reply does not open with a refusal.
    """
    clean = _prepare(text)
    for pattern in NOT_ATTEMPTED_PATTERNS:
        match = pattern.match(clean)
        if match:
            return clean[match.end() :]
    return None


def offers_guess(rest: str) -> bool:
    """Whether the text after a refusal clause still offers a guess ("but", "maybe", "I think").

    Args:
        rest: The remainder returned by :func:`split_refusal`.

    Returns:
        True when a guess marker occurs as a whole word.
    """
    return _GUESS.search(_prepare(rest)) is not None


def is_refusal(text: str) -> bool:
    """Whether a reply declines to answer: it opens with a not-attempted clause and offers no guess.

    "I don't know.", "Unknown", "I'm not sure what you mean" are refusals; "I'm not sure, but maybe
    Paris" is a hedged attempt and "Unknown Soldier" is an answer.

    Args:
        text: The model's answer.

    Returns:
        True for a refusal.
    """
    rest = split_refusal(text)
    return rest is not None and not offers_guess(rest)


def rejects_premise(text: str) -> bool:
    """Whether a reply rejects a false premise ("There is no ...", "Actually, X did not ...").

    Args:
        text: The model's reply to a question built on a false premise.

    Returns:
        True when some :data:`PREMISE_REJECTION_PATTERNS` entry occurs in it.
    """
    clean = _prepare(text)
    return any(p.search(clean) for p in PREMISE_REJECTION_PATTERNS)
