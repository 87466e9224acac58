"""The catalogue of bad input: each case is a claim (or command) a user could write, run through the plugin on
the tiny model after an earlier run has left results, a ledger and a store behind. Every case must fail with a
message naming what is wrong, where (file, field, line) and the fix, without a traceback, and leave every
earlier result, ledger record and stored artifact byte for byte as it was.

| case                          | where it is caught                 | message (excerpt)                                       | test |
|-------------------------------|------------------------------------|---------------------------------------------------------|------|
| malformed YAML                | collection (``load_claim``)        | ``<file>: malformed YAML at line 5, column 6: expected ',' or '}', but got ':' (while parsing a flow mapping at line 4, column 8). Fix the syntax there.`` | here |
| unknown kind                  | collection                         | ``line 10: 'estimand': unknown kind 'detector_aurok'. Did you mean: detector_auroc?`` | here |
| wrong type                    | collection                         | ``line 9: 'pipeline.sampling.k' (got 'ten'): Input should be a valid integer ... Fix: make 'pipeline.sampling.k' a valid integer`` | here |
| unknown field                 | collection                         | ``line 12: field 'pass_rule.lower_above.treshold' is not allowed. Did you mean: threshold?`` | here |
| unknown claim id              | command line (``pytest_collection``) | ``unknown claim: <dir>/edited_yml.yaml: no such claim file. Did you mean: <dir>/edited_yaml.yaml?`` | here |
| missing data file             | before the model loads (``check_paths``) | ``DataError: data.path '<path>': no such file (...). Fix: correct data.path`` | here |
| empty data file               | data loader                        | ``DataError: data.path: <file>: QA file is empty. Fix`` | here |
| empty benchmark               | benchmark loader                   | ``DataError: benchmark.path: <file>: contains zero FaithEval items. Fix`` | here |
| a benchmark too small to split | ITI's probe split                  | ``DataError: intervention.probe_path <file>: 3 question(s) leave 1 to fit the head probes, 1 to choose the top-K heads and 1 to evaluate; ITI needs at least 2, 2 and 5. Fix`` | here |
| one-class labels              | after labelling, before features   | ``StatsError: labels: one class only: ... 0 are labelled correct (0) and 60 hallucinated (1) ... Fix`` | here |
| too few of a class in a split | ``fit_on_split``                   | ``StatsError: split: the val split has 1 correct and ... Fix`` | tests/unit/test_labels.py::test_a_split_short_of_a_class_is_refused_before_fitting |
| NaN / inf features            | CETT capture, per batch            | ``StatsError: CETT features are not finite for 2 of 11 question(s): region 'answer': ... e.g. ['q2', 'q7']. Nothing was stored. Fix`` | tests/unit/test_features.py::test_nan_features_name_the_questions_and_nothing_is_stored |
| model path does not exist     | model load                         | ``ModelLoadError: model.path '<path>': no such folder (the nearest existing folder is ...). Fix`` | here |
| truncated weights file        | model load                         | ``ModelLoadError: Could not load the checkpoint at <path>: SafetensorError: ... Fix: copy the checkpoint again`` | here |
| tokenizer larger than the embedding | model load (``check_tokenizer``) | ``ModelLoadError: Tokenizer of '<path>' has 121 tokens but the model's embedding has 101 rows ... Fix`` | here |
| tokenizer of another model    | model load (``check_tokenizer``)   | ``ModelLoadError: Tokenizer of '<path>' gives BOS ('<s>') id 1 but the model config says bos_token_id = 2 ... Fix`` | here |
| row file: duplicate ids       | replay (``parse_rows``)            | ``DataError: <file>:6: duplicate row for id 'q..', condition 'detector' (first on line 5). Fix`` | here |
| row file: unpaired ids        | assertion stage (``paired_column``) | ``DataError: <file>: condition 'control/shuffled_labels/0' is unpaired with the detector rows: 1 item(s) missing ... Fix`` | here |

Row-file lines (bad JSON, non-finite values, unknown fields, labels, headers, missing alphas) are also covered
line by line in tests/unit/test_evidence.py; spec validation in tests/unit/test_spec*.py.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.xdist_group("bad_input")

GOOD = """\
statement: A probe on the tiny model's CETT features predicts its wrong answers.
stage: localization
evidence: readout
model: {kind: tiny}
data: {kind: qa_jsonl, path: %(data)s}
pipeline:
  labels: {mode: greedy}
  split: {length_match: none, train: 0.5, val: 0.25}
  sampling: {max_new_tokens: 4, batch_size: 64}
