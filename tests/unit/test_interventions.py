"""Interventions on the tiny Gemma models: no-op identity, targeted edits only, hand computations, cleanup
after exceptions, effects during generation, SAE files and training, site and head captures."""

from __future__ import annotations

import json
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.activations import FeatureInput
from harness.errors import DataError, StatsError
from harness.generate import generate_batch
from harness.interventions import (
    SAE,
    capture_heads,
    capture_site_means,
    diff_of_means,
    fit_iti,
    iti_shift,
    load_sae,
    save_sae,
    scale_neurons,
    scale_sae_features,
    steer_direction,
    train_sae,
)
from harness.models import build_tiny_gemma, decode_step, decoding_step

TEXTS = ["Q: Paris?\nA:", "Q: Who wrote it?\nA: Bo"]
NEURONS = [(0, 3), (1, 10), (1, 11)]
FEATURES = [2, 5, 7]
HEADS = [(0, 1), (1, 0)]
KINDS = ["neurons", "sae_delta", "sae_full", "direction_add", "direction_ablate", "iti_all", "iti_generated"]
NOOP = {"neurons": 1.0, "sae_delta": 1.0, "direction_add": 0.0, "direction_ablate": 0.0, "iti_all": 0.0,
        "iti_generated": 0.0}
STRONG = {"neurons": 0.0, "sae_delta": 6.0, "sae_full": 1.0, "direction_add": 4.0, "direction_ablate": 1.0,
          "iti_all": 30.0, "iti_generated": 30.0}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors gain nothing from threads, and a second thread on a busy 2-core machine stalls each op."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def random_sae(d_in: int, activation: str = "relu", layer: int = 0, d_sae: int = 48, seed: int = 0) -> SAE:
    g = torch.Generator().manual_seed(seed)
    W_dec = torch.randn(d_sae, d_in, generator=g)
    W_dec /= W_dec.norm(dim=1, keepdim=True)
    return SAE(W_enc=0.5 * W_dec.T, b_enc=torch.full((d_sae,), 0.05) + 0.01 * torch.randn(d_sae, generator=g),
               W_dec=W_dec, b_dec=0.1 * torch.randn(d_in, generator=g), hook_name=f"blocks.{layer}.hook_resid_post",
               activation=activation,  # type: ignore[arg-type]
               threshold=torch.full((d_sae,), 0.06) if activation == "jumprelu" else None,
               k=5 if activation == "topk" else None, metadata={"note": "test"})


