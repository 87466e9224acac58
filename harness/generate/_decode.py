"""Batched decoding with a KV cache: greedy or seeded top-k/top-p sampling, stopping at a newline.

The LM head runs on the last position only, and only its top-k is needed: on a CPU a certified bf16 screen
finds it exactly (``_head``). Sampling draws its uniforms from a counter-based hash of
(row key, step), so a row's sample depends on its own key and not on which other rows share its batch:
cached samples stay valid when batches are re-formed on resume.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from harness.generate._head import screen_for
from harness.models import LoadedModel
from harness.models._hooks import decoding_step

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


def _sample(vals: torch.Tensor, idx: torch.Tensor, u: torch.Tensor, temperature: float,
            top_p: float) -> torch.Tensor:
    """Inverse-CDF sample from the top-k, top-p truncated distribution, given the top-k logits ``vals``
    (sorted descending, [B, k]) and their token ids ``idx``; u: [B]."""
    probs = torch.softmax(vals.float() / temperature, dim=-1)
    cum = probs.cumsum(-1)
    keep = (cum - probs) < top_p  # smallest prefix whose mass reaches top_p (always keeps the top token)
    probs = probs * keep
    cum = probs.cumsum(-1)
    target = (u.to(cum.dtype) * cum[:, -1]).unsqueeze(-1)
    pick = torch.searchsorted(cum, target).clamp_max(probs.shape[-1] - 1)
    return idx.gather(-1, pick).squeeze(-1)


def common_prefix_len(prompts: list[tuple[int, ...]]) -> int:
    """Tokens shared by every prompt, leaving at least one token per prompt to prefill."""
    n = min(len(p) for p in prompts) - 1
    first = prompts[0]
    for p in prompts[1:]:
        k = 0
        while k < n and p[k] == first[k]:
            k += 1
        n = k
    return max(n, 0)


class PrefixKV:
    """The KV cache of a token prefix that successive calls share (an LLM judge's rubric instructions), kept
    between calls: a later prompt that starts with it prefills only its own tail.

    The first prompt is stored whole (but its last token); the next one that shares at least ``min_tokens``
    with it crops the store to the shared part, which then stays. A prompt sharing less replaces it. The cache
    holds states of the *unedited* model: it is neither used nor filled while any forward hook is registered
    on the backbone (an intervention). Reused states equal recomputed ones up to float summation order (the
    prefix is encoded at batch size 1, as in ``_prefill``'s few-shot sharing).
    """

    def __init__(self, min_tokens: int = 16) -> None:
        self.min_tokens = min_tokens
        self.ids: tuple[int, ...] = ()
        self.layers: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.hits = 0
        """Calls that reused a prefix stored by an earlier call."""
        self.stores = 0

    def usable(self, prompts: list[tuple[int, ...]]) -> int:
        """Tokens of the stored prefix every prompt starts with, leaving each at least one token; 0 if fewer
        than ``min_tokens``."""
        n = min([len(self.ids)] + [len(p) - 1 for p in prompts])
        for p in prompts:
            k = 0
            while k < n and p[k] == self.ids[k]:
                k += 1
            n = k
        return n if n >= self.min_tokens else 0

    def restore(self, n: int) -> Any:
        """A fresh cache holding the first n stored positions; the store is cropped to them."""
        from transformers import DynamicCache

        if n < len(self.ids):
            self.ids = self.ids[:n]
            self.layers = [(k[:, :, :n], v[:, :, :n]) for k, v in self.layers]
        cache = DynamicCache()
        for i, (k, v) in enumerate(self.layers):
            cache.update(k, v, i)
        return cache

    def store(self, ids: tuple[int, ...], cache: Any) -> None:
        self.ids = ids
        self.layers = [(layer.keys, layer.values) for layer in cache.layers]
        self.stores += 1


def _hooked(module: torch.nn.Module) -> bool:
    """Whether any forward (pre-)hook could change this module's outputs."""
    from torch.nn.modules import module as nn_module

    if nn_module._global_forward_hooks or nn_module._global_forward_pre_hooks:
        return True
    return any(m._forward_hooks or m._forward_pre_hooks for m in module.modules())


def _prefill(lm: LoadedModel, prompts: list[tuple[int, ...]], pad: int, share_prefix: bool,
             max_new_tokens: int, known: PrefixKV | None = None) -> tuple[Any, torch.Tensor, torch.Tensor,
                                                                            torch.Tensor]:
    """Run the prompts once; returns (KV cache, last hidden state [B, d], attention mask, next positions).

    With a shared prefix of P tokens the layout is [prefix | left padding | suffix]: the prefix is encoded
    once at batch size 1 and its cache repeated, the suffixes are prefilled on top. Positions come from the
    mask (cumsum - 1), so each row sees exactly the positions it would see alone. Sliding-window layers
    count padding inside the window, so the prefix is shared only when the whole sequence fits the window.
    With ``known`` (a prefix kept from earlier calls) the prefix comes from it where the prompts start with it,
    and is stored into it otherwise.
    """
    from transformers import DynamicCache

    ckw = _cache_kwarg(lm.sites.backbone)
    config: Any = lm.model.config
    window = getattr(config.get_text_config(), "sliding_window", None)
    fits = not (window and max(len(p) for p in prompts) + max_new_tokens > window)
    if known is not None and fits and not _hooked(lm.sites.backbone):
        n_known = known.usable(prompts)
        if n_known:
            known.hits += 1
        elif len(prompts[0]) - 1 >= known.min_tokens:  # store it; later prompts crop it to what they share
            known.store(prompts[0][:-1], _encode_prefix(lm, prompts[0][:-1], ckw))
            n_known = known.usable(prompts)
        if n_known:
            cache = known.restore(n_known)
            cache.batch_repeat_interleave(len(prompts))
            return _prefill_tails(lm, prompts, n_known, cache, pad, ckw)
    n_prefix = common_prefix_len(prompts) if share_prefix and len(prompts) > 1 and fits else 0
    if not n_prefix:
        return _prefill_tails(lm, prompts, 0, DynamicCache(), pad, ckw)
    cache = _encode_prefix(lm, prompts[0][:n_prefix], ckw)
    cache.batch_repeat_interleave(len(prompts))
    return _prefill_tails(lm, prompts, n_prefix, cache, pad, ckw)


def _encode_prefix(lm: LoadedModel, ids: tuple[int, ...], ckw: str) -> Any:
    """KV cache of one token prefix at batch size 1. The pass yields no token: decode-scoped edits skip it."""
    from transformers import DynamicCache

    cache = DynamicCache()
    with decoding_step(-1):
        lm.sites.backbone(input_ids=torch.tensor([ids], device=lm.device), **{ckw: cache}, use_cache=True)
    return cache


def _prefill_tails(lm: LoadedModel, prompts: list[tuple[int, ...]], n_prefix: int, cache: Any, pad: int,
                   ckw: str) -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Prefill each prompt's tokens after a shared prefix of ``n_prefix`` tokens already in ``cache``."""
    device = lm.device
    tails = [p[n_prefix:] for p in prompts]
    width = max(len(t) for t in tails)
    ids = torch.full((len(prompts), width), pad, dtype=torch.long)
    mask = torch.zeros((len(prompts), n_prefix + width), dtype=torch.long)
    mask[:, :n_prefix] = 1
    for i, t in enumerate(tails):  # left padding inside the suffix region
        ids[i, width - len(t):] = torch.tensor(t)
        mask[i, n_prefix + width - len(t):] = 1
    ids, mask = ids.to(device), mask.to(device)
    pos = (mask.cumsum(-1) - 1).clamp_min(0)[:, n_prefix:]
    out = lm.sites.backbone(input_ids=ids, attention_mask=mask, position_ids=pos, **{ckw: cache}, use_cache=True)
    return cache, out.last_hidden_state[:, -1], mask, pos[:, -1] + 1


def _top_logits(lm: LoadedModel, hidden: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k largest logits of each row and their token ids, sorted descending. A float32 head on a CPU with
    bf16 kernels goes through the certified bf16 screen (exact top-k, see ``_head``); otherwise the full head.
    Final-logit soft-capping is monotone, so it is applied to the selected values only."""
    screen = screen_for(lm.sites.lm_head)
    if screen is not None:
        vals, idx = screen.topk(hidden, k)
    else:
        logits = lm.sites.lm_head(hidden).float()
        vals, idx = torch.topk(logits, k=min(k, logits.shape[-1]), dim=-1)
    cap = lm.sites.final_logit_softcapping
    if cap:
        vals = torch.tanh(vals / cap) * cap
    return vals, idx


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
    share_prefix: bool = True,
) -> list[Generation]:
    """Decode one batch of prompts (token ids, BOS included) until each row emits a stop token.

    Args:
        row_keys: per-row 64-bit keys for the sampling hash; required unless greedy.
        share_prefix: encode the prompts' common prefix (few-shot examples) once and reuse its KV cache.
    """
    if not greedy and (row_keys is None or len(row_keys) != len(prompts)):
        raise ValueError("Sampling needs one row key per prompt (seed, item, sample index)")
    tok = lm.tokenizer
    device = lm.device
    stop = torch.tensor(lm.newline_token_ids(), device=device)
    pad = int(tok.pad_token_id)
    keys = np.array(row_keys if row_keys is not None else [0] * len(prompts), dtype=np.uint64)
    # K samples of one question share a prompt: prefill each distinct prompt once, then repeat its rows
    uniq = list(dict.fromkeys(prompts))
    cache, hidden, mask, next_pos = _prefill(lm, uniq, pad, share_prefix, max_new_tokens)
    if len(uniq) < len(prompts):
        where = {p: i for i, p in enumerate(uniq)}
        rows = torch.tensor([where[p] for p in prompts], device=device)
        cache.batch_select_indices(rows)
        hidden, mask, next_pos = hidden[rows], mask[rows], next_pos[rows]
    ckw = _cache_kwarg(lm.sites.backbone)
    # Rows that emitted a stop token leave the batch (their cache rows are dropped), so late steps cost
    # only what the still-running rows need; `alive` maps batch rows back to prompt indices.
    alive = torch.arange(len(prompts), device=device)
    out_ids = torch.full((len(prompts), max_new_tokens), pad, dtype=torch.long, device=device)
    for step in range(max_new_tokens):
        if greedy:
            nxt = _top_logits(lm, hidden, 1)[1][:, 0]
        else:
            vals, idx = _top_logits(lm, hidden, top_k)
            u = torch.from_numpy(counter_uniforms(keys[alive.cpu().numpy()], step)).to(device)
            nxt = _sample(vals, idx, u, temperature, top_p)
        out_ids[alive, step] = nxt
        running = ~torch.isin(nxt, stop)
        if not bool(running.any()) or step == max_new_tokens - 1:
            break
        if not bool(running.all()):
            keep = running.nonzero().squeeze(-1)
            cache.batch_select_indices(keep)
            alive, nxt, mask, next_pos = alive[keep], nxt[keep], mask[keep], next_pos[keep]
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=-1)
        with decoding_step(step + 1):  # this pass reads generated token `step` and yields token step + 1
            out = lm.sites.backbone(input_ids=nxt.unsqueeze(-1), attention_mask=mask,
                                    position_ids=next_pos.unsqueeze(-1), **{ckw: cache}, use_cache=True)
        hidden = out.last_hidden_state[:, -1]
        next_pos = next_pos + 1
    gen = out_ids.cpu().tolist()
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


_CACHE_KWARG: dict[type, str] = {}


def _cache_kwarg(backbone: Any) -> str:
    """Name of the KV-cache argument: ``cache`` in newer transformers, ``past_key_values`` before."""
    cls = type(backbone)
    if cls not in _CACHE_KWARG:
        params = inspect.signature(cls.forward).parameters
        _CACHE_KWARG[cls] = "cache" if "cache" in params else "past_key_values"
    return _CACHE_KWARG[cls]


def row_key(seed: int, item_id: str, sample_index: int) -> int:
    """64-bit key of one sampled answer: a hash of (seed, item id, sample index)."""
    import hashlib

    digest = hashlib.sha256(f"{seed}\x00{item_id}\x00{sample_index}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