estimand: {kind: detector_auroc}
interval: {n_resamples: 300}
pass_rule: {kind: lower_above, threshold: 0.5}
controls: [{kind: shuffled_labels, seeds: 2}]
"""

LEVER = """\
statement: Scaling the tiny model's H-neurons moves its counterfactual preference more than random sets.
stage: control
evidence: intervention
model: {kind: tiny}
data: {kind: qa_jsonl, path: %(data)s}
pipeline:
  labels: {mode: greedy}
  split: {length_match: none, train: 0.5, val: 0.25}
  sampling: {max_new_tokens: 4, batch_size: 64}
intervention: {kind: neuron_scaling, alphas: [0, 1, 3]}
benchmark: {kind: counterfactual, metric: target_margin, path: %(bench)s}
estimand: {kind: slope_minus_control}
interval: {n_resamples: 300}
pass_rule: {kind: lower_above, threshold: 0}
controls: [{kind: random_neurons, seeds: 3}]
externalities:
  - benchmark: {kind: heldout_text, metric: nll, limit: 10}
"""

ITI = """\
statement: ITI on the tiny model raises its TruthfulQA-style MC2 score on held-out questions.
stage: control
evidence: intervention
model: {kind: tiny}
intervention: {kind: iti, top_k: 2, alphas: [0, 5], probe_path: %(tqa)s}
benchmark: {kind: truthfulqa, metric: mc2, path: %(tqa)s}
estimand: {kind: delta, scale: 100}
interval: {n_resamples: 300}
pass_rule: {kind: lower_above, threshold: 0}
controls: [{kind: random_heads, seeds: 2}]
externalities:
  - benchmark: {kind: counterfactual, metric: target_choice, limit: 10}
