"""Gold-labelled model answers for validating judges (``fixtures/judge_gold/gold.jsonl``).

One row per answer: the question and its aliases (so QA judges can grade it), the answer as judges see it
(first line), and a hand-made label. The question id is the row's cluster: a question's answers share
their difficulty, so a validation bootstrap resamples questions, not rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.benchmarks._qa import check_file, dedupe_aliases, read_json_lines
from harness.benchmarks._rows import require, require_id, require_text
from harness.errors import DataError

GOLD_LABELS = ("correct", "incorrect", "not_attempted")
EMBEDDED_JUDGE_GOLD_PATH = Path(__file__).resolve().parents[2] / "fixtures" / "judge_gold" / "gold.jsonl"
"""300 hand-labelled answers of the embedded Gemma 3 270M (see ``fixtures/judge_gold/README.md``)."""


@dataclass(frozen=True)
class GoldAnswer:
    """One labelled answer. ``id`` is the row id; ``prompt_id`` the question it answers (its cluster)."""

    id: str
    prompt_id: str
    question: str
    aliases: tuple[str, ...]
    answer: str
    gold: str
    source: str = ""

    @property
    def correct(self) -> int:
        """1 when the gold label is correct, else 0 (incorrect and not attempted)."""
        return int(self.gold == "correct")


def load_judge_gold(path: str | Path) -> list[GoldAnswer]:
    """Read a gold file (JSONL: row_id, prompt_id, question, aliases, answer, gold; source and note optional).

    Raises:
        DataError: missing or empty file, bad JSON, a missing field, an unknown label, an empty alias list,
            or a duplicate row id; the message names the line and the fix.
    """
    path = Path(path)
    check_file(path)
    rows: list[GoldAnswer] = []
    seen: dict[str, int] = {}
    fix = "each line needs row_id, prompt_id, question, aliases, answer and gold"
    for lineno, rec in read_json_lines(path):
        where = f"{path}, line {lineno}"
        if not isinstance(rec, dict):
            raise DataError(f"{where}: a row must be a JSON object. Fix: {fix}.")
        row_id = require_id(rec, "row_id", where, fix)
        gold = require_text(rec, "gold", where, fix)
        if gold not in GOLD_LABELS:
            raise DataError(f"{where}: gold label {gold!r} is not one of {', '.join(GOLD_LABELS)}. Fix: relabel.")
        raw = require(rec, "aliases", where, fix)
        aliases = dedupe_aliases(raw) if isinstance(raw, list) else ()
        if not aliases:
            raise DataError(f"{where}: aliases must be a non-empty list of strings, got {raw!r}. Fix: give the "
                            "accepted answers of the question.")
        answer = require(rec, "answer", where, fix)
        if not isinstance(answer, str):
            raise DataError(f"{where}: answer must be a string (\"\" for an empty answer), got {answer!r}")
        if row_id in seen:
            raise DataError(f"{where}: duplicate row_id {row_id!r} (first on line {seen[row_id]}). Fix: one row "
                            "per answer.")
        seen[row_id] = lineno
        rows.append(GoldAnswer(row_id, require_id(rec, "prompt_id", where, fix), require_text(rec, "question",
                               where, fix), aliases, answer, gold, str(rec.get("source", ""))))
    if not rows:
        raise DataError(f"{path}: no gold rows. Fix: label some answers first.")
    return rows
