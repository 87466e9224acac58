"""Exact top-k of a float32 LM head through a certified bfloat16 screen.

Decoding needs only the k largest logits of each row (greedy: k = 1; top-k sampling: k = top_k, and the
top-p cut and the softmax are taken over those k). On a CPU with bfloat16 instructions a bf16 matrix product
over the 262k-token head is about 8x faster than the float32 one, but its logits are off by up to a few
hundredths. The screen therefore only *selects*:

1. approximate logits ``a = bf16(h) @ bf16(W)^T`` (bf16 output) for every token;
2. the M tokens with the largest ``a`` are candidates; their logits are recomputed exactly in float32;
3. the row is *certified* when no other token can beat the k-th exact candidate logit: every token's error
   is bounded by ``c * ||h|| * max_i ||W_i|| + 2u|a_i|`` (u = 2^-8, the bf16 unit roundoff; c = 3u + d 2^-23
   covers the rounding of h and W, the float32 accumulation of d products and the bf16 output), and
   ``a_i + 2u|a_i|`` is increasing in ``a_i``, so the bound over all non-candidates is the bound at the
   largest non-candidate ``a``;
4. rows that are not certified get the full float32 head.

The result is the float32 top-k (indices and values) up to the order of float32 summation: the candidates'
logits are dot products of their own, so they can differ from a GEMM's in the last bit, as GEMMs of different
batch shapes do from each other. Exact ties between float32 logits may break differently.
"""

from __future__ import annotations

import os
from typing import Any

import torch

U_BF16 = 2.0**-8
"""Unit roundoff of bfloat16 (8 significant bits), taken conservatively."""

class ScreenedHead:
    """Top-k of ``hidden @ weight.T`` (weight float32 [vocab, d]) through a certified bf16 screen."""

    def __init__(self, weight: torch.Tensor):
        self.weight = weight
        self.weight_bf16 = weight.to(torch.bfloat16)
        self.max_row_norm = float(weight.norm(dim=1).max())
        self.coef = 3 * U_BF16 + weight.shape[1] * 2.0**-23
        self.rows_screened = 0
        self.rows_full = 0

    def n_candidates(self, k: int) -> int:
        return max(64, 5 * k)

    @torch.inference_mode()
    def topk(self, hidden: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(values, indices), each [B, k], sorted by value descending; values in float32."""
        vocab = self.weight.shape[0]
        m = self.n_candidates(k)
        h = hidden.float()
        if m + 1 >= vocab:  # a small vocabulary: nothing to screen
            self.rows_full += h.shape[0]
            return torch.topk(h @ self.weight.T, k=min(k, vocab), dim=-1)
        approx = h.to(torch.bfloat16) @ self.weight_bf16.T  # [B, vocab], bf16
        top_a, cand = torch.topk(approx, k=m + 1, dim=-1)
        cand = cand[:, :m]
        outside = top_a[:, m].float()  # the largest approximate logit outside the candidates
        exact = torch.einsum("bd,bmd->bm", h, self.weight[cand])  # float32 dot products of the candidates
        vals, pos = torch.topk(exact, k=k, dim=-1)
        idx = cand.gather(-1, pos)
        bound = outside + 2 * U_BF16 * outside.abs() + self.coef * h.norm(dim=-1) * self.max_row_norm
        failed = (bound >= vals[:, -1]).nonzero().squeeze(-1)
        if len(failed):
            full_vals, full_idx = torch.topk(h[failed] @ self.weight.T, k=k, dim=-1)
            vals, idx = vals.clone(), idx.clone()
            vals[failed], idx[failed] = full_vals, full_idx
        self.rows_full += len(failed)
        self.rows_screened += h.shape[0] - len(failed)
        return vals, idx


def screen_enabled(weight: torch.Tensor) -> bool:
    """Whether decoding uses the bf16 screen for this head weight.

    ``HARNESS_LM_HEAD_SCREEN``: ``auto`` (default: a float32 head on a CPU whose oneDNN has bf16 kernels),
    ``1`` (always, e.g. to test it) or ``0`` (never: the full float32 head at every step).
    """
    mode = os.environ.get("HARNESS_LM_HEAD_SCREEN", "auto").strip().lower()
    if mode not in ("auto", "0", "off", "false", "no", "1", "on", "true", "yes"):
        raise ValueError(f"HARNESS_LM_HEAD_SCREEN={mode!r} is not a setting. Fix: set it to auto (the default), "
                         "1 (always screen a float32 head) or 0 (always the full float32 head), or unset it.")
    if mode in ("0", "off", "false", "no"):
        return False
    if weight.dtype != torch.float32:
        return False  # a bf16/fp16 head is already the fast path; the screen would add work
    if mode in ("1", "on", "true", "yes"):
        return True
    return weight.device.type == "cpu" and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def screen_for(lm_head: Any) -> ScreenedHead | None:
    """The screen of a linear LM head, or None where it does not apply. It is kept on the module (so it lives
    and dies with the model) and rebuilt when the weight is replaced or modified in place."""
    weight = getattr(lm_head, "weight", None)
    if not isinstance(lm_head, torch.nn.Linear) or lm_head.bias is not None or weight is None:
        return None
    if not screen_enabled(weight):
        return None
    version = (weight.data_ptr(), weight._version, tuple(weight.shape), weight.device.type)
    hit = lm_head.__dict__.get("_harness_screen")
    if hit is None or hit[0] != version:
        hit = (version, ScreenedHead(weight.detach()))
        object.__setattr__(lm_head, "_harness_screen", hit)
    return hit[1]