"""

EARLIER = ("edited_yaml", "edited_data")
"""Claims of the earlier run; the bad run holds broken versions of the same ids."""
RUN_TIMEOUT_S = 600


@dataclass(frozen=True)
class Case:
    name: str
    """Claim id (file name) of the case."""
    parts: tuple[str, ...]
    """Fragments the message must hold: what, where and the fix (``{x}`` filled from the workspace)."""


CASES = [
    Case("edited_yaml", ("{claims}/edited_yaml.yaml: malformed YAML at line 5, column 6: expected ',' or '}}', but "
                         "got ':' (while parsing a flow mapping at line 4, column 8). Fix the syntax there.",)),
    Case("unknown_kind", ("{claims}/unknown_kind.yaml: invalid claim spec",
                          "line 10: 'estimand': unknown kind 'detector_aurok'. Did you mean: detector_auroc?",
                          "Available: detector_auroc, detector_accuracy")),
    Case("wrong_type", ("{claims}/wrong_type.yaml: invalid claim spec",
                        "line 9: 'pipeline.sampling.k' (got 'ten'): Input should be a valid integer",
                        "Fix: make 'pipeline.sampling.k' a valid integer.")),
    Case("unknown_field", ("{claims}/unknown_field.yaml: invalid claim spec",
                           "line 12: field 'pass_rule.lower_above.treshold' is not allowed. Did you mean: threshold?",
                           "line 12: field 'pass_rule.lower_above.threshold' is required but missing. Fix: add it.")),
    Case("missing_data", ("claim missing_data could not run: DataError: data.path '{ws}/nope.jsonl': no such file",
                          "Fix: correct data.path in the claim file")),
    Case("empty_data", ("claim empty_data could not run: DataError: data.path: {ws}/empty.jsonl: QA file is empty.",
                        "Fix: regenerate")),
    Case("empty_benchmark", ("claim empty_benchmark could not run: DataError: benchmark.path: {ws}/blank_cf.jsonl: "
                             "contains zero FaithEval items", "Fix: check the file is the right one")),
    Case("tiny_benchmark", ("claim tiny_benchmark could not run: DataError: intervention.probe_path {ws}/tqa3.csv: 3 "
                            "question(s) leave 1 to fit the head probes, 1 to choose the top-K heads and 1 to "
                            "evaluate", "Fix: a larger TruthfulQA file")),
    Case("edited_data", ("claim edited_data could not run: StatsError: labels: one class only: of 60 questions of "
                         "data qa_jsonl ({ws}/all_wrong.jsonl) (greedy accuracy 0.0%), 0 are labelled correct (0) "
                         "and 60 hallucinated (1) under labels.mode 'greedy'",
                         "Fix: check that the aliases in the data are answers the model gives verbatim")),
    Case("missing_model", ("claim missing_model could not run: ModelLoadError: model.path '{ws}/no_such_model': no "
                           "such folder (the nearest existing folder is {ws})",
                           "Fix: point model.path at a folder holding config.json")),
    Case("truncated_model", ("claim truncated_model could not run: ModelLoadError: Could not load the checkpoint at "
                             "{ws}/ckpt_truncated: SafetensorError: ", "Fix: copy the checkpoint again")),
    Case("tokenizer_too_big", ("claim tokenizer_too_big could not run: ModelLoadError: Tokenizer of "
                               "'{ws}/ckpt_big_tokenizer' has 121 tokens but the model's embedding has 101 rows",
                               "Fix: load the tokenizer saved with these weights")),
    Case("tokenizer_other", ("claim tokenizer_other could not run: ModelLoadError: Tokenizer of "
                             "'{ws}/ckpt_other_tokenizer' gives BOS ('<s>') id 1 but the model config says "
                             "bos_token_id = 2", "Fix: load the tokenizer saved with these weights")),
    Case("rows_duplicate", ("claim rows_duplicate could not run: DataError: {ws}/rows_duplicate.jsonl:6: duplicate "
                            "row for id", "(first on line 5). Fix: one row per item, condition and alpha.")),
    Case("rows_unpaired", ("claim rows_unpaired could not run: DataError: {ws}/rows_unpaired.jsonl: condition "
                           "'control/shuffled_labels/0' is unpaired with the detector rows: 1 item(s) missing",
                           "Fix: every arm and alpha must score the same items.")),
]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _pytest(cwd: Path, ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pytest", *args, f"--claims-store={ws / 'store'}",
           f"--claims-results={ws / 'results'}", "-p", "no:cacheprovider"]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=_env(), timeout=RUN_TIMEOUT_S)


def _snapshot(ws: Path) -> dict[str, bytes]:
    """Every file of the results folder and the store (lock files are empty and carry no result)."""
    return {str(p.relative_to(ws)): p.read_bytes() for d in ("results", "store") for p in sorted((ws / d).rglob("*"))
            if p.is_file() and p.suffix != ".lock"}


def _checkpoint(tiny, folder: Path, tokenizer) -> None:
    tiny.model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def _other_tokenizer():
    """A character tokenizer of the tiny model's size whose special tokens are numbered as Llama's are."""
    import string

    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    chars = sorted(set(string.printable) - {"\x0b", "\x0c", "\r"})
    vocab = {t: i for i, t in enumerate(["<unk>", "<s>", "</s>", "<pad>", *chars])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(pattern="", behavior="isolated")
    return PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                   unk_token="<unk>")


def _write_bad_claims(ws: Path, tiny, tiny_qa: Path) -> Path:
    """The catalogue's inputs: one claim file per case, with the data files and checkpoints they name."""
    from harness.benchmarks import EMBEDDED_TRUTHFULQA_PATH
    from harness.models import build_tiny_tokenizer

    claims = ws / "bad" / "claims"
    claims.mkdir(parents=True)
    good = GOOD % {"data": tiny_qa}
    rows = [json.loads(line) for line in tiny_qa.read_text().splitlines()]
    (ws / "all_wrong.jsonl").write_text("".join(json.dumps({**r, "aliases": ["zzqx"]}) + "\n" for r in rows))
    (ws / "empty.jsonl").write_text("")
    (ws / "blank_cf.jsonl").write_text("\n  \n")
    with EMBEDDED_TRUTHFULQA_PATH.open(newline="") as f:
        head = list(csv.reader(f))[:4]  # the header and three questions
    with (ws / "tqa3.csv").open("w", newline="") as f:
        csv.writer(f).writerows(head)
    big = build_tiny_tokenizer()
    big.add_tokens([f"<extra{i}>" for i in range(20)])
    _checkpoint(tiny, ws / "ckpt_big_tokenizer", big)
    _checkpoint(tiny, ws / "ckpt_other_tokenizer", _other_tokenizer())
    _checkpoint(tiny, ws / "ckpt_truncated", tiny.tokenizer)
    weights = ws / "ckpt_truncated" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # a copy that stopped half-way
    live = (ws / "results" / "edited_data.rows.jsonl").read_text().splitlines(keepends=True)
    (ws / "rows_duplicate.jsonl").write_text("".join([*live[:5], live[4], *live[5:]]))
    victim = next(k for k, line in enumerate(live) if '"control/shuffled_labels/0"' in line)
    (ws / "rows_unpaired.jsonl").write_text("".join(live[:victim] + live[victim + 1:]))

    def replay(path: Path) -> str:
        return good.replace("model: {kind: tiny}", f"model: {{kind: tiny}}\nreplay: {{path: {path}}}")

    texts = {
        "edited_yaml": good.replace("evidence: readout\n", "evidence: readout\nmodel: {kind: tiny\n", 1),
        "unknown_kind": good.replace("detector_auroc}", "detector_aurok}"),
        "wrong_type": good.replace("max_new_tokens: 4", "k: ten, max_new_tokens: 4"),
        "unknown_field": good.replace("threshold: 0.5", "treshold: 0.5"),
        "missing_data": GOOD % {"data": ws / "nope.jsonl"},
        "empty_data": GOOD % {"data": ws / "empty.jsonl"},
        "empty_benchmark": LEVER % {"data": tiny_qa, "bench": ws / "blank_cf.jsonl"},
        "tiny_benchmark": ITI % {"tqa": ws / "tqa3.csv"},
        "edited_data": GOOD % {"data": ws / "all_wrong.jsonl"},
        "missing_model": good.replace("{kind: tiny}", f"{{kind: hf, path: {ws / 'no_such_model'}}}"),
        "truncated_model": good.replace("{kind: tiny}", f"{{kind: hf, path: {ws / 'ckpt_truncated'}}}"),
        "tokenizer_too_big": good.replace("{kind: tiny}", f"{{kind: hf, path: {ws / 'ckpt_big_tokenizer'}}}"),
        "tokenizer_other": good.replace("{kind: tiny}", f"{{kind: hf, path: {ws / 'ckpt_other_tokenizer'}}}"),
        "rows_duplicate": replay(ws / "rows_duplicate.jsonl"),
        "rows_unpaired": replay(ws / "rows_unpaired.jsonl"),
    }
    assert sorted(texts) == sorted(c.name for c in CASES)
    for name, text in texts.items():
        (claims / f"{name}.yaml").write_text(text)
    return claims


