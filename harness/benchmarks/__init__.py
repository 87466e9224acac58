"""Benchmarks: QA, multiple-choice, false-premise, SimpleQA and behaviour loaders, and the embedded sets."""

from harness.benchmarks._faitheval import (
    EMBEDDED_COUNTERFACTUAL_PATH,
    load_embedded_counterfactual,
    load_faitheval,
)
from harness.benchmarks._falseqa import EMBEDDED_FALSEQA_PATH, load_embedded_falseqa, load_falseqa
from harness.benchmarks._heldout import (
    EMBEDDED_HELDOUT_TEXT_PATH,
    load_embedded_heldout_text,
    load_heldout_text,
)
from harness.benchmarks._jailbreakbench import JBB_BEHAVIORS_SAMPLE_PATH, load_jailbreakbench
from harness.benchmarks._judge_gold import EMBEDDED_JUDGE_GOLD_PATH, GOLD_LABELS, GoldAnswer, load_judge_gold
from harness.benchmarks._mc import LETTERS, Behavior, FalsePremiseItem, MCItem, SimpleQAItem
from harness.benchmarks._qa import EMBEDDED_QA_PATH, QAItem, load_embedded_qa, load_qa_jsonl
from harness.benchmarks._simpleqa import SIMPLEQA_VERIFIED_SAMPLE_PATH, load_simpleqa_verified
from harness.benchmarks._triviaqa import load_triviaqa
from harness.benchmarks._truthfulqa import (
    EMBEDDED_TRUTHFULQA_PATH,
    load_embedded_truthfulqa,
    load_truthfulqa,
    mc1_choices,
    mc1_correct,
    mc2_score,
)

__all__ = [
    "EMBEDDED_COUNTERFACTUAL_PATH",
    "EMBEDDED_FALSEQA_PATH",
    "EMBEDDED_HELDOUT_TEXT_PATH",
    "EMBEDDED_JUDGE_GOLD_PATH",
    "EMBEDDED_QA_PATH",
    "EMBEDDED_TRUTHFULQA_PATH",
    "GOLD_LABELS",
    "JBB_BEHAVIORS_SAMPLE_PATH",
    "LETTERS",
    "SIMPLEQA_VERIFIED_SAMPLE_PATH",
    "Behavior",
    "FalsePremiseItem",
    "GoldAnswer",
    "MCItem",
    "QAItem",
    "SimpleQAItem",
    "load_embedded_counterfactual",
    "load_embedded_falseqa",
    "load_embedded_heldout_text",
    "load_embedded_qa",
    "load_embedded_truthfulqa",
    "load_faitheval",
    "load_falseqa",
    "load_heldout_text",
    "load_jailbreakbench",
    "load_judge_gold",
    "load_qa_jsonl",
    "load_simpleqa_verified",
    "load_triviaqa",
    "load_truthfulqa",
    "mc1_choices",
    "mc1_correct",
    "mc2_score",
]
