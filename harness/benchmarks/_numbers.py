"""English number words and numeric answer aliases ("7", "seven") for the embedded QA builder."""

from __future__ import annotations

_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)  # fmt: skip
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def number_words(n: int, *, use_and: bool = False) -> str:
    """Spell a number from 0 to 999,999 in English words, e.g. 42 -> "forty-two".

    Args:
        n: The number.
        use_and: Write the British "and" after hundreds ("one hundred and five").

    Returns:
        The number in words, hyphenating tens and units.

    Raises:
        ValueError: ``n`` is outside 0..999,999.
    """
    if not 0 <= n < 1_000_000:
        raise ValueError(f"number_words supports 0..999999, got {n}")
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        head = f"{_ONES[hundreds]} hundred"
        if not rest:
            return head
        return f"{head} {'and ' if use_and else ''}{number_words(rest)}"
    thousands, rest = divmod(n, 1000)
    head = f"{number_words(thousands)} thousand"
    if not rest:
        return head
    joiner = " and " if use_and and rest < 100 else " "
    return head + joiner + number_words(rest, use_and=use_and)


def number_aliases(n: int, *, words: bool = True, grouped: bool = True) -> list[str]:
    """Accepted spellings of a numeric answer: digits, words (both "and" styles), and "1,234".

    Args:
        n: The number.
        words: Include spelled-out forms (turn off for years such as 1819).
        grouped: Include the thousands-separated form for n >= 1000.

    Returns:
        Distinct aliases, digits first.
    """
    out = [str(n)]
    if grouped and n >= 1000:
        out.append(f"{n:,}")
    if words and 0 <= n < 1_000_000:
        out.extend([number_words(n), number_words(n, use_and=True)])
    return list(dict.fromkeys(out))