def _messages(report: Path) -> dict[str, str]:
    """Claim id -> the text of its failure or collection error, from the run's JUnit XML (an item is named by
    its claim id, a collection error by its file, ``claims.<id>.yaml``)."""
    out = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        node = case.find("failure") if case.find("failure") is not None else case.find("error")
        if node is not None:
            name = case.get("name", "")
            out[name.removesuffix(".yaml").split(".")[-1]] = f"{node.get('message', '')}\n{node.text or ''}"
    return out


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory, tiny, tiny_qa):
    """An earlier run's results, ledger and store; then every bad case run in one session against them."""
    ws = tmp_path_factory.mktemp("catalogue")
    (ws / "earlier" / "claims").mkdir(parents=True)
    for name in EARLIER:
        (ws / "earlier" / "claims" / f"{name}.yaml").write_text(GOOD % {"data": tiny_qa})
    first = _pytest(ws / "earlier", ws, "claims")
    assert first.returncode in (0, 1), first.stdout + first.stderr
    assert all((ws / "results" / f"{n}.json").exists() for n in EARLIER), first.stdout
    claims = _write_bad_claims(ws, tiny, tiny_qa)
    before = _snapshot(ws)
    report = ws / "bad" / "report.xml"
    bad = _pytest(ws / "bad", ws, "claims", "--continue-on-collection-errors", f"--junitxml={report}", "-q")
    unknown = _pytest(ws / "bad", ws, str(claims / "edited_yml.yaml"))
    return {"ws": ws, "claims": claims, "before": before, "after": _snapshot(ws), "bad": bad,
            "messages": _messages(report), "unknown": unknown}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_a_clear_error(catalogue, case):
    ws, claims = catalogue["ws"], catalogue["claims"]
    text = catalogue["messages"].get(case.name)
    assert text is not None, f"no error reported for {case.name}:\n{catalogue['bad'].stdout}"
    for part in case.parts:
        assert part.format(ws=ws, claims=claims) in text, f"{case.name}: {part!r} not in:\n{text}"
    assert "Traceback" not in text and "site-packages" not in text and ".py:" not in text, text
    assert not (ws / "results" / f"{case.name}.json").exists() or case.name in EARLIER


