"""The certified bf16 screen of the LM head: exact float32 top-k, its error bound, and decoding through it."""

from __future__ import annotations

import pytest
import torch

from harness.generate import build_prompt, generate_batch, row_key
from harness.generate._head import U_BF16, ScreenedHead, screen_enabled, screen_for


def _head(vocab: int = 30_000, d: int = 64, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(vocab, d, generator=g) / d**0.5
    return w * (0.5 + torch.rand(vocab, 1, generator=g))  # unequal row norms


@pytest.mark.parametrize("k", [1, 50])
@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_screened_topk_equals_float32_topk(k, scale):
    w = _head()
    h = torch.randn(24, w.shape[1], generator=torch.Generator().manual_seed(1)) * scale
    screen = ScreenedHead(w)
    vals, idx = screen.topk(h, k)
    ref_vals, ref_idx = torch.topk(h @ w.T, k=k, dim=-1)
    assert torch.equal(idx, ref_idx)
    torch.testing.assert_close(vals, ref_vals, rtol=1e-5, atol=1e-5)
    assert screen.rows_screened + screen.rows_full == 24
    assert screen.rows_screened > 0  # random logits are well separated: the screen certifies rows


def test_error_bound_covers_the_bf16_logits():
    """The bound used for certification holds elementwise against the float32 logits."""
    w = _head(vocab=20_000)
    screen = ScreenedHead(w)
    for scale in (0.1, 1.0, 100.0):
        h = torch.randn(16, w.shape[1], generator=torch.Generator().manual_seed(2)) * scale
        approx = (h.to(torch.bfloat16) @ screen.weight_bf16.T).float()
        err = (approx - h @ w.T).abs()
        bound = 2 * U_BF16 * approx.abs() + screen.coef * h.norm(dim=-1, keepdim=True) * screen.max_row_norm
        assert bool((err <= bound).all())
        assert float((err / bound).max()) > 1e-3  # the bound is not vacuous by orders of magnitude


def test_uncertified_rows_fall_back_to_the_full_head():
    """Near-ties within bf16 error cannot be certified: those rows take the float32 head and stay exact."""
    g = torch.Generator().manual_seed(3)
    base = torch.randn(1, 64, generator=g)
    w = torch.cat([base + 1e-2 * torch.randn(400, 64, generator=g), torch.randn(5_000, 64, generator=g)])
    h = torch.cat([base * 3, torch.randn(3, 64, generator=g)])  # row 0: 400 logits within the bf16 bound, far apart in float32
    screen = ScreenedHead(w)
    vals, idx = screen.topk(h, 50)
    ref_vals, ref_idx = torch.topk(h @ w.T, k=50, dim=-1)
    assert torch.equal(idx, ref_idx)
    torch.testing.assert_close(vals, ref_vals)
    assert screen.rows_full >= 1


def test_small_vocabulary_uses_the_full_head():
    w = _head(vocab=100)
    screen = ScreenedHead(w)
    h = torch.randn(4, w.shape[1])
    _vals, idx = screen.topk(h, 50)
    assert torch.equal(idx, torch.topk(h @ w.T, 50).indices)
    assert screen.rows_full == 4 and screen.rows_screened == 0


def test_screen_switch(monkeypatch):
    w = torch.zeros(8, 4)
    monkeypatch.setenv("HARNESS_LM_HEAD_SCREEN", "0")
    assert not screen_enabled(w)
    monkeypatch.setenv("HARNESS_LM_HEAD_SCREEN", "1")
    assert screen_enabled(w)
    assert not screen_enabled(w.to(torch.bfloat16))  # a bf16 head is already the fast path
    monkeypatch.setenv("HARNESS_LM_HEAD_SCREEN", "maybe")
    for weight in (w, w.to(torch.bfloat16)):  # a typo is reported whatever the head's dtype
        with pytest.raises(ValueError, match=r"HARNESS_LM_HEAD_SCREEN='maybe'.*Fix"):
            screen_enabled(weight)


def test_screen_is_rebuilt_when_the_weight_changes(monkeypatch):
    monkeypatch.setenv("HARNESS_LM_HEAD_SCREEN", "1")
    head = torch.nn.Linear(4, 300, bias=False)
    first = screen_for(head)
    assert first is not None and screen_for(head) is first
    with torch.no_grad():
        head.weight.mul_(2.0)
    second = screen_for(head)
    assert second is not None and second is not first
    assert torch.equal(second.weight_bf16, head.weight.detach().to(torch.bfloat16))


@pytest.mark.parametrize("greedy", [True, False])
def test_decoding_through_the_screen_equals_the_full_head(tiny, monkeypatch, greedy):
    """On the tiny model (vocabulary ~100) the candidate count is shrunk so the screen, its certification
    and its fallback all run on real hidden states; the generated tokens must equal the full head's."""
    questions = ["What is the capital of France?", "Who wrote Hamlet?", "2+2?", "Name a colour."]
    prompts = [build_prompt(tiny.tokenizer, q).ids for q in questions for _ in range(3)]
    keys = [row_key(0, str(i), 0) for i in range(len(prompts))]
    kw = dict(max_new_tokens=8, greedy=greedy, row_keys=keys, top_k=20)
    monkeypatch.setenv("HARNESS_LM_HEAD_SCREEN", "0")
    full = generate_batch(tiny, prompts, **kw)
    monkeypatch.setenv("HARNESS_LM_HEAD_SCREEN", "1")
    monkeypatch.setattr(ScreenedHead, "n_candidates", lambda self, k: k + 4)
    screened = generate_batch(tiny, prompts, **kw)
    assert [g.answer_ids for g in screened] == [g.answer_ids for g in full]
    screen = screen_for(tiny.sites.lm_head)
    assert screen is not None and screen.rows_screened > 0  # certified rows decoded through the screen
