"""TriviaQA loaders: HF ``trivia_qa`` parquet/JSON(L), the original TriviaQA JSON, and plain JSONL."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from harness.benchmarks._qa import (
    QAItem,
    check_file,
    check_items,
    make_item,
    plain_record_to_item,
    read_json_lines,
    require,
)
from harness.errors import DataError

_SUFFIXES = (".parquet", ".json", ".jsonl")
_HF_FIX = "use the HF trivia_qa layout: question, question_id and answer {aliases, normalized_aliases, value}."
_ORIG_FIX = "use the original TriviaQA layout: Question, QuestionId and Answer {Aliases, NormalizedAliases, Value}."


def _alias_list(answer: Mapping[str, Any], key: str, where: str) -> list[Any]:
    """Return ``answer[key]`` as a list (missing or null means no aliases from that key)."""
    value = answer.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, Iterable):
        raise DataError(f"{where}: answer field {key!r} must be a list of strings. Fix: {_HF_FIX}")
    return list(value)


def _hf_record_to_item(record: Any, where: str) -> QAItem:
    """Convert an HF ``trivia_qa`` record (question, question_id, answer struct) to a QAItem."""
    question = require(record, "question", where, _HF_FIX)
    item_id = require(record, "question_id", where, _HF_FIX)
    answer = require(record, "answer", where, _HF_FIX)
    if not isinstance(answer, Mapping):
        raise DataError(f"{where}: field 'answer' must be an object. Fix: {_HF_FIX}")
    aliases = [
        *_alias_list(answer, "aliases", where),
        *_alias_list(answer, "normalized_aliases", where),
        *_alias_list(answer, "value", where),
    ]
    return make_item(item_id, question, aliases, where)


def _original_record_to_item(record: Any, where: str) -> QAItem:
    """Convert an original TriviaQA record (Question, QuestionId, Answer) to a QAItem."""
    question = require(record, "Question", where, _ORIG_FIX)
    item_id = require(record, "QuestionId", where, _ORIG_FIX)
    answer = require(record, "Answer", where, _ORIG_FIX)
    if not isinstance(answer, Mapping):
        raise DataError(f"{where}: field 'Answer' must be an object. Fix: {_ORIG_FIX}")
    aliases = [
        *_alias_list(answer, "Aliases", where),
        *_alias_list(answer, "NormalizedAliases", where),
        *_alias_list(answer, "Value", where),
    ]
    return make_item(item_id, question, aliases, where)


def _record_to_item(record: Any, where: str) -> QAItem:
    """Dispatch one record on its keys: HF (``answer``), original (``Answer``) or plain (``aliases``)."""
    if isinstance(record, Mapping):
        if "answer" in record:
            return _hf_record_to_item(record, where)
        if "Answer" in record:
            return _original_record_to_item(record, where)
        if "aliases" in record:
            return plain_record_to_item(record, where)
    raise DataError(
        f"{where}: record has none of the fields 'answer', 'Answer' or 'aliases', so its format is unknown. "
        f"Fix: {_HF_FIX}"
    )


def _parquet_records(path: Path) -> Iterator[tuple[str, Any]]:
    """Yield ``(where, record)`` for each row of an HF ``trivia_qa`` parquet file."""
    import pyarrow.parquet as pq  # late: only parquet users pay for pyarrow

    wanted = ["question", "question_id", "answer"]
    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # pyarrow raises several types for unreadable files
        raise DataError(f"{path}: cannot read as parquet ({exc}). Fix: re-download the file.") from exc
    missing = [c for c in wanted if c not in schema.names]
    if missing:
        raise DataError(f"{path}: parquet file lacks column(s) {missing}. Fix: {_HF_FIX}")
    # Read only the needed columns: the rc configs also carry large evidence documents.
    table = pq.read_table(path, columns=wanted)
    columns = table.to_pydict()
    for row in range(table.num_rows):
        record = {name: values[row] for name, values in columns.items()}
        yield f"{path}, row {row}", record


def _json_records(path: Path) -> Iterator[tuple[str, Any]]:
    """Yield ``(where, record)`` from a JSON file: a list, a ``{"Data": [...]}`` dict, or JSON lines."""
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if text.lstrip().startswith("["):
            raise DataError(
                f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno} ({exc.msg}). "
                "Fix: the file looks truncated or hand-edited; re-download or regenerate it."
            ) from exc
        # HF `Dataset.to_json` writes JSON lines even into a `.json` file.
        yield from ((f"{path}, line {n}", rec) for n, rec in read_json_lines(path))
        return
    if isinstance(data, Mapping) and isinstance(data.get("Data"), list):
        yield from ((f"{path}, Data[{i}]", rec) for i, rec in enumerate(data["Data"]))
    elif isinstance(data, list):
        yield from ((f"{path}, item {i}", rec) for i, rec in enumerate(data))
    elif isinstance(data, Mapping) and any(k in data for k in ("answer", "Answer", "aliases")):
        yield f"{path}, line 1", data  # a JSON-lines file with a single record
    else:
        raise DataError(
            f"{path}: unknown JSON layout (expected a list of records, JSON lines, or "
            '{"Data": [...]} as in the original TriviaQA). Fix: convert the file to one of these.'
        )


def load_triviaqa(path: str | Path) -> list[QAItem]:
    """Load TriviaQA (or a plain QA file), auto-detecting the format from the suffix and the fields.

    Supported: the HF ``trivia_qa`` (rc.nocontext) ``.parquet``; HF-style ``.json``/``.jsonl`` with
    the same fields; the original TriviaQA ``.json`` (``{"Data": [...]}``); and plain ``.jsonl``
    (``id``, ``question``, ``aliases``). For TriviaQA records the aliases are the union of
    ``aliases``, ``normalized_aliases`` and ``value``, deduplicated in that order.

    Args:
        path: The data file.

    Returns:
        The items in file order.

    Raises:
        DataError: Missing or empty file, unknown suffix or layout, a missing field, an empty alias
            list, duplicate ids, or zero items.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES:
        raise DataError(
            f"{path}: unknown QA file format {suffix or '(no suffix)'!r}. "
            f"Fix: use one of {', '.join(_SUFFIXES)} (convert other formats first)."
        )
    check_file(path)
    if suffix == ".parquet":
        records = _parquet_records(path)
    elif suffix == ".json":
        records = _json_records(path)
    else:
        records = ((f"{path}, line {n}", rec) for n, rec in read_json_lines(path))
    items: list[QAItem] = []
    wheres: list[str] = []
    for where, record in records:
        items.append(_record_to_item(record, where))
        wheres.append(where)
    return check_items(items, wheres, path)