def test_every_case_fails_and_the_run_exits_nonzero(catalogue):
    assert catalogue["bad"].returncode != 0
    assert sorted(catalogue["messages"]) == sorted(c.name for c in CASES), catalogue["bad"].stdout


def test_earlier_results_ledger_and_artifacts_are_left_byte_for_byte(catalogue):
    before, after = catalogue["before"], catalogue["after"]
    changed = [p for p in before if after.get(p) != before[p]]
    assert changed == [], f"the bad run changed or removed earlier files: {changed}"
    new = sorted(set(after) - set(before))
    assert not [p for p in new if p.startswith("results")], f"the bad run wrote results: {new}"
    assert {f"results/{n}{s}" for n in EARLIER for s in (".json", ".rows.jsonl")} | {"results/_ledger.json"} <= set(
        before)
    # what the bad run did store (greedy answers of the one-class data, ...) is complete and verified
    ws = catalogue["ws"]
    for rel in new:
        if rel.endswith(".meta.json"):
            continue
        meta = json.loads(after[rel + ".meta.json"])
        assert hashlib.sha256(after[rel]).hexdigest() == meta["sha256"], rel
    assert not list((ws / "store").rglob("*.tmp"))


def test_an_unknown_claim_id_on_the_command_line_suggests_the_closest(catalogue):
    res, claims = catalogue["unknown"], catalogue["claims"]
    assert res.returncode == 4, res.stdout + res.stderr  # pytest's usage error
    assert (f"ERROR: unknown claim: {claims}/edited_yml.yaml: no such claim file. Did you mean: "
            f"{claims}/edited_yaml.yaml?") in res.stderr + res.stdout
