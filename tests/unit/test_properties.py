"""Property tests (issue 8 item 4): intervals contain their estimate, swapping arms negates a paired
difference, a cluster bootstrap of singleton clusters is the plain bootstrap, every intervention at its no-op
is the identity, and claim specs round-trip through YAML and JSON."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from harness.claims import ClaimSpec, find_claims, load_claim
from harness.errors import StatsError
from harness.stats import (
    auroc_ci,
    cluster_bootstrap_ci,
    delta_ci,
    dose_slope_ci,
    mcnemar_exact,
    mean_ci,
    paired_difference_ci,
    wilson_interval,
)

CLAIMS = Path(__file__).resolve().parents[2] / "claims"
FAST = settings(max_examples=25, deadline=None)
values = st.lists(st.floats(-100, 100, allow_nan=False, allow_infinity=False), min_size=5, max_size=40)
paired = st.integers(5, 40).flatmap(lambda n: st.tuples(
    st.lists(st.floats(-10, 10, allow_nan=False), min_size=n, max_size=n),
    st.lists(st.floats(-10, 10, allow_nan=False), min_size=n, max_size=n)))
bits = st.integers(5, 60).flatmap(lambda n: st.tuples(
    st.lists(st.booleans(), min_size=n, max_size=n), st.lists(st.booleans(), min_size=n, max_size=n)))
methods = st.sampled_from(["bca", "percentile"])


# --- intervals contain their point estimate -------------------------------------------------------------


@FAST
@given(x=values, seed=st.integers(0, 2**16), method=methods)
def test_mean_interval_contains_its_estimate(x: list[float], seed: int, method: str) -> None:
    iv = mean_ci(x, seed=seed, n_resamples=500, method=method)  # type: ignore[arg-type]
    assert iv.low <= iv.estimate <= iv.high, iv


@FAST
@given(ab=paired, seed=st.integers(0, 2**16), method=methods)
def test_paired_and_slope_intervals_contain_their_estimate(ab: tuple[list[float], list[float]], seed: int,
                                                           method: str) -> None:
    a, b = (np.asarray(v) for v in ab)
    iv = paired_difference_ci(a, b, seed=seed, n_resamples=500, method=method)  # type: ignore[arg-type]
    assert iv.low <= iv.estimate <= iv.high, iv
    slope = dose_slope_ci([0.0, 1.0], np.stack([b, a], axis=1), seed=seed, n_resamples=500,
                          method=method)  # type: ignore[arg-type]
    assert slope.low <= slope.estimate <= slope.high, slope
    assert slope.estimate == pytest.approx(iv.estimate, abs=1e-9)  # with 2 alphas 1 apart, slope = delta


@settings(max_examples=60, deadline=None)
@given(ab=bits, level=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_closed_form_intervals_contain_their_estimate(ab: tuple[list[bool], list[bool]], level: float) -> None:
    a, b = ab
    w = wilson_interval(sum(a), len(a), level)
    assert w.low <= w.estimate <= w.high
    d = mcnemar_exact(a, b, level=level).difference
    assert -1.0 <= d.low <= d.estimate <= d.high <= 1.0, d


@FAST
@given(n_clusters=st.integers(40, 60), size=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_cluster_interval_contains_its_estimate(n_clusters: int, size: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n_clusters * size)
    clusters = np.repeat(np.arange(n_clusters), size).tolist()
    iv = cluster_bootstrap_ci(lambda idx: float(x[idx].mean()), x.size, clusters=clusters, seed=seed,
                              n_resamples=500, what="mean")
    assert iv.low <= iv.estimate <= iv.high, iv


@settings(max_examples=10, deadline=None)
@given(n=st.integers(4, 30), shift=st.floats(-2, 2), seed=st.integers(0, 2**16), method=methods)
def test_auroc_interval_contains_its_estimate(n: int, shift: float, seed: int, method: str) -> None:
    rng = np.random.default_rng(seed)
    labels = np.arange(2 * n) % 2
    iv = auroc_ci(rng.normal(size=2 * n) + shift * labels, labels, seed=seed, n_resamples=500,
                  method=method)  # type: ignore[arg-type]
    assert iv.low <= iv.estimate <= iv.high, iv


# --- swapping arms negates a paired difference ----------------------------------------------------------


@FAST
@given(ab=paired, seed=st.integers(0, 2**16), method=methods)
def test_swapping_arms_negates_the_paired_difference(ab: tuple[list[float], list[float]], seed: int,
                                                     method: str) -> None:
    a, b = (np.asarray(v) for v in ab)
    fwd = paired_difference_ci(a, b, seed=seed, n_resamples=500, method=method)  # type: ignore[arg-type]
    rev = paired_difference_ci(b, a, seed=seed, n_resamples=500, method=method)  # type: ignore[arg-type]
    assume(fwd.method == rev.method)  # a BCa fallback on one side only is a different interval, recorded
    tol = 1e-7 * max(1.0, float(np.abs(a - b).max()))
    assert rev.estimate == pytest.approx(-fwd.estimate, abs=tol)
    assert rev.low == pytest.approx(-fwd.high, abs=tol)
    assert rev.high == pytest.approx(-fwd.low, abs=tol)
    y = np.stack([b, a], axis=1)
    assume(not np.isin(y, (0.0, 1.0)).all())  # 0/1 columns go to method newcombe (tested below)
    d_fwd = delta_ci(y, [0.0, 1.0], 0.0, 1.0, seed=seed, n_resamples=500, method=method)  # type: ignore[arg-type]
    d_rev = delta_ci(y, [0.0, 1.0], 1.0, 0.0, seed=seed, n_resamples=500, method=method)  # type: ignore[arg-type]
    assert d_fwd.estimate == pytest.approx(fwd.estimate, abs=tol)
    assert d_rev.estimate == pytest.approx(-d_fwd.estimate, abs=tol)


@settings(max_examples=60, deadline=None)
@given(ab=bits)
def test_swapping_arms_mirrors_the_paired_proportion_interval(ab: tuple[list[bool], list[bool]]) -> None:
    a, b = ab
    fwd, rev = mcnemar_exact(a, b), mcnemar_exact(b, a)
    assert rev.difference.estimate == pytest.approx(-fwd.difference.estimate)
    assert rev.difference.low == pytest.approx(-fwd.difference.high)
    assert rev.difference.high == pytest.approx(-fwd.difference.low)
    assert rev.p_value == pytest.approx(fwd.p_value)
    y = np.stack([np.asarray(b, float), np.asarray(a, float)], axis=1)
    d = delta_ci(y, [0.0, 1.0], 0.0, 1.0, seed=0, method="newcombe")
    assert (d.low, d.high, d.method) == (fwd.difference.low, fwd.difference.high, "newcombe-paired-score")


def test_cluster_bootstrap_refuses_too_few_clusters() -> None:
    x = np.arange(60.0)
    with pytest.raises(StatsError, match="39 clusters; a cluster bootstrap under-covers below 40"):
        cluster_bootstrap_ci(lambda idx: float(x[idx].mean()), 60, clusters=[k % 39 for k in range(60)], seed=0,
                             what="accuracy")
    ok = cluster_bootstrap_ci(lambda idx: float(x[idx].mean()), 60, clusters=[k % 40 for k in range(60)], seed=0,
                              n_resamples=200, what="accuracy")
    assert ok.method == "cluster-percentile"


def test_delta_ci_refuses_a_bootstrap_of_few_discordant_binary_items_and_newcombe_on_scores() -> None:
    y = np.zeros((200, 2))
    y[:100] = 1.0
    y[100:105, 1] = 1.0  # 5 discordant items
    with pytest.raises(StatsError, match=r"5 discordant item.*method='newcombe'"):
        delta_ci(y, [0.0, 1.0], 0.0, 1.0, seed=0)
    assert delta_ci(y, [0.0, 1.0], 0.0, 1.0, seed=0, method="newcombe").estimate == pytest.approx(0.025)
    with pytest.raises(StatsError, match="0/1 outcomes"):
        delta_ci(y * 0.5 + 0.1, [0.0, 1.0], 0.0, 1.0, seed=0, method="newcombe")
    y[100:130, 1] = 1.0  # 30 discordant: the bootstrap is allowed
    assert delta_ci(y, [0.0, 1.0], 0.0, 1.0, seed=0, n_resamples=500).method in ("bca", "percentile")


# --- a cluster bootstrap of singleton clusters is the plain bootstrap -----------------------------------


@FAST
@given(x=st.lists(st.floats(-100, 100, allow_nan=False), min_size=40, max_size=80), seed=st.integers(0, 2**16))
def test_singleton_clusters_resample_exactly_like_no_clusters(x: list[float], seed: int) -> None:
    arr = np.asarray(x)
    stat = lambda idx: float(arr[idx].mean())  # noqa: E731
    ids = [f"item{k}" for k in range(arr.size)]
    a = cluster_bootstrap_ci(stat, arr.size, clusters=ids, seed=seed, n_resamples=300, what="mean")
    b = cluster_bootstrap_ci(stat, arr.size, clusters=None, seed=seed, n_resamples=300, what="mean")
    assert (a.low, a.high, a.estimate) == (b.low, b.high, b.estimate)  # same seed -> the same resamples


@settings(max_examples=5, deadline=None)
@given(n=st.integers(40, 120), seed=st.integers(0, 2**16))
def test_singleton_cluster_bootstrap_matches_the_scipy_percentile_bootstrap_in_distribution(n: int,
                                                                                             seed: int) -> None:
    """Bounds averaged over 12 bootstrap seeds agree within 0.15 s/sqrt(n); the Monte Carlo s.e. of that
    difference is about 0.03 s/sqrt(n) with 2000 resamples, so the tolerance is ~5 s.e."""
    x = np.random.default_rng(seed).gamma(2.0, 1.0, n)
    stat = lambda idx: float(x[idx].mean())  # noqa: E731
    ids = list(range(n))
    clu = [cluster_bootstrap_ci(stat, n, clusters=ids, seed=s, n_resamples=2000, what="mean") for s in range(12)]
    pla = [mean_ci(x, seed=s, n_resamples=2000, method="percentile") for s in range(12)]
    tol = 0.15 * x.std(ddof=1) / np.sqrt(n)
    for side in ("low", "high"):
        got = np.mean([getattr(i, side) for i in clu])
        want = np.mean([getattr(i, side) for i in pla])
        assert abs(got - want) < tol, (side, got, want, tol)


# --- every intervention at its no-op is the identity ----------------------------------------------------


def _hooks(lm) -> int:  # type: ignore[no-untyped-def]
    return sum(len(m._forward_pre_hooks) + len(m._forward_hooks) for m in lm.model.modules())


def _hidden(lm, ids: torch.Tensor) -> torch.Tensor:  # type: ignore[no-untyped-def]
    with torch.no_grad():
        return lm.sites.backbone(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=False).last_hidden_state


NOOP_KINDS = ["neurons", "neurons_grouped", "sae_delta", "direction_add", "direction_ablate", "iti_all",
              "iti_generated"]


def _noop_edit(lm, kind: str, seed: int):  # type: ignore[no-untyped-def]
    from harness.interventions import (
        SAE,
        iti_shift,
        scale_neurons,
        scale_neurons_grouped,
        scale_sae_features,
        steer_direction,
    )

    rng = np.random.default_rng(seed)
    s = lm.sites
    if kind.startswith("neurons"):
        neurons = [(int(rng.integers(s.n_layers)), int(rng.integers(s.d_mlp))) for _ in range(rng.integers(1, 8))]
        if kind == "neurons":
            return scale_neurons(lm, neurons, 1.0)
        return scale_neurons_grouped(lm, [(neurons, 1.0), (neurons[:1], 1.0)])  # hooks run, every alpha 1
    if kind == "sae_delta":
        g = torch.Generator().manual_seed(seed)
        w = torch.randn(24, s.d_model, generator=g)
        sae = SAE(W_enc=w.T.clone(), b_enc=torch.zeros(24), W_dec=w, b_dec=torch.zeros(s.d_model),
                  hook_name=f"blocks.{int(rng.integers(s.n_layers))}.hook_resid_post", activation="relu")
        return scale_sae_features(lm, sae, rng.choice(24, 3, replace=False).tolist(), 1.0)
    if kind.startswith("direction"):
        return steer_direction(lm, int(rng.integers(s.n_layers)), rng.normal(size=s.d_model), 0.0, mode=kind[10:])
    flat = rng.choice(s.n_layers * s.n_heads, 2, replace=False)  # iti_shift refuses duplicate heads
    heads = [(int(i // s.n_heads), int(i % s.n_heads)) for i in flat]
    dirs = rng.normal(size=(2, s.head_dim))
    return iti_shift(lm, heads, dirs, np.abs(rng.normal(size=2)) + 0.1, 0.0, scope=kind[4:])  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", NOOP_KINDS)
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**16), batch=st.integers(1, 3), length=st.integers(1, 12))
def test_every_intervention_at_its_noop_is_the_identity(tiny, kind: str, seed: int, batch: int,
                                                        length: int) -> None:
    from harness.models import rows_in_groups

    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, len(tiny.tokenizer), (batch, length), generator=g)
    before = _hooks(tiny)
    clean = _hidden(tiny, ids)
    groups = torch.arange(batch) % 2
    with _noop_edit(tiny, kind, seed), rows_in_groups(groups if kind == "neurons_grouped" else None):
        if kind != "neurons_grouped":
            assert _hooks(tiny) == before  # the no-op registers nothing
        edited = _hidden(tiny, ids)
    assert torch.equal(edited, clean)
    assert _hooks(tiny) == before


# --- claim specs round-trip through YAML and JSON -------------------------------------------------------


def _round_trips(spec: ClaimSpec) -> None:
    assert ClaimSpec.model_validate_json(spec.model_dump_json()) == spec
    text = yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False)
    assert ClaimSpec.model_validate(yaml.safe_load(text)) == spec


SHIPPED = sorted(find_claims(CLAIMS).items())


@pytest.mark.parametrize("path", [p for _, p in SHIPPED], ids=[c for c, _ in SHIPPED])
def test_every_shipped_claim_round_trips(path: Path) -> None:
    _round_trips(load_claim(path))


finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
rules = st.one_of(
    st.builds(lambda t: {"kind": "lower_above", "threshold": t}, finite),
    st.builds(lambda t: {"kind": "upper_below", "threshold": t}, finite),
)


@settings(max_examples=40, deadline=None)
@given(which=st.sampled_from([c for c, _ in SHIPPED]), level=st.floats(0.5, 1.0, exclude_min=True,
       exclude_max=True), resamples=st.integers(200, 10**6), seed=st.integers(0, 2**31), rule=rules,
       tier=st.sampled_from(["headline", "supporting"]),
       expected=st.none() | st.dictionaries(st.sampled_from(["estimate", "low", "high"]), finite, max_size=3))
def test_varied_claims_round_trip(which: str, level: float, resamples: int, seed: int, rule: dict, tier: str,
                                  expected: dict | None) -> None:
    data = load_claim(CLAIMS / f"{which}.yaml").model_dump(mode="json", exclude_unset=True)
    data["interval"] = {**data.get("interval", {}), "level": level, "n_resamples": resamples, "seed": seed}
    data.update({"tier": tier, "expected": expected})
    if data["pass_rule"]["kind"] in ("lower_above", "upper_below"):
        data["pass_rule"] = rule  # 'no effect' rules need their power spec; keep those as shipped
    _round_trips(ClaimSpec.model_validate(data))


def test_spec_rejects_a_bootstrap_for_a_binary_delta_and_newcombe_elsewhere() -> None:
    from pydantic import ValidationError

    data = load_claim(CLAIMS / "iti_qa_accuracy_cost.yaml").model_dump(mode="json", exclude_unset=True)
    data["interval"] = {"method": "bca"}
    with pytest.raises(ValidationError, match=r"uses interval\.method: newcombe, not bca"):
        ClaimSpec.model_validate(data)
    slope = load_claim(CLAIMS / "hneuron_scaling_counterfactual_slope.yaml").model_dump(mode="json",
                                                                                       exclude_unset=True)
    slope["interval"] = {"method": "newcombe"}
    with pytest.raises(ValidationError, match="newcombe is the interval of a delta on a 0/1 metric"):
        ClaimSpec.model_validate(slope)
    detect = load_claim(CLAIMS / "hneuron_detector_auroc.yaml").model_dump(mode="json", exclude_unset=True)
    detect["interval"] = {"method": "newcombe"}
    with pytest.raises(ValidationError, match="newcombe is for estimand delta"):
        ClaimSpec.model_validate(detect)
