"""Open-ended QA items and the plain JSON-lines loaders (the embedded set and project-made files)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import DataError

logger = logging.getLogger(__name__)

EMBEDDED_QA_PATH = Path(__file__).resolve().parents[2] / "fixtures" / "embedded_qa.jsonl"
"""The committed embedded factual-QA set (rebuild with ``python -m harness.benchmarks.build_embedded_qa``)."""


@dataclass(frozen=True)
class QAItem:
    """One open-ended question with the answers a judge accepts.

    Attributes:
        id: Unique id within its benchmark.
        question: The question text, without prompt scaffolding.
        aliases: Accepted answers, deduplicated, canonical answer first where the source has one.
        domain: Topic label ("countries", "arithmetic", ...); "" when the source has none.
        difficulty: "easy", "medium" or "hard" for the embedded set; "" when the source has none.
    """

    id: str
    question: str
    aliases: tuple[str, ...]
    domain: str = ""
    difficulty: str = ""


def dedupe_aliases(values: Iterable[Any]) -> tuple[str, ...]:
    """Strip, drop empty and non-string values, and deduplicate exactly, keeping first-seen order.

    Args:
        values: Candidate aliases.

    Returns:
        The cleaned aliases as a tuple.
    """
    seen: dict[str, None] = {}
    for value in values:
        if isinstance(value, str) and value.strip():
            seen.setdefault(value.strip(), None)
    return tuple(seen)


def check_file(path: Path) -> None:
    """Raise :class:`DataError` unless ``path`` is an existing, non-empty file."""
    if not path.is_file():
        raise DataError(f"{path}: QA file not found. Fix: check the path, or download/build the file first.")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: QA file is empty. Fix: regenerate or re-download it.")


def read_json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, parsed_value)`` for each non-blank line of a JSON-lines file.

    Raises:
        DataError: A line is not valid JSON.
    """
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"{path}, line {lineno}: not valid JSON ({exc.msg}). "
                    "Fix: write one JSON object per line (JSON lines)."
                ) from exc


def require(record: Mapping[str, Any], key: str, where: str, fix: str) -> Any:
    """Return ``record[key]``, raising a :class:`DataError` naming ``where`` and ``fix`` when missing."""
    if not isinstance(record, Mapping):
        raise DataError(f"{where}: expected a JSON object, got {type(record).__name__}. Fix: {fix}")
    if key not in record or record[key] is None:
        raise DataError(f"{where}: missing field {key!r}. Fix: {fix}")
    return record[key]


def make_item(
    item_id: Any, question: Any, aliases: Iterable[Any], where: str, *, domain: Any = "", difficulty: Any = ""
) -> QAItem:
    """Build a :class:`QAItem`, checking types and that at least one alias is left.

    Raises:
        DataError: A field has the wrong type, the question is empty, or no non-empty alias is left.
    """
    if not isinstance(item_id, str | int) or isinstance(item_id, bool) or str(item_id).strip() == "":
        raise DataError(f"{where}: id must be a non-empty string, got {item_id!r}. Fix: give every item an id.")
    if not isinstance(question, str) or not question.strip():
        raise DataError(f"{where}: question must be a non-empty string. Fix: fill in the question text.")
    if isinstance(aliases, str):
        raise DataError(f"{where}: aliases must be a list of strings, not a string. Fix: write [{aliases!r}].")
    clean = dedupe_aliases(aliases)
    if not clean:
        raise DataError(f"{where}: empty alias list. Fix: give at least one non-empty accepted answer.")
    for name, value in (("domain", domain), ("difficulty", difficulty)):
        if not isinstance(value, str):
            raise DataError(f"{where}: {name} must be a string, got {value!r}. Fix: quote it or drop it.")
    return QAItem(str(item_id).strip(), question.strip(), clean, domain, difficulty)


def check_items(items: list[QAItem], wheres: list[str], path: Path) -> list[QAItem]:
    """Check that ``items`` is non-empty and ids are unique; ``wheres[i]`` locates ``items[i]``.

    Raises:
        DataError: No items, or two items share an id.
    """
    if not items:
        raise DataError(f"{path}: contains zero QA items. Fix: check the file is the right one and not truncated.")
    first_seen: dict[str, str] = {}
    for item, where in zip(items, wheres, strict=True):
        if item.id in first_seen:
            raise DataError(
                f"{where}: duplicate id {item.id!r} (first at {first_seen[item.id]}). Fix: make ids unique."
            )
        first_seen[item.id] = where
    logger.debug("loaded %d QA items from %s", len(items), path)
    return items


def plain_record_to_item(record: Any, where: str) -> QAItem:
    """Convert a plain record ``{"id", "question", "aliases", ["domain", "difficulty"]}`` to a QAItem."""
    fix = 'write {"id": ..., "question": ..., "aliases": [...]} on each line.'
    item_id = require(record, "id", where, fix)
    question = require(record, "question", where, fix)
    aliases = require(record, "aliases", where, fix)
    if not isinstance(aliases, list):
        raise DataError(f"{where}: aliases must be a list of strings, got {aliases!r}. Fix: {fix}")
    return make_item(
        item_id,
        question,
        aliases,
        where,
        domain=record.get("domain") or "",
        difficulty=record.get("difficulty") or "",
    )


def load_qa_jsonl(path: str | Path) -> list[QAItem]:
    """Load a plain QA JSON-lines file: one ``{"id", "question", "aliases"}`` object per line.

    Optional fields ``domain`` and ``difficulty`` are kept; other fields (e.g. ``source``) are ignored.

    Args:
        path: The ``.jsonl`` file.

    Returns:
        The items in file order.

    Raises:
        DataError: Missing or empty file, bad JSON, a missing field, an empty alias list or duplicate ids.
    """
    path = Path(path)
    check_file(path)
    items: list[QAItem] = []
    wheres: list[str] = []
    for lineno, record in read_json_lines(path):
        where = f"{path}, line {lineno}"
        items.append(plain_record_to_item(record, where))
        wheres.append(where)
    return check_items(items, wheres, path)


def load_embedded_qa() -> list[QAItem]:
    """Load the committed embedded factual-QA set (:data:`EMBEDDED_QA_PATH`).

    Returns:
        The items, sorted by id as committed.

    Raises:
        DataError: The fixture is missing or malformed; rebuild it with
            ``python -m harness.benchmarks.build_embedded_qa``.
    """
    if not EMBEDDED_QA_PATH.is_file():
        raise DataError(
            f"{EMBEDDED_QA_PATH}: embedded QA fixture not found. "
            "Fix: run `python -m harness.benchmarks.build_embedded_qa` from the repository root."
        )
    return load_qa_jsonl(EMBEDDED_QA_PATH)
