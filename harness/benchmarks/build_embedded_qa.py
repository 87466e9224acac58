"""Build the embedded factual-QA set ``fixtures/embedded_qa.jsonl`` (deterministic, license-clean).

Run ``python -m harness.benchmarks.build_embedded_qa [--out PATH]``. Facts come from the PyPI packages
``periodictable``, ``us`` and ``pycountry`` and from the hand tables in this package; there is no
randomness (number pairs come from a fixed linear congruential sequence), so every run writes the same bytes.
"""

from __future__ import annotations

import argparse
import json
import logging
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from harness.benchmarks import _facts_table as facts
from harness.benchmarks import _language_table as lang
from harness.benchmarks._countries_table import CONTINENT_ALIASES, COUNTRIES, NAME_ALIASES, QUESTION_NAMES
from harness.benchmarks._numbers import number_aliases
from harness.benchmarks._qa import EMBEDDED_QA_PATH
from harness.benchmarks._world_table import CITIES, CURRENCIES, LANGUAGES
from harness.judges import alias_match, normalize_answer

logger = logging.getLogger(__name__)

Record = dict[str, Any]

# Answers that are also common English words ("IN", "IT", "He") would match unrelated answer text,
# so questions whose only answers are such words are left out.
_FUNCTION_WORDS = frozenset(
    [
        "am", "an", "and", "are", "as", "at", "be", "by", "can", "do", "for", "go", "he", "hi", "i", "if",
        "in", "is", "it", "me", "my", "no", "not", "of", "oh", "ok", "on", "or", "per", "so", "to", "up",
        "us", "we",
    ]
)  # fmt: skip
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_ORDINALS = (
    "first", "second", "third", "fourth", "fifth", "sixth",
    "seventh", "eighth", "ninth", "tenth", "eleventh", "twelfth",
)  # fmt: skip


