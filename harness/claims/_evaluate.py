"""Per-item outcomes of a benchmark under whatever edit is active: forward-only log-probs or judged answers.

An Evaluator is built once per (model, benchmark, metric); ``run`` computes one outcome per item under the
hooks active around the call, so the treatment, its controls and the externalities share items and scoring.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.claims._spec_intervention import BenchmarkSpec
from harness.errors import DataError

CODE_VERSION = "eval-v1"


def load_benchmark(spec: BenchmarkSpec, qa_items: list[Any] | None = None, field: str = "benchmark.path") -> list[Any]:
    """Items of a benchmark spec (embedded set unless a path is given), a seeded subset when limit is set.

    Args:
        spec: The benchmark.
        qa_items: The claim's questions (benchmark kind qa without a path).
        field: The claim field ``spec.path`` came from, for error messages.
    """
    from harness.claims._detection import resolve_path

    path = resolve_path(spec.path, field) if spec.path else None
    try:
        items = _load(spec, qa_items, path)
    except DataError as exc:  # the loader names the file and line; say which field of the claim named it
        raise DataError(f"{field if path else 'embedded benchmark ' + spec.kind}: {exc}") from None
    if not items:
        raise DataError(f"benchmark {spec.kind} ({spec.path or 'embedded'}) has no items. Fix: point "
                        f"{field} at a non-empty file in the benchmark's published format.")
    from harness.claims._detection import seeded_subset

    return seeded_subset(items, spec.limit, spec.subset_seed)


def _load(spec: BenchmarkSpec, qa_items: list[Any] | None, path: Path | None) -> list[Any]:
    """The benchmark's items, from ``path`` (already resolved) or its embedded set."""
    import harness.benchmarks as B

    items: list[Any]
    if spec.kind == "counterfactual":
        items = B.load_faitheval(path) if path else B.load_embedded_counterfactual()
    elif spec.kind == "truthfulqa":
        items = B.load_truthfulqa(path) if path else B.load_embedded_truthfulqa()
    elif spec.kind == "falseqa":
        items = B.load_falseqa(path) if path else B.load_embedded_falseqa()
    elif spec.kind == "heldout_text":
        texts = B.load_heldout_text(path) if path else B.load_embedded_heldout_text()
        items = [_Text(f"text-{i}", t) for i, t in enumerate(texts)]
    elif spec.kind == "jailbreakbench":
        items = B.load_jailbreakbench(path or B.JBB_BEHAVIORS_SAMPLE_PATH)
    elif path:
        items = B.load_triviaqa(path)
    else:
        items = list(qa_items) if qa_items is not None else B.load_embedded_qa()
    return items


@dataclass(frozen=True)
class _Text:
    id: str
    text: str


def _ids(tok: Any, text: str) -> list[int]:
    return list(tok(text, add_special_tokens=False).input_ids)


def _prompt(lm: Any, style: str, text: str) -> list[int]:
    """Prompt ids for a base model (plain text after BOS) or an instruction-tuned one (chat template)."""
    tok = lm.tokenizer
    if style == "chat":
        return _ids(tok, tok.apply_chat_template([{"role": "user", "content": text}], tokenize=False,
                                                 add_generation_prompt=True))
    bos = [tok.bos_token_id] if tok.bos_token_id is not None else []
    return bos + _ids(tok, text)


def _cf_text(item: Any, lettered: bool) -> str:
    text = f"Context: {item.context}\nQuestion: {item.question}\n"
    if lettered:
        text += "".join(f"{chr(65 + i)}. {c}\n" for i, c in enumerate(item.choices))
    return text + "Answer:"


