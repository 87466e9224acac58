"""Unit tests for the QA loaders (every TriviaQA layout, every DataError) and the embedded QA set."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from harness.benchmarks import EMBEDDED_QA_PATH, QAItem, load_embedded_qa, load_qa_jsonl, load_triviaqa
from harness.errors import DataError
from harness.judges import alias_match, normalize_answer

HF_RECORDS: list[dict[str, Any]] = [
    {
        "question": "Which city is the capital of France?",
        "question_id": "tc_1",
        "answer": {
            "aliases": ["Paris", "Paris, France"],
            "normalized_aliases": ["paris", "paris france"],
            "value": "Paris",
            "normalized_value": "paris",
            "matched_wiki_entity_name": "",
            "normalized_matched_wiki_entity_name": "",
            "type": "WikipediaEntity",
        },
    },
    {
        "question": "Who wrote Hamlet?",
        "question_id": "tc_2",
        "answer": {
            "aliases": ["William Shakespeare", "Shakespeare"],
            "normalized_aliases": ["william shakespeare", "shakespeare"],
            "value": "Shakespeare",
            "normalized_value": "shakespeare",
            "matched_wiki_entity_name": "",
            "normalized_matched_wiki_entity_name": "",
            "type": "WikipediaEntity",
        },
    },
]
EXPECTED = [
    QAItem("tc_1", "Which city is the capital of France?", ("Paris", "Paris, France", "paris", "paris france")),
    QAItem(
        "tc_2",
        "Who wrote Hamlet?",
        ("William Shakespeare", "Shakespeare", "william shakespeare", "shakespeare"),
    ),
]


def _write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _write_hf_parquet(path: Path, records: list[dict[str, Any]]) -> Path:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    answer_type = pa.struct(
        [
            ("aliases", pa.list_(pa.string())),
            ("normalized_aliases", pa.list_(pa.string())),
            ("value", pa.string()),
            ("normalized_value", pa.string()),
            ("matched_wiki_entity_name", pa.string()),
            ("normalized_matched_wiki_entity_name", pa.string()),
            ("type", pa.string()),
        ]
    )
    schema = pa.schema([("question", pa.string()), ("question_id", pa.string()), ("answer", answer_type)])
    pq.write_table(pa.Table.from_pylist(records, schema=schema), path)
    return path


def _original(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Data": [
            {
                "Question": r["question"],
                "QuestionId": r["question_id"],
                "QuestionSource": "http://example.invalid",
                "Answer": {
                    "Aliases": r["answer"]["aliases"],
                    "NormalizedAliases": r["answer"]["normalized_aliases"],
                    "Value": r["answer"]["value"],
                    "NormalizedValue": r["answer"]["normalized_value"],
                    "Type": "WikipediaEntity",
                },
            }
            for r in records
        ],
        "Domain": "Web",
        "Split": "dev",
        "Version": 1.0,
    }


# -- loader round trips ---------------------------------------------------------------------------------


def test_load_triviaqa_hf_parquet(tmp_path: Path) -> None:
    path = _write_hf_parquet(tmp_path / "validation.parquet", HF_RECORDS)
    assert load_triviaqa(path) == EXPECTED


def test_load_triviaqa_hf_json_list(tmp_path: Path) -> None:
    path = tmp_path / "validation.json"
    path.write_text(json.dumps(HF_RECORDS), encoding="utf-8")
    assert load_triviaqa(path) == EXPECTED


@pytest.mark.parametrize("name", ["validation.jsonl", "validation.json"])
def test_load_triviaqa_hf_json_lines(tmp_path: Path, name: str) -> None:
    # HF `Dataset.to_json` writes JSON lines even when the file is called .json.
    path = _write_jsonl(tmp_path / name, HF_RECORDS)
    assert load_triviaqa(path) == EXPECTED


def test_load_triviaqa_original_json(tmp_path: Path) -> None:
    path = tmp_path / "verified-wikipedia-dev.json"
    path.write_text(json.dumps(_original(HF_RECORDS)), encoding="utf-8")
    assert load_triviaqa(path) == EXPECTED


def test_load_triviaqa_plain_jsonl(tmp_path: Path) -> None:
    records = [{"id": "q1", "question": "What is 2 plus 2?", "aliases": ["4", "four"], "domain": "arithmetic"}]
    path = _write_jsonl(tmp_path / "plain.jsonl", records)
    assert load_triviaqa(path) == [QAItem("q1", "What is 2 plus 2?", ("4", "four"), "arithmetic")]


def test_load_triviaqa_aliases_union_is_deduplicated_in_order(tmp_path: Path) -> None:
    record = {
        "question": "Q?",
        "question_id": "x",
        "answer": {"aliases": ["B", "A", "B"], "normalized_aliases": ["b", "a"], "value": "A"},
    }
    path = _write_jsonl(tmp_path / "dup.jsonl", [record])
    assert load_triviaqa(path)[0].aliases == ("B", "A", "b", "a")


def test_load_qa_jsonl_round_trip_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    path.write_text(
        '{"id": "a", "question": "Q1?", "aliases": ["x"], "difficulty": "easy", "source": "hand"}\n\n'
        '{"id": "b", "question": "Q2?", "aliases": ["y", "y", " z "]}\n',
        encoding="utf-8",
    )
    assert load_qa_jsonl(path) == [QAItem("a", "Q1?", ("x",), "", "easy"), QAItem("b", "Q2?", ("y", "z"))]


# -- DataError cases: each names the file and says how to fix it -----------------------------------------


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, text the message must contain besides the file name)."""
    plain = {"id": "a", "question": "Q?", "aliases": ["x"]}
    cases: dict[str, tuple[Path, str]] = {
        "missing file": (tmp_path / "nope.jsonl", "not found"),
        "empty file": (tmp_path / "empty.jsonl", "empty"),
        "only blank lines": (tmp_path / "blank.jsonl", "zero QA items"),
        "bad json": (tmp_path / "badjson.jsonl", "line 2"),
        "missing field": (tmp_path / "nofield.jsonl", "'question'"),
        "duplicate ids": (tmp_path / "dupe.jsonl", "duplicate id 'a'"),
        "empty aliases": (tmp_path / "noalias.jsonl", "empty alias list"),
        "blank aliases": (tmp_path / "blankalias.jsonl", "empty alias list"),
    }
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "blank.jsonl").write_text("\n\n", encoding="utf-8")
    (tmp_path / "badjson.jsonl").write_text(json.dumps(plain) + "\n{not json\n", encoding="utf-8")
    _write_jsonl(tmp_path / "nofield.jsonl", [{"id": "a", "aliases": ["x"]}])
    _write_jsonl(tmp_path / "dupe.jsonl", [plain, plain])
    _write_jsonl(tmp_path / "noalias.jsonl", [{"id": "a", "question": "Q?", "aliases": []}])
    _write_jsonl(tmp_path / "blankalias.jsonl", [{"id": "a", "question": "Q?", "aliases": ["", "  "]}])
    return cases