def _fold(text: str) -> str:
    """Drop accents ("Bogotá" -> "Bogota") so both spellings are listed."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if unicodedata.category(c) != "Mn")


def expand_aliases(answers: Iterable[str | int]) -> list[str]:
    """Expand answers into aliases: ints get digits and words, accented strings an unaccented twin.

    Args:
        answers: Canonical answer first, then variants.

    Returns:
        Distinct aliases in first-seen order; aliases that normalize to nothing (like "A") are dropped.
    """
    out: list[str] = []
    for answer in answers:
        if isinstance(answer, int):
            out.extend(number_aliases(answer))
        else:
            out.extend([answer, _fold(answer)])
    return [a for a in dict.fromkeys(out) if normalize_answer(a)]


def _record(domain: str, slug: str, question: str, answers: Iterable[str | int], difficulty: str, source: str) -> Record:
    return {
        "id": f"{domain}-{slug}",
        "question": question,
        "aliases": expand_aliases(answers),
        "domain": domain,
        "difficulty": difficulty,
        "source": source,
    }


def _is_function_word_only(aliases: Sequence[str]) -> bool:
    """Whether every alias normalizes to a common English word (or to nothing, like "AN")."""
    return all(normalize_answer(a) in _FUNCTION_WORDS | {""} for a in aliases)


def _drop_colliding(aliases: Sequence[str], other_answers: Iterable[str]) -> list[str]:
    """Drop aliases that occur as whole words inside a wrong answer ("Sudan" in "South Sudan")."""
    others = list(other_answers)
    return [a for a in aliases if not any(alias_match(o, [a]) for o in others)]


def _lcg_pairs(count: int, lo: int, hi: int, seed: int) -> list[tuple[int, int]]:
    """Deterministic distinct pairs in [lo, hi] from a fixed LCG (stable across Python/numpy versions)."""
    state, pairs = seed, dict[tuple[int, int], None]()
    while len(pairs) < count:
        values = []
        for _ in range(2):
            state = (1103515245 * state + 12345) % 2**31
            values.append(lo + (state >> 8) % (hi - lo + 1))
        pairs.setdefault((values[0], values[1]), None)
    return list(pairs)


# -- elements (periodictable) -------------------------------------------------------------------------

_FAMOUS_SYMBOLS = frozenset(
    (
        "H", "He", "Li", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P", "S", "Cl", "K", "Ca",
        "Fe", "Ni", "Cu", "Zn", "Ag", "Sn", "I", "Pt", "Au", "Hg", "Pb", "U",
    )
)  # fmt: skip
# periodictable spells the American way; questions use the IUPAC name and accept both.
_ELEMENT_NAMES = {
    "aluminum": ("aluminium", "aluminum"),
    "cesium": ("caesium", "cesium"),
    "sulfur": ("sulfur", "sulphur"),
}


def element_records() -> Iterator[Record]:
    """Symbol <-> name and atomic number <-> name for the 118 elements."""
    import periodictable

    for el in periodictable.elements:
        if el.number == 0:  # the free neutron is not an element
            continue
        names = _ELEMENT_NAMES.get(el.name, (el.name,))
        name, sym, num = names[0], el.symbol, el.number
        tier = "easy" if sym in _FAMOUS_SYMBOLS else "medium" if num <= 36 else "hard"
        slug = sym.lower()
        if not _is_function_word_only([sym]):
            yield _record("elements", f"symbol-{slug}", f"What is the chemical symbol for {name}?", [sym], tier, "periodictable")
        yield _record("elements", f"name-{slug}", f"Which chemical element has the symbol {sym}?", names, tier, "periodictable")
        by_number = "easy" if num == 1 else "medium" if num <= 20 else "hard"
        yield _record("elements", f"by-number-{num}", f"Which chemical element has atomic number {num}?", names, by_number, "periodictable")
        yield _record("elements", f"number-{slug}", f"What is the atomic number of {name}?", [num], by_number, "periodictable")


# -- US states (us) -----------------------------------------------------------------------------------

_STATE_QUESTION_NAMES = {"GA": "the US state of Georgia", "WA": "Washington State", "NY": "New York State"}
_EASY_CAPITAL_STATES = frozenset(["MA", "GA", "CO", "HI", "AZ", "TX", "UT", "IN", "OK", "TN"])
_HARD_CAPITAL_STATES = frozenset(
    (
        "IL", "NY", "CA", "PA", "FL", "WA", "NV", "KY", "MO", "SD", "VT", "ME", "MI", "NJ", "DE",
        "OR", "MD", "AK", "ND", "MT", "NH",
    )
)  # fmt: skip
_EASY_ABBR_STATES = frozenset(["CA", "TX", "NY", "FL"])
_CAPITAL_VARIANTS: dict[str, tuple[str, ...]] = {"Saint Paul": ("St. Paul",)}


def state_records() -> Iterator[Record]:
    """Capitals (both ways), postal abbreviations (both ways) and statehood years of the 50 states."""
    import us

    states = list(us.states.STATES)
    all_names = [s.name for s in states]
    for st in states:
        qname = _STATE_QUESTION_NAMES.get(st.abbr, st.name)
        slug = st.abbr.lower()
        cap_tier = "easy" if st.abbr in _EASY_CAPITAL_STATES else "hard" if st.abbr in _HARD_CAPITAL_STATES else "medium"
        capital = [str(st.capital), *_CAPITAL_VARIANTS.get(str(st.capital), ())]
        yield _record("us_states", f"capital-{slug}", f"What is the capital of {qname}?", capital, cap_tier, "us")
        names = _drop_colliding([st.name], [n for n in all_names if n != st.name])
        if names:  # "Virginia" would also match "West Virginia"
            if not alias_match(str(st.capital), names):  # "Oklahoma City" gives its state away
                yield _record("us_states", f"state-of-capital-{slug}", f"Which US state has {st.capital} as its capital?", names, cap_tier, "us")
            abbr_tier = "easy" if st.abbr in _EASY_ABBR_STATES else "medium"
            yield _record("us_states", f"state-of-abbr-{slug}", f"Which US state has the postal abbreviation {st.abbr}?", names, abbr_tier, "us")
        if not _is_function_word_only([st.abbr]):
            abbr_tier = "easy" if st.abbr in _EASY_ABBR_STATES else "medium"
            yield _record("us_states", f"abbr-{slug}", f"What is the two-letter postal abbreviation of {qname}?", [st.abbr], abbr_tier, "us")
        yield _record("us_states", f"statehood-{slug}", f"In which year did {qname} become a US state?", [str(st.statehood_year)], "hard", "us")


# -- countries (hand table + pycountry) ---------------------------------------------------------------

_TIER_DIFFICULTY = {1: "easy", 2: "medium", 3: "hard"}


def _pycountry_entry(alpha_2: str) -> Any:
    """The pycountry record of a hand-table country (raises if the table has a bad code)."""
    import pycountry

    entry = pycountry.countries.get(alpha_2=alpha_2)
    if entry is None:
        raise ValueError(f"hand country table: {alpha_2!r} is not an ISO 3166 code in pycountry; fix the table")
    return entry


def _country_names(alpha_2: str, name: str, *, official: bool = True) -> list[str]:
    """Accepted names of a country: the hand name, hand extras, and pycountry's (official) names."""
    entry = _pycountry_entry(alpha_2)
    keys = ("common_name", "name", "official_name") if official else ("common_name", "name")
    extra = [getattr(entry, key, None) for key in keys]
    return expand_aliases([name, *NAME_ALIASES.get(alpha_2, ()), *(e for e in extra if e)])


