"""CETT features at the input of every ``mlp.down_proj``, averaged over token regions, without the LM head.

CETT_j(t) = |z_j(t)| * ||W_down[:, j]||_2 / ||down_proj(z(t))||_2, where z(t) is the d_mlp input of
``down_proj`` at token t: neuron j's share of the MLP output's norm at that token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from harness.models import LoadedModel, temporary_hooks

REGIONS = ("answer", "output", "non_answer")
"""answer: the answer span; output: every generated token incl. the stop token; non_answer: the question's
tokens plus generated tokens outside the answer span (negatives of the paper's 3-vs-1 mode)."""


@dataclass(frozen=True)
class FeatureInput:
    """One teacher-forced sequence: prompt ids, then generated ids, with the regions as position spans."""

    prompt_ids: tuple[int, ...]
    response_ids: tuple[int, ...]
    """Generated tokens, stop token included when there was one."""
    answer_span: tuple[int, int]
    """[start, end) of the answer inside response_ids."""
    question_span: tuple[int, int]
    """[start, end) of the question inside prompt_ids."""

    def region_positions(self, region: str) -> list[int]:
        p = len(self.prompt_ids)
        a0, a1 = self.answer_span
        if region == "answer":
            return list(range(p + a0, p + a1))
        if region == "output":
            return list(range(p, p + len(self.response_ids)))
        if region == "non_answer":
            q0, q1 = self.question_span
            rest = [p + i for i in range(len(self.response_ids)) if not a0 <= i < a1]
            return list(range(q0, q1)) + rest
        raise KeyError(f"Unknown region {region!r}; known: {REGIONS}")


def answer_span(answer_ids: Sequence[int], tokenizer: Any) -> tuple[int, int]:
    """Span of the answer tokens by id: the generated tokens minus whitespace-only tokens at either edge."""
    texts = [tokenizer.decode([t]) for t in answer_ids]
    start, end = 0, len(answer_ids)
    while start < end and not texts[start].strip():
        start += 1
    while end > start and not texts[end - 1].strip():
        end -= 1
    return start, end


def _cett_hooks(lm: LoadedModel, col_norms: list[torch.Tensor], weights: torch.Tensor,
                captured: dict[int, torch.Tensor]) -> tuple[list[Any], list[Any]]:
    """Hooks that reduce each layer's CETT to region means inside the pass ([B, T, d_mlp] never kept)."""
    z_in: dict[int, torch.Tensor] = {}
    pre, post = [], []
    for layer in range(lm.sites.n_layers):
        def save_input(_m: Any, args: tuple[Any, ...], layer: int = layer) -> None:
            z_in[layer] = args[0]

        def reduce(_m: Any, _args: Any, output: torch.Tensor, layer: int = layer) -> None:
            z = z_in.pop(layer).float()  # [B, T, d_mlp]
            denom = output.float().norm(dim=-1, keepdim=True).clamp_min(1e-12)  # [B, T, 1]
            cett = z.abs() * col_norms[layer] / denom  # [B, T, d_mlp]
            captured[layer] = torch.einsum("brt,btj->brj", weights, cett)  # [B, R, d_mlp]

        module = lm.sites.down_proj(layer)
        pre.append((module, save_input))
        post.append((module, reduce))
    return pre, post


@torch.inference_mode()
def capture_cett(
    lm: LoadedModel,
    inputs: Sequence[FeatureInput],
    regions: Sequence[str] = REGIONS,
    batch_size: int = 16,
) -> np.ndarray:
    """CETT features averaged over each region.

    Returns:
        float32 array [n_inputs, n_regions, n_layers * d_mlp]; feature index = layer * d_mlp + neuron.
        A region with no tokens for an input is NaN (the caller decides; never silently zero).
    """
    sites = lm.sites
    n_layers, d_mlp = sites.n_layers, sites.d_mlp
    # ||W_down[:, j]||: W_down is [d_model, d_mlp], column j writes neuron j into the residual stream.
    col_norms = [sites.down_proj(layer).weight.float().norm(dim=0) for layer in range(n_layers)]
    out = np.full((len(inputs), len(regions), n_layers * d_mlp), np.nan, dtype=np.float32)
    order = sorted(range(len(inputs)), key=lambda i: len(inputs[i].prompt_ids) + len(inputs[i].response_ids))
    for b0 in range(0, len(order), batch_size):
        idx = order[b0:b0 + batch_size]
        batch = [inputs[i] for i in idx]
        seqs = [list(x.prompt_ids) + list(x.response_ids) for x in batch]
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), int(lm.tokenizer.pad_token_id), dtype=torch.long)
        mask = torch.zeros_like(ids)
        # region weights [B, R, T]: 1/|region| on the region's positions (right padding keeps positions)
        weights = torch.zeros((len(seqs), len(regions), width))
        for b, (s, x) in enumerate(zip(seqs, batch, strict=True)):
            ids[b, :len(s)] = torch.tensor(s)
            mask[b, :len(s)] = 1
            for r, region in enumerate(regions):
                pos = x.region_positions(region)
                if pos:
                    weights[b, r, pos] = 1.0 / len(pos)
        weights = weights.to(lm.device)
        empty = (weights.sum(-1) == 0).cpu().numpy()  # [B, R]
        captured: dict[int, torch.Tensor] = {}
        pre, post = _cett_hooks(lm, col_norms, weights, captured)
        with temporary_hooks(pre=pre, post=post):
            sites.backbone(input_ids=ids.to(lm.device), attention_mask=mask.to(lm.device), use_cache=False)
        feats = torch.cat([captured[layer] for layer in range(n_layers)], dim=-1).cpu().numpy()
        feats[empty] = np.nan
        out[idx] = feats
    return out