@dataclass
class Evaluator:
    """Scores one benchmark with one metric; ``run`` returns outcomes [n_items] under the active edit."""

    lm: Any
    spec: BenchmarkSpec
    items: list[Any]
    style: str = "fewshot"
    extras: dict[str, Any] = field(default_factory=dict)
    """Side counts of the last run (e.g. parse failures of a generated MC letter)."""

    @property
    def ids(self) -> list[str]:
        return [str(it.id) for it in self.items]

    def key(self) -> dict[str, Any]:
        from harness.store import fingerprint

        bench = self.spec.model_dump(exclude={"batch_size"})
        if bench.get("max_new_tokens") is None:  # unset: keys stay those of runs made before the field existed
            bench.pop("max_new_tokens", None)
        return {"model": self.lm.fingerprint, "benchmark": bench,
                "items": fingerprint([repr(it) for it in self.items]), "style": self.style, "code": CODE_VERSION}

    @property
    def generates(self) -> bool:
        """The metric grades a generated answer (a judge panel can grade it)."""
        from harness.claims._spec_intervention import GENERATED_METRICS

        return (self.spec.kind, self.spec.metric) in GENERATED_METRICS

    def run(self) -> np.ndarray:
        metric = self.spec.metric
        if metric == "compliance":
            return self._compliance()
        if metric == "accuracy":
            return self._accuracy()
        if metric == "nll":
            return self._nll()
        if metric == "judged":
            raise AssertionError("metric judged is graded by the claim's judges (see _steering), not here")
        return self._choice_metric(metric)

    @property
    def groupable(self) -> bool:
        """The metric is scored forward-only, so several conditions can share one batched pass."""
        return self.spec.metric not in ("compliance", "accuracy", "judged")

    def run_grouped(self, n_groups: int) -> np.ndarray:
        """Outcomes [n_groups, n_items] under a grouped edit active around the call: every item is scored
        once per condition, G conditions per batched pass (the batch holds G x batch_size rows)."""
        if not self.groupable:
            raise ValueError(f"metric {self.spec.metric} generates text; its conditions run one at a time")
        n = len(self.items)
        groups = [g for g in range(n_groups) for _ in range(n)]
        bs = self.spec.batch_size * n_groups
        if self.spec.metric == "nll":
            pairs = self._nll_pairs() * n_groups
            from harness.generate import score_continuations

            lp, k = score_continuations(self.lm, pairs, batch_size=bs, groups=groups)
            return (-lp / k).reshape(n_groups, n)
        return self._choice_metric(self.spec.metric, n_groups=n_groups).reshape(n_groups, n)

    def _choices(self, item: Any, metric: str) -> tuple[list[int], list[str]]:
        """Prompt ids and the option texts to score for one item."""
        if self.spec.kind == "counterfactual":
            if metric in ("target_margin", "target_logprob") and item.best < 0:
                raise DataError(f"counterfactual item {item.id} has no real-world answer among its choices; "
                                f"metric {metric} needs one (use target_choice)")
            pick = {"target_margin": [item.target, item.best], "target_logprob": [item.target]}.get(
                metric, list(range(len(item.choices))))
            return _prompt(self.lm, self.style, _cf_text(item, lettered=False)), [item.choices[i] for i in pick]
        if self.spec.kind == "truthfulqa":
            return _prompt(self.lm, self.style, f"Q: {item.question}\nA:"), list(item.choices)
        if self.spec.kind == "falseqa":
            return _prompt(self.lm, self.style, f"Q: {item.question}\nA:"), [item.answer]
        from harness.generate import build_prompt

        assert metric == "gold_logprob"
        style: Any = "chat" if self.style == "chat" else "fewshot"
        return list(build_prompt(self.lm.tokenizer, item.question, style).ids), [item.aliases[0]]

    def _choice_metric(self, metric: str, n_groups: int = 0) -> np.ndarray:
        """One outcome per item, or per (condition, item) in condition-major order with ``n_groups``."""
        from harness.generate import encode_continuation, score_choices

        tok = self.lm.tokenizer
        prompts, choices = [], []
        for it in self.items:
            ids, opts = self._choices(it, metric)
            prompts.append(ids)
            choices.append([encode_continuation(tok, o) for o in opts])
        if n_groups:
            n = len(self.items)
            ll = score_choices(self.lm, prompts * n_groups, choices * n_groups,
                               batch_size=self.spec.batch_size * n_groups,
                               groups=[g for g in range(n_groups) for _ in range(n)])
            items = self.items * n_groups
        else:
            ll = score_choices(self.lm, prompts, choices, batch_size=self.spec.batch_size)
            items = self.items
        return np.array([_reduce(metric, it, v) for it, v in zip(items, ll, strict=True)], dtype=np.float64)

    def _compliance(self) -> np.ndarray:
        """Greedy MC letter (lettered options, few tokens); compliance = picks the context's option."""
        from harness.generate import generate_batch
        from harness.judges import parse_mc_letter

        prompts = [tuple(_prompt(self.lm, self.style, _cf_text(it, lettered=True))) for it in self.items]
        out = np.zeros(len(self.items))
        failures = 0
        bs = self.spec.batch_size
        for b0 in range(0, len(prompts), bs):
            gens = generate_batch(self.lm, list(prompts[b0:b0 + bs]), max_new_tokens=4, greedy=True)
            for j, g in enumerate(gens):
                it = self.items[b0 + j]
                letter = parse_mc_letter(g.text, len(it.choices))
                failures += letter is None
                out[b0 + j] = float(letter == it.target)
        self.extras = {"parse_failures": failures, "parse_failure_rate": failures / len(self.items)}
        return out

    def answers(self) -> list[str]:
        """Greedy answers (raw text) of every item under the active edit: QA questions with the few-shot or
        chat prompt, jailbreak behaviours' goals as the user turn."""
        from harness.generate import build_prompt, generate_batch

        style: Any = "chat" if self.style == "chat" else "fewshot"
        if self.spec.kind == "jailbreakbench":
            prompts = [tuple(_prompt(self.lm, self.style, it.goal)) for it in self.items]
            cap = self.spec.max_new_tokens or 64
        else:
            prompts = [build_prompt(self.lm.tokenizer, it.question, style).ids for it in self.items]
            cap = self.spec.max_new_tokens or 16
        out: list[str] = []
        bs = self.spec.batch_size
        for b0 in range(0, len(prompts), bs):
            out += [g.text for g in generate_batch(self.lm, list(prompts[b0:b0 + bs]), max_new_tokens=cap, greedy=True)]
        return out

    def _accuracy(self) -> np.ndarray:
        from harness.judges import alias_match

        texts = self.answers()
        empty = sum(not t.strip() for t in texts)
        self.extras = {"empty_answers": empty, "empty_answer_rate": empty / len(self.items)}
        return np.array([float(alias_match(t, it.aliases)) for t, it in zip(texts, self.items, strict=True)])

    def _nll_pairs(self) -> list[tuple[list[int], list[int]]]:
        tok = self.lm.tokenizer
        bos = [tok.bos_token_id] if tok.bos_token_id is not None else []
        return [(bos, _ids(tok, it.text)) for it in self.items]

    def _nll(self) -> np.ndarray:
        from harness.generate import score_continuations

        lp, n = score_continuations(self.lm, self._nll_pairs(), batch_size=self.spec.batch_size)
        return -lp / n


def _reduce(metric: str, item: Any, ll: np.ndarray) -> float:
    """One outcome from the log-likelihoods of the scored choices."""
    if metric == "target_margin":
        return float(ll[0] - ll[1])
    if metric in ("target_logprob", "answer_logprob", "gold_logprob"):
        return float(ll[0])
    if metric == "target_choice":
        return float(int(np.argmax(ll)) == item.target)
    from harness.benchmarks import mc1_correct, mc2_score

    if metric == "mc1":
        return float(mc1_correct(ll, item))
    if metric == "mc2":
        return float(mc2_score(ll, item))
    if metric == "best_margin":
        wrong = [i for i in range(len(item.choices)) if i not in item.correct]
        return float(ll[item.best] - np.max(ll[wrong]))
    raise ValueError(f"no reduction for metric {metric!r}")