def country_records() -> Iterator[Record]:
    """Capitals (both ways) and continents from the hand table; ISO alpha-2/alpha-3 codes from pycountry."""
    names = {c.alpha_2: _country_names(c.alpha_2, c.name) for c in COUNTRIES}
    # Wrong answers a model might give are short names, not "...and Northern Ireland".
    short_names = {c.alpha_2: _country_names(c.alpha_2, c.name, official=False) for c in COUNTRIES}
    capitals = {c.alpha_2: expand_aliases([c.capital, *c.capital_aliases]) for c in COUNTRIES if c.capital}
    for c in COUNTRIES:
        entry = _pycountry_entry(c.alpha_2)
        qname, slug, tier = QUESTION_NAMES.get(c.alpha_2, c.name), c.alpha_2.lower(), _TIER_DIFFICULTY[c.tier]
        if c.capital:
            others = [a for code, al in capitals.items() if code != c.alpha_2 for a in al]
            cap = _drop_colliding(capitals[c.alpha_2], others)
            if cap and cap[0] == c.capital:
                yield _record("countries", f"capital-{slug}", f"What is the capital of {qname}?", cap, tier, "hand")
            others = [n for code, al in short_names.items() if code != c.alpha_2 for n in al]
            own = _drop_colliding(names[c.alpha_2], others)
            if own and own[0] == c.name and not alias_match(c.capital, [c.name]):
                yield _record("countries", f"country-of-capital-{slug}", f"Which country has {c.capital} as its capital?", own, tier, "hand")
        if c.continent:
            continent = [c.continent, *CONTINENT_ALIASES.get(c.continent, ())]
            yield _record("countries", f"continent-{slug}", f"On which continent is {qname}?", continent, "easy" if c.tier == 1 else "medium", "hand")
        if not _is_function_word_only([entry.alpha_2]):
            yield _record("countries", f"alpha2-{slug}", f"What is the two-letter ISO country code of {qname}?", [entry.alpha_2], "hard", "pycountry")
        if not _is_function_word_only([entry.alpha_3]):
            yield _record("countries", f"alpha3-{slug}", f"What is the three-letter ISO country code of {qname}?", [entry.alpha_3], "hard", "pycountry")