def _vec(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(n)


def _iti_params(lm, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    dirs = np.random.default_rng(seed).standard_normal((len(HEADS), lm.sites.head_dim))
    return dirs / np.linalg.norm(dirs, axis=1, keepdims=True), np.array([0.5, 2.0])


def make_edit(lm, kind: str, alpha: float, **kw):
    if kind == "neurons":
        return scale_neurons(lm, NEURONS, alpha)
    if kind.startswith("sae"):
        return scale_sae_features(lm, random_sae(lm.sites.d_model), FEATURES, alpha, mode=kind[4:])
    if kind.startswith("direction"):
        return steer_direction(lm, 0, _vec(lm.sites.d_model, 1), alpha, mode=kind[10:])
    dirs, sig = _iti_params(lm)
    return iti_shift(lm, HEADS, dirs, sig, alpha, scope=kind[4:], **kw)


def hook_count(lm) -> int:
    return sum(len(m._forward_pre_hooks) + len(m._forward_hooks) for m in lm.model.modules())


def ids_of(lm, texts=TEXTS) -> torch.Tensor:
    rows = [lm.tokenizer(t).input_ids for t in texts]
    width = max(map(len, rows))
    return torch.tensor([[0] * (width - len(r)) + r for r in rows])  # left padding


def forward(lm, ids: torch.Tensor) -> torch.Tensor:
    mask = (ids != 0).long()
    return lm.sites.backbone(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state


@contextmanager
def capture(module, pre: bool = True):
    """Record a module's input (pre) or output at every call; registered now, so it runs after earlier hooks."""
    seen: list[torch.Tensor] = []
    if pre:
        h = module.register_forward_pre_hook(lambda _m, a: seen.append(a[0].detach().clone()))
    else:
        h = module.register_forward_hook(
            lambda _m, _a, o: seen.append((o[0] if isinstance(o, tuple) else o).detach().clone()))
    try:
        yield seen
    finally:
        h.remove()


# --- contract shared by every kind -------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(NOOP))
@pytest.mark.parametrize("which", ["tiny", "tiny_mm"])
def test_noop_registers_no_hooks_and_is_bit_exact(kind, which, request):
    lm = request.getfixturevalue(which)
    ids = ids_of(lm)
    clean, before = forward(lm, ids), hook_count(lm)
    with make_edit(lm, kind, NOOP[kind]):
        assert hook_count(lm) == before
        assert torch.equal(forward(lm, ids), clean)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("which", ["tiny", "tiny_mm"])
def test_strong_edit_changes_output_and_hooks_go_after_an_exception(kind, which, request):
    lm = request.getfixturevalue(which)
    ids = ids_of(lm)
    clean, before = forward(lm, ids), hook_count(lm)
    with pytest.raises(RuntimeError, match="boom"), make_edit(lm, kind, STRONG[kind]):
        assert hook_count(lm) > before
        assert not torch.allclose(forward(lm, ids), clean, atol=1e-4)
        raise RuntimeError("boom")
    assert hook_count(lm) == before
    assert torch.equal(forward(lm, ids), clean)


def _generate_records(lm, prompts, **kw):
    """Generations plus the backbone's last hidden state of every pass (prefill, then each decoding step)."""
    seen: list[torch.Tensor] = []
    h = lm.sites.backbone.register_forward_hook(lambda _m, _a, o: seen.append(o.last_hidden_state[:, -1].clone()))
    try:
        gens = generate_batch(lm, prompts, max_new_tokens=5, **kw)
    finally:
        h.remove()
    return [g.answer_ids for g in gens], seen


@pytest.mark.parametrize("kind", KINDS)
def test_edits_act_during_generation_and_noop_is_exact(tiny, kind):
    prompts = [tuple(tiny.tokenizer(t).input_ids) for t in TEXTS]
    clean_ids, clean = _generate_records(tiny, prompts)
    if kind in NOOP:
        with make_edit(tiny, kind, NOOP[kind]):
            ids, rec = _generate_records(tiny, prompts)
        assert ids == clean_ids and all(torch.equal(a, b) for a, b in zip(rec, clean, strict=True))
    with make_edit(tiny, kind, STRONG[kind]):
        _, rec = _generate_records(tiny, prompts)
    moved = [r.shape != c.shape or not torch.allclose(r, c, atol=1e-4) for r, c in zip(rec, clean, strict=False)]
    # the prompt's first token-yielding pass moved (pass 0 is the shared prefix, left alone by decode-scoped
    # edits), and so did a later pass (the KV cache or the edit itself carries it into decoding)
    assert moved[0] or moved[1], moved
    assert any(moved[1:]), moved


# --- neurons -----------------------------------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(alpha=st.floats(-4, 4, allow_nan=False))
def test_neuron_scaling_touches_only_the_listed_columns(tiny, alpha):
    ids = ids_of(tiny)
    for layer in (0, 1):
        down = tiny.sites.down_proj(layer)
        # `before` is registered ahead of the edit's hook, `after` behind it: same pass, before and after
        with capture(down) as before, scale_neurons(tiny, NEURONS, alpha), capture(down) as after:
            forward(tiny, ids)
        cols = [i for L, i in NEURONS if layer == L]
        rest = [j for j in range(tiny.sites.d_mlp) if j not in cols]
        assert torch.equal(after[0][..., rest], before[0][..., rest])
        torch.testing.assert_close(after[0][..., cols], alpha * before[0][..., cols], rtol=1e-6, atol=1e-7)


def test_neuron_ablation_equals_zeroing_down_proj_columns():
    lm = build_tiny_gemma(seed=0)
    ids = ids_of(lm)
    with scale_neurons(lm, NEURONS, 0.0):
        ablated = forward(lm, ids)
    with torch.no_grad():
        for layer, i in NEURONS:
            lm.sites.down_proj(layer).weight[:, i] = 0
    torch.testing.assert_close(ablated, forward(lm, ids), rtol=1e-5, atol=1e-6)


def test_neuron_range_errors_name_the_pair(tiny):
    with pytest.raises(ValueError, match=r"\(2, 0\).*layers are 0\.\.1"):
        scale_neurons(tiny, [(2, 0)], 0.0)
    with pytest.raises(ValueError, match=r"\(0, 64\).*indices 0\.\.63"):
        scale_neurons(tiny, [(0, 64)], 0.0)


# --- directions --------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["tiny", "tiny_mm"])
def test_direction_add_at_the_last_layer_matches_a_hand_computation(which, request):
    lm = request.getfixturevalue(which)
    ids, last = ids_of(lm), lm.sites.n_layers - 1
    d = _vec(lm.sites.d_model, 3)
    with capture(lm.sites.layers[last], pre=False) as h:
        forward(lm, ids)
    with steer_direction(lm, last, d, 2.5):
        steered = forward(lm, ids)
    by_hand = lm.sites.backbone.norm(h[0] + 2.5 * torch.tensor(d, dtype=torch.float32))
    torch.testing.assert_close(steered, by_hand, rtol=1e-5, atol=1e-5)


@settings(max_examples=10, deadline=None)
@given(alpha=st.floats(-2, 2, allow_nan=False))
def test_direction_ablation_scales_only_the_component_along_u(tiny, alpha):
    ids = ids_of(tiny)
    d = _vec(tiny.sites.d_model, 4)
    u = torch.tensor(d / np.linalg.norm(d), dtype=torch.float32)
    with capture(tiny.sites.layers[0], pre=False) as clean:
        forward(tiny, ids)
    with steer_direction(tiny, 0, d, alpha, mode="ablate"), capture(tiny.sites.layers[0], pre=False) as out:
        forward(tiny, ids)
    h, e = clean[0], out[0]
    torch.testing.assert_close(e @ u, (1 - alpha) * (h @ u), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(e - (e @ u)[..., None] * u, h - (h @ u)[..., None] * u, rtol=1e-4, atol=1e-5)


def test_diff_of_means_and_direction_checks(tiny):
    pos, neg = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[0.0, 0.0]])
    np.testing.assert_allclose(diff_of_means(pos, neg), [2.0, 3.0])
    with pytest.raises(ValueError, match="NaN"):
        diff_of_means(np.array([[np.nan, 1.0]]), neg)
    with pytest.raises(ValueError, match=r"shape \(32,\)"):
        steer_direction(tiny, 0, np.ones(5), 1.0)
    with pytest.raises(ValueError, match="layer 9"):
        steer_direction(tiny, 9, np.ones(32), 1.0)


# --- ITI ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["tiny", "tiny_mm"])
def test_iti_shift_moves_only_the_chosen_head_slices_and_o_proj_by_w_o(which, request):
    lm = request.getfixturevalue(which)
    ids, hd = ids_of(lm), lm.sites.head_dim
    dirs, sig = _iti_params(lm)
    o_proj = lm.sites.o_proj(0)
    with capture(o_proj) as x_clean, capture(o_proj, pre=False) as y_clean:
        forward(lm, ids)
    with iti_shift(lm, HEADS, dirs, sig, 3.0), capture(o_proj) as x_new, capture(o_proj, pre=False) as y_new:
        forward(lm, ids)
    delta = torch.tensor(3.0 * sig[0] * dirs[0], dtype=torch.float32)  # head (0, 1)
    torch.testing.assert_close(x_new[0][..., :hd], x_clean[0][..., :hd], rtol=0, atol=0)  # head 0 untouched
    torch.testing.assert_close(x_new[0][..., hd:], x_clean[0][..., hd:] + delta)
    W_o = o_proj.weight.detach()  # [d_model, n_heads * head_dim]
    torch.testing.assert_close(y_new[0], y_clean[0] + W_o[:, hd:2 * hd] @ delta, rtol=1e-5, atol=1e-5)


def test_iti_generated_scope_in_forward_scoring_shifts_the_last_position_only(tiny):
    ids = ids_of(tiny)
    dirs, sig = _iti_params(tiny)
    with capture(tiny.sites.o_proj(0)) as clean:
        forward(tiny, ids)
    with iti_shift(tiny, HEADS, dirs, sig, 3.0, scope="generated"), capture(tiny.sites.o_proj(0)) as new:
        forward(tiny, ids)
    moved = (new[0] != clean[0]).any(-1)  # [B, T]
    assert moved[:, -1].all() and not moved[:, :-1].any()


def _shift_records(lm, prompt, share_prefix: bool = True, **kw):
    """Per pass of one generation: (decode_step(), [B, T] mask of the positions whose o_proj(0) input the
    shift moved), and the backbone's last hidden state per pass."""
    dirs, sig = _iti_params(lm)
    o_proj = lm.sites.o_proj(0)
    steps: list[int | None] = []
    h = o_proj.register_forward_pre_hook(lambda _m, _a: steps.append(decode_step()))
    try:
        with capture(o_proj) as before, iti_shift(lm, HEADS, dirs, sig, 3.0, **kw), capture(o_proj) as after:
            prompts = [prompt] if isinstance(prompt[0], int) else list(prompt)
            _, hidden = _generate_records(lm, prompts, share_prefix=share_prefix)
    finally:
        h.remove()
    assert len(steps) >= 3, "the tiny model stopped before two decoding steps; pick another prompt"
    return [(s, (a != b).any(-1)) for s, b, a in zip(steps, before, after, strict=True)], hidden


@pytest.mark.parametrize(("scope", "first_n"), [("all", None), ("generated", None), ("generated", 1),
                                                ("generated", 2)])
def test_iti_scope_and_first_n_during_generation(tiny, scope, first_n):
    prompt = tuple(tiny.tokenizer(TEXTS[0]).input_ids)
    records, _ = _shift_records(tiny, prompt, scope=scope, first_n=first_n)
    assert [s for s, _ in records] == [None, *range(1, len(records))]
    for step, moved in records:
        if scope == "all":
            expected = torch.ones_like(moved)
        elif step is None:  # prefill: its last position yields generated token 0
            expected = torch.zeros_like(moved)
            expected[:, -1] = True
        else:  # decoding pass yielding generated token `step`
            expected = torch.full_like(moved, first_n is None or step < first_n)
        assert torch.equal(moved, expected), (step, moved)


def test_iti_generated_scope_leaves_the_shared_prefix_pass_alone(tiny):
    prompts = [tuple(tiny.tokenizer(t).input_ids) for t in TEXTS]  # common prefix "<bos>Q: "
    records, _ = _shift_records(tiny, prompts, scope="generated")
    assert records[0][1].shape[0] == 1  # the prefix pass ran (batch size 1) ...
    assert not records[0][1].any()  # ... and yields no generated token, so nothing in it may move


def test_iti_generated_scope_skips_a_pass_marked_as_yielding_no_token(tiny):
    ids = ids_of(tiny)
    dirs, sig = _iti_params(tiny)
    with capture(tiny.sites.o_proj(0)) as before, iti_shift(tiny, HEADS, dirs, sig, 3.0, scope="generated"), \
            capture(tiny.sites.o_proj(0)) as after, decoding_step(-1):
        forward(tiny, ids)
    assert torch.equal(before[0], after[0])


def test_iti_first_n_changes_only_later_tokens(tiny):
    prompt = tuple(tiny.tokenizer(TEXTS[0]).input_ids)
    _, h_all = _shift_records(tiny, prompt, scope="generated")
    _, h_one = _shift_records(tiny, prompt, scope="generated", first_n=1)
    assert torch.equal(h_all[0], h_one[0])  # the prefill (token 0) is edited the same way
    assert not torch.equal(h_all[1], h_one[1])  # token 1 is edited only without first_n


def test_iti_checks_heads_and_shapes(tiny):
    dirs, sig = _iti_params(tiny)
    with pytest.raises(ValueError, match=r"\(0, 2\).*heads 0\.\.1"):
        iti_shift(tiny, [(0, 2), (1, 0)], dirs, sig, 1.0)
    with pytest.raises(ValueError, match="duplicate"):
        iti_shift(tiny, [(0, 1), (0, 1)], dirs, sig, 1.0)
    with pytest.raises(ValueError, match="directions"):
        iti_shift(tiny, HEADS, dirs[:, :3], sig, 1.0)
    with pytest.raises(ValueError, match="first_n"):
        iti_shift(tiny, HEADS, dirs, sig, 1.0, scope="all", first_n=2)
    before = hook_count(tiny)
    with iti_shift(tiny, HEADS, dirs, sig, 5.0, scope="generated", first_n=0):
        assert hook_count(tiny) == before


@pytest.mark.parametrize("which", ["tiny", "tiny_mm"])
def test_capture_heads_matches_o_proj_input_and_is_batch_invariant(which, request):
    lm = request.getfixturevalue(which)
    seqs = [lm.tokenizer(t).input_ids for t in TEXTS]
    got = capture_heads(lm, seqs, [-1, 3], batch_size=2)
    for i, (seq, p) in enumerate(zip(seqs, [-1, 3], strict=True)):
        with capture(lm.sites.o_proj(1)) as x:
            lm.sites.backbone(input_ids=torch.tensor([seq]), use_cache=False)
        by_hand = x[0][0, p].reshape(lm.sites.n_heads, lm.sites.head_dim).numpy()
        np.testing.assert_allclose(got[i, 1], by_hand, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(capture_heads(lm, [seq], [p])[0], got[i], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="outside sequence 0"):
        capture_heads(lm, seqs[:1], [99])


def test_fit_iti_finds_the_planted_head():
    rng = np.random.default_rng(0)
    n, layers, heads, hd = 120, 3, 2, 8
    y = np.arange(n) % 2
    acts = rng.standard_normal((n, layers, heads, hd))
    signal = np.zeros(hd)
    signal[2] = 1.0
    acts[:, 2, 1] += 4.0 * y[:, None] * signal  # head (2, 1) separates the labels along e_2
    tr, va = np.arange(0, 80), np.arange(80, n)
    res = fit_iti(acts, y, tr, va, top_k=2, seed=0)
    assert res.heads[0] == (2, 1) and res.val_accuracy[2, 1] > 0.9
    assert res.val_accuracy.shape == (layers, heads) and res.directions.shape == (2, hd)
    assert res.directions[0] @ signal > 0.9 and np.allclose(np.linalg.norm(res.directions, axis=1), 1)
    np.testing.assert_allclose(res.sigmas[0], (acts[tr, 2, 1] @ res.directions[0]).std())
    with pytest.raises(ValueError, match="overlap"):
        fit_iti(acts, y, tr, tr[:10], top_k=1)
    with pytest.raises(StatsError, match="both labels"):
        fit_iti(acts, np.r_[np.zeros(n - 1), 1], tr, va, top_k=1)


# --- SAEs --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["relu", "jumprelu", "topk"])
@pytest.mark.parametrize("b_dec_in", [True, False])
def test_sae_encode_matches_the_formula(activation, b_dec_in):
    sae = random_sae(12, activation)
    sae.apply_b_dec_to_input = b_dec_in
    x = np.random.default_rng(0).standard_normal((5, 12))
    pre = (x - sae.b_dec.numpy() * b_dec_in) @ sae.W_enc.numpy() + sae.b_enc.numpy()
    if activation == "relu":
        f = np.maximum(pre, 0)
    elif activation == "jumprelu":
        f = np.where(pre > sae.threshold.numpy(), np.maximum(pre, 0), 0)
    else:
        keep = np.argsort(-pre, axis=1)[:, :5]
        f = np.zeros_like(pre)
        np.put_along_axis(f, keep, np.maximum(np.take_along_axis(pre, keep, 1), 0), 1)
    got = sae.encode(torch.tensor(x, dtype=torch.float32))
    np.testing.assert_allclose(got.numpy(), f, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sae.decode(got).numpy(), f @ sae.W_dec.numpy() + sae.b_dec.numpy(), atol=1e-5)


@settings(max_examples=10, deadline=None)
@given(alpha=st.floats(-3, 3, allow_nan=False))
def test_sae_delta_mode_adds_alpha_minus_one_times_the_features(tiny, alpha):
    sae = random_sae(tiny.sites.d_model)
    ids = ids_of(tiny)
    with capture(tiny.sites.layers[0], pre=False) as clean:
        forward(tiny, ids)
    with scale_sae_features(tiny, sae, FEATURES, alpha), capture(tiny.sites.layers[0], pre=False) as out:
        forward(tiny, ids)
    h = clean[0]
    f = sae.encode(h)
    assert (f[..., FEATURES] > 0).any()  # the edit is not vacuous
    expected = h + (alpha - 1) * f[..., FEATURES] @ sae.W_dec[FEATURES]
    torch.testing.assert_close(out[0], expected, rtol=1e-5, atol=1e-5)


def test_sae_full_mode_replaces_h_and_is_not_a_noop_at_alpha_one(tiny):
    sae = random_sae(tiny.sites.d_model)
    ids, before = ids_of(tiny), hook_count(tiny)
    with capture(tiny.sites.layers[0], pre=False) as clean:
        forward(tiny, ids)
    with scale_sae_features(tiny, sae, FEATURES, 1.0, mode="full"), \
            capture(tiny.sites.layers[0], pre=False) as out:
        assert hook_count(tiny) > before
        forward(tiny, ids)
    torch.testing.assert_close(out[0], sae.decode(sae.encode(clean[0])))
    assert not torch.allclose(out[0], clean[0], atol=1e-4)  # the SAE error term is dropped


def test_sae_checks_fit_to_the_model(tiny):
    with pytest.raises(ValueError, match="d_model = 32"):
        scale_sae_features(tiny, random_sae(16), [0], 2.0)
    with pytest.raises(ValueError, match="layer 5"):
        scale_sae_features(tiny, random_sae(32, layer=5), [0], 2.0)
    with pytest.raises(ValueError, match=r"\[48\] out of range"):
        scale_sae_features(tiny, random_sae(32), [48], 2.0)


@pytest.mark.parametrize("activation", ["relu", "jumprelu", "topk"])
def test_sae_saelens_round_trip(tmp_path, activation):
    sae = random_sae(12, activation, layer=3)
    save_sae(sae, tmp_path / "sae")
    back = load_sae(tmp_path / "sae")
    for name in ("W_enc", "b_enc", "W_dec", "b_dec", "threshold"):
        a, b = getattr(sae, name), getattr(back, name)
        assert (a is None and b is None) or torch.equal(a, b)
    assert (back.activation, back.k, back.hook_name, back.apply_b_dec_to_input, back.metadata) == \
        (activation, sae.k, "blocks.3.hook_resid_post", True, {"note": "test"})
    cfg = json.loads((tmp_path / "sae" / "cfg.json").read_text())
    assert cfg["d_sae"] == 48 and cfg["hook_name"] == "blocks.3.hook_resid_post"


def test_sae_loads_saelens_6_config_layout(tmp_path):
    sae = random_sae(12, "topk")
    save_sae(sae, tmp_path)
    cfg = {"architecture": "topk", "d_in": 12, "d_sae": 48, "k": 5, "dtype": "float32",
           "apply_b_dec_to_input": True, "normalize_activations": "none",
           "meta": {"hook_name": "blocks.1.hook_resid_post", "sae_lens_version": "6.12.1"}}
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    back = load_sae(tmp_path)
    assert (back.activation, back.k, back.hook_name) == ("topk", 5, "blocks.1.hook_resid_post")


@pytest.mark.parametrize("key_case", ["W_", "w_"])
def test_sae_loads_gemma_scope_params(tmp_path, key_case):
    sae = random_sae(12, "jumprelu")
    arrays = {f"{key_case}enc": sae.W_enc.numpy(), f"{key_case}dec": sae.W_dec.numpy(), "b_enc": sae.b_enc.numpy(),
              "b_dec": sae.b_dec.numpy(), "threshold": sae.threshold.numpy()}
    np.savez(tmp_path / "params.npz", **arrays)
    with pytest.raises(DataError, match="hook_name"):
        load_sae(tmp_path)
    back = load_sae(tmp_path, hook_name="blocks.2.hook_resid_post")
    assert back.activation == "jumprelu" and not back.apply_b_dec_to_input
    assert torch.equal(back.W_enc, sae.W_enc) and torch.equal(back.threshold, sae.threshold)
    (tmp_path / "harness_sae.json").write_text(json.dumps({"hook_name": "blocks.4.hook_resid_post"}))
    assert load_sae(tmp_path).hook_name == "blocks.4.hook_resid_post"
    x = torch.randn(3, 12)
    pre = x @ sae.W_enc + sae.b_enc  # Gemma Scope: no b_dec subtraction
    torch.testing.assert_close(back.encode(x), torch.relu(pre) * (pre > sae.threshold))


def test_sae_load_errors_name_the_file_and_the_fix(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_sae(tmp_path / "nope")
    with pytest.raises(DataError, match=r"holds no SAE.*cfg\.json"):
        load_sae(tmp_path)
    save_sae(random_sae(12), tmp_path / "a")
    (tmp_path / "a" / "sae_weights.safetensors").unlink()
    with pytest.raises(DataError, match=r"no sae_weights\.safetensors"):
        load_sae(tmp_path / "a")
    sae = random_sae(12, "jumprelu")
    np.savez(tmp_path / "params.npz", W_enc=sae.W_enc.numpy(), W_dec=sae.W_dec.numpy(), b_enc=sae.b_enc.numpy(),
             b_dec=sae.b_dec.numpy())
    with pytest.raises(DataError, match=r"lacks the SAE weights \['threshold'\]"):
        load_sae(tmp_path, hook_name="blocks.0.hook_resid_post")
    np.savez(tmp_path / "params.npz", W_enc=sae.W_enc.numpy(), W_dec=sae.W_dec.numpy()[:, :5],
             b_enc=sae.b_enc.numpy(), b_dec=sae.b_dec.numpy(), threshold=sae.threshold.numpy())
    with pytest.raises(DataError, match=r"W_dec has shape \(48, 5\); expected \(48, 12\)"):
        load_sae(tmp_path, hook_name="blocks.0.hook_resid_post")
    save_sae(random_sae(12), tmp_path / "b")
    cfg = json.loads((tmp_path / "b" / "cfg.json").read_text())
    (tmp_path / "b" / "cfg.json").write_text(json.dumps({**cfg, "normalize_activations": "layer_norm"}))
    with pytest.raises(DataError, match="normalize_activations"):
        load_sae(tmp_path / "b")


def planted_dictionary(seed: int = 0, n: int = 6000, d: int = 24, atoms: int = 32,
                       active: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Tokens = 3 of 32 unit atoms in 24-d (2x overcomplete) with exponential weights, scaled and offset."""
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((atoms, d))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    idx = np.stack([rng.choice(atoms, active, replace=False) for _ in range(n)])
    c = rng.exponential(1.0, (n, active)) + 0.5
    X = np.einsum("nk,nkd->nd", c, D[idx]) + 0.01 * rng.standard_normal((n, d))
    return (7 * X + 3).astype(np.float32), D


def test_train_sae_recovers_a_planted_dictionary():
    X, D = planted_dictionary()
    sae, m = train_sae(X, 64, 4, hook_name="blocks.0.hook_resid_post", steps=500, batch_size=256, seed=0)
    # Any 4-dim linear code leaves ~60% of the variance (PCA below); a sparse code over the right atoms
    # leaves only noise, so FVU < 0.1 can only come from finding the dictionary.
    sv = np.linalg.svd(X - X.mean(0), compute_uv=False) ** 2
    assert sv[4:].sum() / sv.sum() > 0.5
    assert m["fvu"] < 0.1 and m["l0"] <= 4 and 0 <= m["dead_fraction"] < 0.5
    cos = (D @ sae.W_dec.numpy().T).max(1)  # best-matching feature per atom
    assert (cos > 0.9).mean() >= 0.9
    np.testing.assert_allclose(np.linalg.norm(sae.W_dec.numpy(), axis=1), 1, atol=1e-5)


def test_train_sae_is_deterministic_per_seed():
    X, _ = planted_dictionary(n=600)
    a, ma = train_sae(X, 32, 3, hook_name="blocks.0.hook_resid_post", steps=20, batch_size=64, seed=1)
    b, mb = train_sae(X, 32, 3, hook_name="blocks.0.hook_resid_post", steps=20, batch_size=64, seed=1)
    c, _ = train_sae(X, 32, 3, hook_name="blocks.0.hook_resid_post", steps=20, batch_size=64, seed=2)
    assert torch.equal(a.W_dec, b.W_dec) and torch.equal(a.b_enc, b.b_enc) and ma["fvu"] == mb["fvu"]
    assert not torch.equal(a.W_dec, c.W_dec)
    with pytest.raises(StatsError, match="NaN"):
        train_sae(np.full((50, 4), np.nan), 8, 2, hook_name="blocks.0.hook_resid_post")


# --- site captures -----------------------------------------------------------------------------------

X_IN = FeatureInput(prompt_ids=(2, 10, 11, 12, 13), response_ids=(20, 21, 5), answer_span=(0, 2),
                    question_span=(1, 4))
Y_IN = FeatureInput(prompt_ids=(2, 10, 11), response_ids=(30, 5), answer_span=(0, 1), question_span=(1, 2))


@pytest.mark.parametrize("which", ["tiny", "tiny_mm"])
def test_capture_site_means_matches_hooks_by_hand_and_batching(which, request):
    lm = request.getfixturevalue(which)
    sites = ["blocks.0.hook_resid_post", "blocks.1.hook_resid_post"]
    got = capture_site_means(lm, [X_IN, Y_IN], sites, batch_size=2)
    ids = torch.tensor([list(X_IN.prompt_ids) + list(X_IN.response_ids)])
    with capture(lm.sites.layers[1], pre=False) as h:
        lm.sites.backbone(input_ids=ids, use_cache=False)
    np.testing.assert_allclose(got[0, 1], h[0][0, [5, 6]].mean(0).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(capture_site_means(lm, [Y_IN], sites)[0], got[1], rtol=1e-5, atol=1e-6)


def test_capture_site_means_transform_is_per_token_and_empty_region_is_nan(tiny):
    sae = random_sae(tiny.sites.d_model)
    site = ["blocks.0.hook_resid_post"]
    feats = capture_site_means(tiny, [X_IN], site, transform=sae.encode)
    ids = torch.tensor([list(X_IN.prompt_ids) + list(X_IN.response_ids)])
    with capture(tiny.sites.layers[0], pre=False) as h:
        tiny.sites.backbone(input_ids=ids, use_cache=False)
    np.testing.assert_allclose(feats[0, 0], sae.encode(h[0][0, [5, 6]]).mean(0).numpy(), rtol=1e-5, atol=1e-6)
    z = capture_site_means(tiny, [X_IN], ["blocks.1.mlp.down_proj.in"], region="output")
    assert z.shape == (1, 1, tiny.sites.d_mlp) and np.isfinite(z).all()
    empty = FeatureInput(prompt_ids=(2, 10), response_ids=(20,), answer_span=(0, 0), question_span=(1, 2))
    assert np.isnan(capture_site_means(tiny, [empty], site)).all()
    with pytest.raises(ValueError, match="different widths"):
        capture_site_means(tiny, [X_IN], ["blocks.0.hook_resid_post", "blocks.0.mlp.down_proj.in"])


def test_edits_run_in_bfloat16_and_keep_the_dtype():
    lm = build_tiny_gemma(seed=0)
    lm.model.to(torch.bfloat16)
    lm.dtype = torch.bfloat16
    ids = ids_of(lm)
    clean = forward(lm, ids)
    for kind in KINDS:
        with make_edit(lm, kind, STRONG[kind]):
            out = forward(lm, ids)
        assert out.dtype == torch.bfloat16 and not torch.equal(out, clean), kind
    with scale_neurons(lm, NEURONS, 1.0):
        assert torch.equal(forward(lm, ids), clean)
    feats = capture_site_means(lm, [X_IN], ["blocks.0.hook_resid_post"], transform=random_sae(32).encode)
    assert feats.dtype == np.float32 and np.isfinite(feats).all()


def test_grouped_conditions_score_like_one_condition_at_a_time(tiny):
    """Several neuron scalings in one batched pass (rows marked with their condition) give each condition the
    outcomes it gets alone: forward-only choice scores and held-out NLL, within float32 tolerance."""
    from harness.benchmarks import load_embedded_counterfactual
    from harness.claims._evaluate import Evaluator, _Text
    from harness.claims._spec_intervention import BenchmarkSpec
    from harness.interventions import scale_neurons, scale_neurons_grouped

    conds = [([(0, 3), (1, 7), (1, 9)], 0.0), ([(0, 5), (1, 2)], 3.0), ([(0, 3)], 1.0), ([(1, 1), (1, 60)], -2.0)]
    items = [it for it in load_embedded_counterfactual() if it.best >= 0][:10]
    texts = [_Text(f"t{i}", f"The river {i} runs into the sea near town number {i * 3}.") for i in range(6)]
    for spec, its in ((BenchmarkSpec(kind="counterfactual", metric="target_margin", batch_size=4), items),
                      (BenchmarkSpec(kind="heldout_text", metric="nll", batch_size=4), texts)):
        ev = Evaluator(tiny, spec, its)
        alone = []
        for units, alpha in conds:
            with scale_neurons(tiny, units, alpha):
                alone.append(ev.run())
        with scale_neurons_grouped(tiny, conds):
            grouped = ev.run_grouped(len(conds))
        assert grouped.shape == (len(conds), len(its))
        np.testing.assert_allclose(grouped, np.stack(alone), rtol=1e-4, atol=1e-4)
        assert not np.allclose(alone[0], alone[2])  # the conditions differ, so rows really got their own edit


def test_grouped_edit_refuses_a_pass_without_row_groups(tiny):
    from harness.generate import score_continuations
    from harness.interventions import scale_neurons_grouped

    with scale_neurons_grouped(tiny, [([(0, 1)], 0.0)]), pytest.raises(RuntimeError, match="without row groups"):
        score_continuations(tiny, [([2, 10, 11], [12, 13])])


def test_grouped_sweep_fills_the_outcome_cache_with_what_one_pass_each_gives(tiny, tmp_path, monkeypatch):
    """The intervention sweep of a claim (treatment and control sets at every alpha): conditions computed G
    per batched pass land in the outcome cache under their own keys with the values a sequential run gives,
    and the clean (no-op) condition is left to the ordinary path."""
    from harness.benchmarks import load_embedded_counterfactual
    from harness.claims._edits import Edit
    from harness.claims._evaluate import Evaluator
    from harness.claims._spec_intervention import BenchmarkSpec
    from harness.claims._steering import _dose, _grouped_outcomes, conditions_per_pass
    from harness.interventions import scale_neurons, scale_neurons_grouped
    from harness.store import ArtifactStore

    def edit(units):  # type: ignore[no-untyped-def]
        return Edit("neuron_scaling", [list(u) for u in units], lambda a: scale_neurons(tiny, units, a), 1.0,
                    lambda conds: scale_neurons_grouped(tiny, conds))

    edits = [edit([(0, 3), (1, 7)]), edit([(0, 4), (1, 8)]), edit([(0, 11), (1, 2)])]
    alphas = (0.0, 1.0, 3.0)
    items = [it for it in load_embedded_counterfactual() if it.best >= 0][:8]
    ev = Evaluator(tiny, BenchmarkSpec(kind="counterfactual", metric="target_margin", batch_size=4), items)
    seq, grp = ArtifactStore(tmp_path / "seq"), ArtifactStore(tmp_path / "grp")
    _grouped_outcomes(grp, ev, edits, alphas, per_pass=4)
    stored = [f for f in (tmp_path / "grp" / "outcomes").rglob("*.json") if not f.name.endswith(".meta.json")]
    assert len(stored) == 6  # 3 edits x 2 edited alphas; the no-op is left to the ordinary (shared) path
    for e in edits:
        np.testing.assert_allclose(_dose(grp, ev, e, alphas)[0], _dose(seq, ev, e, alphas)[0], rtol=1e-4, atol=1e-4)
    monkeypatch.setenv("HARNESS_CONDITIONS_PER_PASS", "3")
    assert conditions_per_pass(torch.device("cpu")) == 3
    monkeypatch.setenv("HARNESS_CONDITIONS_PER_PASS", "zero")
    with pytest.raises(Exception, match="not a positive integer"):
        conditions_per_pass(torch.device("cpu"))
