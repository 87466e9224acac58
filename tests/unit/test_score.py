"""Forward-only scoring equals the log-softmax of the full model's logits, whatever the batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.generate import encode_continuation, score_continuations


def _manual(lm, prompt, cont):
    ids = torch.tensor([list(prompt) + list(cont)])
    logits = lm.model(input_ids=ids).logits[0].float()
    lp = torch.log_softmax(logits, -1)
    return sum(float(lp[len(prompt) + i - 1, t]) for i, t in enumerate(cont))


@pytest.mark.parametrize("which", ["tiny", "tiny_mm"])
def test_score_matches_full_model_logits(which, request):
    lm = request.getfixturevalue(which)
    tok = lm.tokenizer
    bos = [tok.bos_token_id]
    pairs = [(bos + tok("Q: abc\nA:", add_special_tokens=False).input_ids, encode_continuation(tok, "xy")),
             (bos + tok("Q: a\nA:", add_special_tokens=False).input_ids, encode_continuation(tok, "longer one")),
             (bos, encode_continuation(tok, "z"))]
    got, n = score_continuations(lm, pairs, batch_size=2)
    want = [_manual(lm, p, c) for p, c in pairs]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    assert n.tolist() == [len(c) for _, c in pairs]
    alone = [score_continuations(lm, [pr], batch_size=1)[0][0] for pr in pairs]
    np.testing.assert_allclose(got, alone, rtol=1e-5, atol=1e-5)


def test_score_rejects_empty_continuation(tiny):
    with pytest.raises(ValueError, match="continuation"):
        score_continuations(tiny, [([2], [])])


@pytest.mark.parametrize("which", ["tiny", "tiny_mm"])
def test_score_choices_matches_separate_passes(which, request):
    from harness.generate import score_choices

    lm = request.getfixturevalue(which)
    tok = lm.tokenizer
    bos = [tok.bos_token_id]
    prompts = [bos + tok("Context: q is r.\nA:", add_special_tokens=False).input_ids,
               bos + tok("Q: b\nA:", add_special_tokens=False).input_ids]
    choices = [[encode_continuation(tok, t) for t in ("r", "s t", "uvw")],
               [encode_continuation(tok, t) for t in ("no", "yes please")]]
    got = score_choices(lm, prompts, choices, batch_size=2)
    for p, cs, g in zip(prompts, choices, got, strict=True):
        want, _ = score_continuations(lm, [(p, c) for c in cs], batch_size=4)
        np.testing.assert_allclose(g, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("multimodal", [False, True])
def test_kept_prefix_gives_the_same_scores(multimodal):
    """A judge's rubric prefix kept across calls (PrefixKV) scores exactly as prefilling every prompt whole,
    is cropped to what the calls share, and is bypassed while an edit (a forward hook) is active."""
    from harness.generate import score_choices
    from harness.generate._decode import PrefixKV
    from harness.models import build_tiny_gemma

    lm = build_tiny_gemma(multimodal=multimodal, sliding_window=256)  # the prompts fit the window
    tok = lm.tokenizer
    bos = [tok.bos_token_id]
    rubric = "Grade the answer as correct or incorrect. Be strict about names and numbers.\n"
    prompts = [bos + tok(rubric + f"Q: {q}\nA: {a}\nGrade:", add_special_tokens=False).input_ids
               for q, a in [("abc", "x"), ("capital of France", "Paris"), ("2+2", "five")]]
    choices = [encode_continuation(tok, c) for c in ("correct", "incorrect")]
    kept = PrefixKV()
    with_prefix = [score_choices(lm, [p], [choices], prefix=kept)[0] for p in prompts]
    plain = [score_choices(lm, [p], [choices])[0] for p in prompts]
    np.testing.assert_allclose(with_prefix, plain, rtol=1e-5, atol=1e-5)
    assert kept.stores == 1 and kept.hits == 2
    assert kept.ids == tuple(prompts[0][:len(kept.ids)]) and len(kept.ids) >= len(rubric) - 2
    assert all(tuple(p[:len(kept.ids)]) == kept.ids for p in prompts)
    # a prompt sharing too little replaces the kept prefix
    other = bos + tok("Something else entirely, a different rubric.\nGrade:", add_special_tokens=False).input_ids
    np.testing.assert_allclose(score_choices(lm, [other], [choices], prefix=kept)[0],
                               score_choices(lm, [other], [choices])[0], rtol=1e-5, atol=1e-5)
    assert kept.stores == 2
    # under an edit the kept (unedited) states must not be used
    layer = lm.sites.layers[0]
    handle = layer.register_forward_hook(lambda m, a, out: (out[0] * 0.5, *out[1:]) if isinstance(out, tuple)
                                         else out * 0.5)
    try:
        edited = score_choices(lm, [prompts[1]], [choices], prefix=kept)[0]
        edited_plain = score_choices(lm, [prompts[1]], [choices])[0]
    finally:
        handle.remove()
    np.testing.assert_allclose(edited, edited_plain, rtol=1e-5, atol=1e-5)
    assert not np.allclose(edited, plain[1], atol=1e-3)
    assert kept.stores == 2 and kept.hits == 2


def test_kept_prefix_is_not_used_beyond_the_sliding_window(tiny):
    """Sliding-window layers count the padding inside the window: a prompt longer than the window is
    prefilled whole (the tiny model's window is 32 tokens)."""
    from harness.generate import score_choices
    from harness.generate._decode import PrefixKV

    tok = tiny.tokenizer
    text = tok("A rubric much longer than thirty-two characters. Grade:", add_special_tokens=False).input_ids
    prompt = [tok.bos_token_id, *text]
    kept = PrefixKV()
    choices = [encode_continuation(tok, "yes"), encode_continuation(tok, "no")]
    got = score_choices(tiny, [prompt], [choices], prefix=kept)[0]
    np.testing.assert_allclose(got, score_choices(tiny, [prompt], [choices])[0], rtol=1e-6)
    assert kept.stores == 0 and kept.hits == 0