def world_records() -> Iterator[Record]:
    """Famous city -> country (geography), and main language and currency of a country (countries)."""
    table = {c.alpha_2: c for c in COUNTRIES}
    for code, city, difficulty, extra in CITIES:
        country = table[code]
        slug = normalize_answer(city).replace(" ", "-")
        names = [*_country_names(code, country.name, official=False), *extra]
        yield _record("geography", f"city-{slug}", f"In which country is the city of {city}?", names, difficulty, "hand")
    for code, languages, difficulty in LANGUAGES:
        qname = QUESTION_NAMES.get(code, table[code].name)
        yield _record("countries", f"language-{code.lower()}", f"What is the main language spoken in {qname}?", languages, difficulty, "hand")
    for code, currencies, difficulty in CURRENCIES:
        qname = QUESTION_NAMES.get(code, table[code].name)
        yield _record("countries", f"currency-{code.lower()}", f"What is the currency of {qname}?", currencies, difficulty, "hand")


# -- arithmetic (generated) and calendar ---------------------------------------------------------------


def arithmetic_records() -> Iterator[Record]:
    """Single-digit sums (easy), two-digit sums, small products and differences (medium), big products (hard)."""
    for a in range(1, 10):
        for b in range(1, 10):
            yield _record("arithmetic", f"sum-{a}-{b}", f"What is {a} plus {b}?", [a + b], "easy", "hand")
    for a in range(2, 10):
        for b in range(a, 10):
            yield _record("arithmetic", f"product-{a}-{b}", f"What is {a} times {b}?", [a * b], "medium", "hand")
    for a, b in _lcg_pairs(40, 10, 89, seed=1):
        yield _record("arithmetic", f"sum-{a}-{b}", f"What is {a} plus {b}?", [a + b], "medium", "hand")
    for a, b in _lcg_pairs(30, 2, 9, seed=2):
        a += 10  # 12..19 minus 2..9
        if a == 2 * b:  # "16 minus 8" echoed back would contain the answer 8
            continue
        yield _record("arithmetic", f"difference-{a}-{b}", f"What is {a} minus {b}?", [a - b], "medium", "hand")
    # Multiples of ten are too easy for "hard", so draw from 11..99 without them.
    hard = [(a, b) for a, b in _lcg_pairs(200, 11, 99, seed=3) if a % 10 and b % 10][:80]
    for a, b in hard:
        yield _record("arithmetic", f"product-{a}-{b}", f"What is {a} times {b}?", [a * b], "hard", "hand")
    for a, b in _lcg_pairs(30, 101, 999, seed=4):
        yield _record("arithmetic", f"sum-{a}-{b}", f"What is {a} plus {b}?", [a + b], "hard", "hand")
    yield from _fact_records("arithmetic", facts.GEOMETRY)


def calendar_records() -> Iterator[Record]:
    """Month and weekday successors/predecessors, month lengths and ordinals, and time-unit facts."""
    for i, month in enumerate(_MONTHS):
        nxt, prev, skip = _MONTHS[(i + 1) % 12], _MONTHS[i - 1], _MONTHS[(i + 2) % 12]
        slug = month.lower()
        yield _record("calendar", f"month-after-{slug}", f"Which month comes after {month}?", [nxt], "easy", "hand")
        yield _record("calendar", f"month-before-{slug}", f"Which month comes before {month}?", [prev], "medium", "hand")
        yield _record("calendar", f"two-months-after-{slug}", f"Which month comes two months after {month}?", [skip], "hard", "hand")
        yield _record("calendar", f"nth-month-{i + 1}", f"What is the {_ORDINALS[i]} month of the year?", [month], "easy" if i == 0 else "medium", "hand")
        question = "How many days does February have in a common year?" if i == 1 else f"How many days are in {month}?"
        yield _record("calendar", f"days-in-{slug}", question, [_MONTH_DAYS[i]], "medium", "hand")
    for i, day in enumerate(_DAYS):
        slug = day.lower()
        yield _record("calendar", f"day-after-{slug}", f"Which day comes after {day}?", [_DAYS[(i + 1) % 7]], "easy", "hand")
        yield _record("calendar", f"day-before-{slug}", f"Which day comes before {day}?", [_DAYS[i - 1]], "medium", "hand")
        yield _record("calendar", f"three-days-after-{slug}", f"Which day comes three days after {day}?", [_DAYS[(i + 3) % 7]], "hard", "hand")
    yield from _fact_records("calendar", facts.CALENDAR)


