"""Alias-match judge: an answer is right when a normalized alias occurs in it as whole words."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_ARTICLES = frozenset({"a", "an", "the"})
# A comma between digit groups is a thousands separator ("2,408" means 2408), not punctuation.
_THOUSANDS_COMMA = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
# Dotted initialisms are one word: "D.C." -> "dc", "U.S.A." -> "usa", "J.K." -> "jk".
_INITIALISM = re.compile(r"\b(?:[^\W\d_]\.){2,}")
_DECIMAL = re.compile(r"\d+\.\d+")


def _is_kept(text: str, i: int) -> bool:
    """Whether character ``text[i]`` survives punctuation stripping (letters, digits, marks, spaces)."""
    ch = text[i]
    if ch.isspace() or unicodedata.category(ch)[0] in "LNM":
        return True
    # Keep a decimal point or fraction slash between digits so "3.14" and "1/60" stay one token
    # ("3" and "60" must not match them).
    return ch in "./" and 0 < i < len(text) - 1 and text[i - 1].isdigit() and text[i + 1].isdigit()


def _canonical_token(token: str) -> str:
    """Drop trailing decimal zeros so "7.0" equals "7" and "2.50" equals "2.5"."""
    if _DECIMAL.fullmatch(token):
        token = token.rstrip("0").rstrip(".")
    return token


def normalize_answer(text: str) -> str:
    """Normalize an answer or alias for comparison.

    Applies Unicode NFKD and drops accents, lowercases (casefold), turns punctuation and symbols into
    spaces (keeping decimal points and fraction slashes between digits, removing thousands commas and
    the dots of initialisms such as "D.C."), drops trailing decimal zeros ("7.0" -> "7"), removes the
    articles "a", "an" and "the", and collapses whitespace.

    Args:
        text: Free text, e.g. a model continuation or an alias.

    Returns:
        The normalized string: lowercase ASCII-ish tokens joined by single spaces ("" when nothing is left).
    """
    # NFKD both before casefold ("𝕊" -> "S") and after it (casefold can yield composed letters).
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    text = _THOUSANDS_COMMA.sub("", text)
    text = _INITIALISM.sub(lambda m: m.group(0).replace(".", ""), text)
    text = "".join(ch if _is_kept(text, i) else " " for i, ch in enumerate(text))
    return " ".join(_canonical_token(tok) for tok in text.split() if tok not in _ARTICLES)


def first_line(text: str) -> str:
    """Return the first line of ``text``, stripped (a greedy answer is cut at the first newline).

    Args:
        text: A model continuation, e.g. ``" Paris\\n\\nQuestion: ..."``.

    Returns:
        The text before the first line break, without surrounding whitespace ("" if the text starts
        with a line break).
    """
    lines = text.splitlines()
    return lines[0].strip() if lines else ""


def alias_match(answer: str, aliases: Iterable[str]) -> bool:
    """Whether some alias occurs in the answer as a whole-word token sequence, after normalization.

    "mars" does not match "marshall", "1" does not match "1984", and aliases that normalize to
    nothing (empty strings, bare articles) are ignored.

    Args:
        answer: The model's answer (normally already cut with :func:`first_line`).
        aliases: The accepted answers.

    Returns:
        True when at least one non-empty normalized alias is a contiguous run of answer tokens.
    """
    padded = f" {normalize_answer(answer)} "
    for alias in aliases:
        norm = normalize_answer(alias)
        if norm and f" {norm} " in padded:
            return True
    return False


class AliasJudge:
    """Per-item judge that grades an answer by :func:`alias_match` against the item's aliases."""

    name = "alias_match"
    version = "1"

    def judge(self, answer: str, aliases: Iterable[str]) -> bool:
        """Grade one answer.

        Args:
            answer: The model's answer.
            aliases: The accepted answers of the item.

        Returns:
            True when the answer contains an alias as whole words.
        """
        return alias_match(answer, aliases)
