"""CETT features of a pool captured batch by batch into the store: bit-identical to one capture, resumable
after a failure part-way, and refused (naming the questions, storing nothing) when any value is NaN or inf."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.activations import FeatureInput, capture_cett
from harness.claims._detection import CODE_VERSIONS, pool_features
from harness.claims._features import PART_STAGE, cett_in_batches
from harness.claims._spec import PipelineSpec
from harness.errors import StatsError
from harness.models import build_tiny_gemma
from harness.store import ArtifactStore

POISON = "~"  # a character whose embedding row is set to NaN below


def _inputs(lm, n=11):
    """Teacher-forced sequences of different lengths (so the length sort reorders them)."""
    tok = lm.tokenizer
    out = []
    for i in range(n):
        prompt = tuple(tok(f"Q{i}: {'x' * (i * 5 % 7)}?", add_special_tokens=True).input_ids)
        resp = tuple(tok(f" a{'b' * (i % 4)}\n", add_special_tokens=False).input_ids)
        out.append(FeatureInput(prompt_ids=prompt, response_ids=resp, answer_span=(1, len(resp) - 1),
                                question_span=(1, len(prompt) - 1)))
    return out


class _Pool:
    def __init__(self, inputs):
        self.inputs = inputs
        self.ids = [f"q{i}" for i in range(len(inputs))]


def _key(lm, regions):
    return {"model": lm.fingerprint, "code": CODE_VERSIONS["cett"], "regions": list(regions), "inputs": "test"}


def test_batches_are_bit_identical_to_one_capture_and_are_dropped_once_assembled(tiny, tmp_path):
    inputs = _inputs(tiny)
    regions = ("answer", "non_answer")
    whole = capture_cett(tiny, inputs, regions, batch_size=3)
    store = ArtifactStore(tmp_path)
    arrays, parts = cett_in_batches(tiny, [f"q{i}" for i in range(len(inputs))], inputs, regions, 3,
                                    _key(tiny, regions), store)
    assert len(parts) == 4 and all(store.exists(PART_STAGE, p, "npz") for p in parts)
    for k, r in enumerate(regions):
        assert np.array_equal(arrays[r], whole[:, k])  # exactly, not approximately

    feats, _ = pool_features(tiny, _Pool(inputs), regions, PipelineSpec.model_validate(
        {"features": {"batch_size": 3}}), store)
    assert all(np.array_equal(feats[r], whole[:, k]) for k, r in enumerate(regions))
    assert not any(store.exists(PART_STAGE, p, "npz") for p in parts)  # the whole array replaced its parts
    assert list((tmp_path / "cett").rglob("*.npz"))


def test_a_capture_that_fails_part_way_resumes_with_the_missing_batches(tiny, tmp_path, monkeypatch):
    import harness.activations as acts

    inputs = _inputs(tiny)
    ids = [f"q{i}" for i in range(len(inputs))]
    real = acts.capture_cett
    calls: list[int] = []

    def capture(lm, xs, regions, batch_size):
        calls.append(len(xs))
        if len(calls) == 3 and stop:
            raise KeyboardInterrupt  # the run is stopped in its third batch
        return real(lm, xs, regions, batch_size=batch_size)

    monkeypatch.setattr(acts, "capture_cett", capture)
    store = ArtifactStore(tmp_path)
    stop = True
    with pytest.raises(KeyboardInterrupt):
        cett_in_batches(tiny, ids, inputs, ("answer",), 3, _key(tiny, ("answer",)), store)
    calls.clear()
    stop = False
    arrays, _ = cett_in_batches(tiny, ids, inputs, ("answer",), 3, _key(tiny, ("answer",)), store)
    assert calls == [3, 2]  # batches 3 and 4 only; the two stored before the stop are read back
    assert np.array_equal(arrays["answer"], real(tiny, inputs, ("answer",), batch_size=3)[:, 0])


@pytest.fixture
def poisoned():
    """A tiny Gemma whose embedding of one character is NaN: every sequence holding it has NaN activations."""
    lm = build_tiny_gemma(seed=0)
    row = lm.tokenizer.convert_tokens_to_ids(POISON)
    with torch.no_grad():
        lm.model.get_input_embeddings().weight[row] = float("nan")
    return lm


def test_nan_features_name_the_questions_and_nothing_is_stored(poisoned, tmp_path):
    inputs = _inputs(poisoned)
    tok = poisoned.tokenizer
    bad = {2, 7}
    for i in bad:  # the poisoned character in the answers of two questions
        resp = tuple(tok(f" z{POISON}z\n", add_special_tokens=False).input_ids)
        inputs[i] = FeatureInput(prompt_ids=inputs[i].prompt_ids, response_ids=resp, answer_span=(1, len(resp) - 1),
                                 question_span=inputs[i].question_span)
    store = ArtifactStore(tmp_path)
    with pytest.raises(StatsError) as err:
        pool_features(poisoned, _Pool(inputs), ("answer",), PipelineSpec.model_validate(
            {"features": {"batch_size": 3}}), store)
    msg = str(err.value)
    assert "CETT features are not finite for 2 of 11 question(s)" in msg
    assert "region 'answer': 2 question(s) give NaN/inf activations, e.g. ['q2', 'q7']" in msg
    assert "Nothing was stored. Fix: " in msg and "float32" in msg
    # no artifact holds a NaN: the whole array was never stored, and of the parts only the finite batches
    stored = list(tmp_path.rglob("*.npz"))
    assert not list((tmp_path / "cett").rglob("*.npz"))
    assert stored and all(np.isfinite(np.load(p)["cett"]).all() for p in stored)
    assert len(stored) == 4 - len({i // 3 for i in _sorted_positions(inputs, bad)})


def test_an_empty_region_is_named_as_such(tiny, tmp_path):
    inputs = _inputs(tiny, n=4)
    x = inputs[1]
    inputs[1] = FeatureInput(prompt_ids=x.prompt_ids, response_ids=x.response_ids, answer_span=(0, 0),
                             question_span=x.question_span)
    with pytest.raises(StatsError, match=r"region 'answer': 1 question\(s\) have no tokens there, e.g. \['q1'\]"):
        pool_features(tiny, _Pool(inputs), ("answer",), PipelineSpec(), ArtifactStore(tmp_path))


def _sorted_positions(inputs, rows):
    """Positions of ``rows`` in capture order (by sequence length), i.e. which batches hold them."""
    order = sorted(range(len(inputs)), key=lambda i: len(inputs[i].prompt_ids) + len(inputs[i].response_ids))
    return [order.index(i) for i in rows]