# -- language and hand facts ----------------------------------------------------------------------------

_ARTICLE_AN = frozenset(["owl", "eagle", "elephant", "eel", "oyster"])


def language_records() -> Iterator[Record]:
    """Opposites, female forms, plurals, past tenses, animal sounds and young, and colours."""
    templates: tuple[tuple[str, str, tuple[lang.Row, ...]], ...] = (
        ("opposite", "What is the opposite of {w}?", lang.OPPOSITES),
        ("female", "What is the female equivalent of {w}?", lang.FEMALE_FORMS),
        ("plural", "What is the plural of {w}?", lang.PLURALS),
        ("past", "What is the past tense of {w}?", lang.PAST_TENSES),
        ("sound", "What sound does {aw} make?", lang.ANIMAL_SOUNDS),
        ("young", "What is a baby {w} called?", lang.ANIMAL_YOUNG),
    )
    for kind, template, rows in templates:
        for word, answers, difficulty in rows:
            aw = f"{'an' if word in _ARTICLE_AN else 'a'} {word}"
            question = template.format(w=word, aw=aw)
            yield _record("language", f"{kind}-{word}", question, answers, difficulty, "hand")
    for slug, question, answers, difficulty in lang.COLOURS:
        yield _record("language", f"colour-{slug}", question, answers, difficulty, "hand")


def _fact_records(domain: str, rows: Iterable[facts.Fact]) -> Iterator[Record]:
    for slug, question, answers, difficulty in rows:
        yield _record(domain, slug, question, answers, difficulty, "hand")


def build_records() -> list[Record]:
    """Build every record of the embedded set, sorted by id.

    Returns:
        JSON-ready dicts with id, question, aliases, domain, difficulty and source.

    Raises:
        ValueError: Two records share an id, or a record has no alias (a bug in the tables).
    """
    records = [
        *element_records(),
        *state_records(),
        *country_records(),
        *world_records(),
        *arithmetic_records(),
        *calendar_records(),
        *language_records(),
        *_fact_records("science", facts.SCIENCE),
        *_fact_records("geography", facts.GEOGRAPHY),
        *_fact_records("culture", facts.CULTURE),
    ]
    dupes = [key for key, n in Counter(r["id"] for r in records).items() if n > 1]
    if dupes:
        raise ValueError(f"embedded QA builder produced duplicate ids {dupes[:5]}; fix the slugs in the tables")
    empty = [r["id"] for r in records if not r["aliases"]]
    if empty:
        raise ValueError(f"embedded QA builder produced items without aliases: {empty[:5]}")
    return sorted(records, key=lambda r: r["id"])


def write_embedded_qa(out: str | Path = EMBEDDED_QA_PATH) -> Path:
    """Write the embedded set as JSON lines (UTF-8, ``\\n`` endings, sorted by id).

    Args:
        out: Destination file; parent folders are created.

    Returns:
        The path written.
    """
    out = Path(out)
    records = build_records()
    out.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    out.write_bytes(text.encode("utf-8"))
    counts = Counter((r["domain"], r["difficulty"]) for r in records)
    logger.info("wrote %d items to %s", len(records), out)
    for (domain, difficulty), n in sorted(counts.items()):
        logger.info("  %-12s %-6s %4d", domain, difficulty, n)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: ``python -m harness.benchmarks.build_embedded_qa [--out PATH]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=EMBEDDED_QA_PATH, help="output .jsonl (default: the fixture)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    write_embedded_qa(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