@pytest.mark.parametrize("loader", [load_qa_jsonl, load_triviaqa])
@pytest.mark.parametrize(
    "case",
    [
        "missing file",
        "empty file",
        "only blank lines",
        "bad json",
        "missing field",
        "duplicate ids",
        "empty aliases",
        "blank aliases",
    ],
)
def test_loader_data_errors_name_file_and_fix(tmp_path: Path, loader: Any, case: str) -> None:
    path, needle = _bad_files(tmp_path)[case]
    with pytest.raises(DataError) as info:
        loader(path)
    message = str(info.value)
    assert str(path) in message
    assert needle in message
    assert "Fix:" in message


def test_load_triviaqa_unknown_suffix(tmp_path: Path) -> None:
    path = tmp_path / "trivia.csv"
    path.write_text("question,answer\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"unknown QA file format '\.csv'.*Fix:") as info:
        load_triviaqa(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('{"version": 1}', "unknown JSON layout"),
        ('[{"question": "Q?", "question_id": "1"}]', "format is unknown"),
        ('{"Data": [{"Question": "Q?", "Answer": {"Aliases": ["x"]}}]}', "'QuestionId'"),
        ('{"Data": [{"Question": "Q?", "QuestionId": "1", "Answer": {"Aliases": []}}]}', "empty alias list"),
        ('{"Data": []}', "zero QA items"),
        ('[{"question": "Q?",', "not valid JSON at line 1"),
        ('{"question": "Q?", "question_id": "1", "answer": {"aliases": ["x"]}}\n{oops', "line 2"),
    ],
)
def test_load_triviaqa_json_errors(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "trivia.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_triviaqa(path)
    assert str(path) in str(info.value)
    assert needle in str(info.value)
    assert "Fix:" in str(info.value)


def test_load_triviaqa_parquet_errors_name_row(tmp_path: Path) -> None:
    bad = [dict(HF_RECORDS[0]), dict(HF_RECORDS[1], question_id="tc_1")]
    path = _write_hf_parquet(tmp_path / "dupe.parquet", bad)
    with pytest.raises(DataError, match=r"row 1: duplicate id 'tc_1'.*Fix:"):
        load_triviaqa(path)


def test_load_triviaqa_parquet_missing_column(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "nocol.parquet"
    pq.write_table(pa.table({"question": ["Q?"], "question_id": ["1"]}), path)
    with pytest.raises(DataError, match=r"lacks column\(s\) \['answer'\].*Fix:"):
        load_triviaqa(path)


def test_load_triviaqa_corrupt_parquet(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.parquet"
    path.write_bytes(b"not a parquet file")
    with pytest.raises(DataError, match="cannot read as parquet"):
        load_triviaqa(path)


# -- the embedded set -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedded() -> list[QAItem]:
    return load_embedded_qa()


def test_embedded_size_and_domains(embedded: list[QAItem]) -> None:
    assert len(embedded) >= 1500
    domains = Counter(item.domain for item in embedded)
    assert len(domains) >= 6
    assert min(domains.values()) >= 50
    difficulties = Counter(item.difficulty for item in embedded)
    assert set(difficulties) == {"easy", "medium", "hard"}
    assert difficulties["easy"] >= 300


def test_embedded_ids_unique_and_prefixed(embedded: list[QAItem]) -> None:
    ids = [item.id for item in embedded]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(item.id.startswith(f"{item.domain}-") for item in embedded)


def test_embedded_items_are_short_and_answerable(embedded: list[QAItem]) -> None:
    for item in embedded:
        assert item.aliases, item.id
        assert item.question.endswith("?"), item.id
        assert len(item.question) <= 120, item.id
        assert len(normalize_answer(item.aliases[0]).split()) <= 4, item.id


def test_embedded_every_alias_matches_itself(embedded: list[QAItem]) -> None:
    bad = [(item.id, alias) for item in embedded for alias in item.aliases if not alias_match(alias, [alias])]
    assert bad == []


def test_embedded_records_have_source() -> None:
    sources = Counter(json.loads(line)["source"] for line in EMBEDDED_QA_PATH.read_text(encoding="utf-8").splitlines())
    assert set(sources) == {"hand", "pycountry", "us", "periodictable"}


def test_embedded_rebuild_is_byte_identical(tmp_path: Path) -> None:
    for package in ("pycountry", "us", "periodictable"):
        pytest.importorskip(package)
    from harness.benchmarks.build_embedded_qa import main

    out = tmp_path / "embedded_qa.jsonl"
    assert main(["--out", str(out)]) == 0
    assert out.read_bytes() == EMBEDDED_QA_PATH.read_bytes()


@pytest.mark.parametrize(
    ("item_id", "alias"),
    [
        ("countries-capital-fr", "Paris"),
        ("culture-hamlet", "Shakespeare"),
        ("elements-symbol-au", "Au"),
        ("arithmetic-sum-3-4", "seven"),
        ("us_states-capital-tx", "Austin"),
        ("countries-capital-co", "Bogota"),
    ],
)
def test_embedded_spot_checks(embedded: list[QAItem], item_id: str, alias: str) -> None:
    by_id = {item.id: item for item in embedded}
    assert alias_match(alias, by_id[item_id].aliases)


def test_import_is_light() -> None:
    import subprocess
    import sys

    code = "import harness.benchmarks, harness.judges, sys; print('torch' in sys.modules, 'pyarrow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]
