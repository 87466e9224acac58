"""Batched decoding with a KV cache: greedy or seeded top-k/top-p sampling, stopping at a newline.

The LM head runs on the last position only. Sampling draws its uniforms from a counter-based hash of
(row key, step), so a row's sample depends on its own key and not on which other rows share its batch:
cached samples stay valid when batches are re-formed on resume.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from harness.models import LoadedModel

_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


@dataclass(frozen=True)
class Generation:
    """One generated answer."""

    answer_ids: tuple[int, ...]
    """Generated tokens before the stop token."""
    stop_id: int | None
    """The newline/EOS token that ended the answer, or None if max_new_tokens was hit."""
    text: str


def _splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        x = (x + np.uint64(0x9E3779B97F4A7C15)) & _M64
        x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _M64
        x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _M64
        return x ^ (x >> np.uint64(31))


def counter_uniforms(row_keys: np.ndarray, step: int) -> np.ndarray:
    """Uniforms in [0, 1), one per row, a pure function of (row key, step)."""
    with np.errstate(over="ignore"):
        x = _splitmix64(row_keys.astype(np.uint64) ^ _splitmix64(np.full_like(row_keys, step, dtype=np.uint64)))
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _sample(logits: torch.Tensor, u: torch.Tensor, temperature: float, top_k: int, top_p: float) -> torch.Tensor:
    """Inverse-CDF sample from the top-k, top-p truncated distribution. logits: [B, V], u: [B]."""
    vals, idx = torch.topk(logits.float() / temperature, k=min(top_k, logits.shape[-1]), dim=-1)  # sorted desc
    probs = torch.softmax(vals, dim=-1)
    cum = probs.cumsum(-1)
    keep = (cum - probs) < top_p  # smallest prefix whose mass reaches top_p (always keeps the top token)
    probs = probs * keep
    cum = probs.cumsum(-1)
    target = (u.to(cum.dtype) * cum[:, -1]).unsqueeze(-1)
    pick = torch.searchsorted(cum, target).clamp_max(probs.shape[-1] - 1)
    return idx.gather(-1, pick).squeeze(-1)


def _logits(lm: LoadedModel, hidden: torch.Tensor) -> torch.Tensor:
    logits = lm.sites.lm_head(hidden)
    cap = lm.sites.final_logit_softcapping
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return logits


@torch.inference_mode()
def generate_batch(
    lm: LoadedModel,
    prompts: list[tuple[int, ...]],
    *,
    max_new_tokens: int = 16,
    greedy: bool = True,
    temperature: float = 1.0,
    top_k: int = 50,
    top_p: float = 0.9,
    row_keys: list[int] | None = None,
) -> list[Generation]:
    """Decode one batch of prompts (token ids, BOS included) until each row emits a stop token.

    Args:
        row_keys: per-row 64-bit keys for the sampling hash; required unless greedy.
    """
    if not greedy and (row_keys is None or len(row_keys) != len(prompts)):
        raise ValueError("Sampling needs one row key per prompt (seed, item, sample index)")
    tok = lm.tokenizer
    device = lm.device
    stop = torch.tensor(lm.newline_token_ids(), device=device)
    pad = int(tok.pad_token_id)
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, p in enumerate(prompts):  # left padding
        ids[i, width - len(p):] = torch.tensor(p)
        mask[i, width - len(p):] = 1
    ids, mask = ids.to(device), mask.to(device)
    keys = np.array(row_keys if row_keys is not None else [0] * len(prompts), dtype=np.uint64)

    from transformers import DynamicCache

    cache = DynamicCache()
    ckw = _cache_kwarg(lm.sites.backbone)
    pos = (mask.cumsum(-1) - 1).clamp_min(0)
    out = lm.sites.backbone(input_ids=ids, attention_mask=mask, position_ids=pos, **{ckw: cache}, use_cache=True)
    hidden = out.last_hidden_state[:, -1]
    next_pos = pos[:, -1] + 1
    done = torch.zeros(len(prompts), dtype=torch.bool, device=device)
    generated: list[torch.Tensor] = []
    for step in range(max_new_tokens):
        logits = _logits(lm, hidden)
        if greedy:
            nxt = logits.argmax(-1)
        else:
            u = torch.from_numpy(counter_uniforms(keys, step)).to(device)
            nxt = _sample(logits, u, temperature, top_k, top_p)
        nxt = torch.where(done, torch.full_like(nxt, pad), nxt)
        generated.append(nxt)
        done = done | torch.isin(nxt, stop)
        if bool(done.all()) or step == max_new_tokens - 1:
            break
        mask = torch.cat([mask, (~done).long().unsqueeze(-1) | 1], dim=-1)
        out = lm.sites.backbone(input_ids=nxt.unsqueeze(-1), attention_mask=mask,
                                position_ids=next_pos.unsqueeze(-1), **{ckw: cache}, use_cache=True)
        hidden = out.last_hidden_state[:, -1]
        next_pos = next_pos + 1
    gen = torch.stack(generated, dim=1).cpu().tolist()
    stop_set = set(lm.newline_token_ids())
    results = []
    for row in gen:
        answer: list[int] = []
        stop_id = None
        for t in row:
            if t in stop_set:
                stop_id = t
                break
            answer.append(t)
        results.append(Generation(tuple(answer), stop_id, tok.decode(answer, skip_special_tokens=True).strip()))
    return results


def _cache_kwarg(backbone: Any) -> str:
    """Name of the KV-cache argument: ``cache`` in newer transformers, ``past_key_values`` before."""
    import inspect

    return "cache" if "cache" in inspect.signature(backbone.forward).parameters else "past_key_values"


def row_key(seed: int, item_id: str, sample_index: int) -> int:
    """64-bit key of one sampled answer: a hash of (seed, item id, sample index)."""
    import hashlib

    digest = hashlib.sha256(f"{seed}\x00{item_id}\x00{sample_index}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


