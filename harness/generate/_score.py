"""Forward-only scoring: log-probabilities of given continuations, one pass per batch, no generation.

The LM head (262k tokens on Gemma 3) runs only on the positions that predict a continuation token, so
scoring costs about one plain forward pass over prompt + continuation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from harness.generate._decode import PrefixKV
from harness.models import LoadedModel, rows_in_groups


@torch.inference_mode()
def score_continuations(
    lm: LoadedModel,
    pairs: Sequence[tuple[Sequence[int], Sequence[int]]],
    batch_size: int = 32,
    groups: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Sum of log P(continuation | prompt) for each (prompt ids, continuation ids) pair.

    Any interventions active around the call (hook context managers) apply to the scored passes; with
    ``groups`` (one condition index per pair) every pass marks its rows' conditions for a grouped edit.

    Returns:
        (logprob [n] float64, n_tokens [n] int): the summed log-probability of each continuation and its
        length in tokens (for per-token normalisation).
    """
    if any(len(c) == 0 for _, c in pairs):
        raise ValueError("score_continuations: every continuation needs at least one token")
    if any(len(p) == 0 for p, _ in pairs):
        raise ValueError("score_continuations: every prompt needs at least one token (BOS)")
    out = np.zeros(len(pairs), dtype=np.float64)
    lengths = np.array([len(c) for _, c in pairs], dtype=np.int64)
    pad = int(lm.tokenizer.pad_token_id)
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
    for b0 in range(0, len(order), batch_size):
        idx = order[b0:b0 + batch_size]
        seqs = [list(pairs[i][0]) + list(pairs[i][1]) for i in idx]
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        rows, cols, targets, owner = [], [], [], []
        for b, (s, i) in enumerate(zip(seqs, idx, strict=True)):
            ids[b, :len(s)] = torch.tensor(s)
            mask[b, :len(s)] = 1
            n_prompt = len(pairs[i][0])
            for t in range(n_prompt, len(s)):  # position t - 1 predicts token t
                rows.append(b)
                cols.append(t - 1)
                targets.append(s[t])
                owner.append(b)
        with rows_in_groups(None if groups is None else torch.tensor([groups[i] for i in idx])):
            hidden = lm.sites.backbone(input_ids=ids.to(lm.device), attention_mask=mask.to(lm.device),
                                       use_cache=False).last_hidden_state  # [B, T, d_model]
        picked = hidden[torch.tensor(rows, device=lm.device), torch.tensor(cols, device=lm.device)]  # [P, d]
        logits = lm.sites.lm_head(picked).float()  # [P, vocab]
        cap = lm.sites.final_logit_softcapping
        if cap:
            logits = torch.tanh(logits / cap) * cap
        lp = torch.log_softmax(logits, dim=-1)
        tok_lp = lp[torch.arange(len(targets), device=lm.device), torch.tensor(targets, device=lm.device)]
        sums = torch.zeros(len(seqs), dtype=torch.float64, device=lm.device)
        sums.index_add_(0, torch.tensor(owner, device=lm.device), tok_lp.double())
        out[idx] = sums.cpu().numpy()
    return out, lengths


def encode_continuation(tokenizer: object, text: str) -> list[int]:
    """Token ids of a continuation written after a prompt that ends without a trailing space."""
    enc = tokenizer(" " + text.strip(), add_special_tokens=False)  # type: ignore[operator]
    return list(enc.input_ids)


@torch.inference_mode()
def score_choices(
    lm: LoadedModel,
    prompts: Sequence[Sequence[int]],
    choices: Sequence[Sequence[Sequence[int]]],
    batch_size: int = 16,
    groups: Sequence[int] | None = None,
    prefix: PrefixKV | None = None,
) -> list[np.ndarray]:
    """Summed log P(choice | prompt) for every choice of every prompt, encoding each prompt once.

    With ``groups`` (one condition index per prompt) every pass marks its rows' conditions, so a grouped edit
    (e.g. ``scale_neurons_grouped``) scores several conditions of the same items in one batched pass.

    Each prompt is prefilled once into a KV cache (left padding, positions from the mask, as in decoding);
    the cache is repeated once per choice and all choices are scored in one more pass. For C choices of a few
    tokens this costs about one prompt pass instead of C. With ``prefix`` the part the prompts share with
    earlier calls (a judge's rubric) is taken from its kept KV cache (see ``PrefixKV``).

    Returns:
        One float64 array per prompt with the log-probability of each of its choices.
    """
    from harness.generate._decode import _cache_kwarg, _prefill

    if len(prompts) != len(choices):
        raise ValueError(f"score_choices: {len(prompts)} prompts but {len(choices)} choice lists")
    for i, cs in enumerate(choices):
        if not cs or any(len(c) == 0 for c in cs):
            raise ValueError(f"score_choices: prompt {i} has no choices or an empty choice")
    pad = int(lm.tokenizer.pad_token_id)
    ckw = _cache_kwarg(lm.sites.backbone)
    out: list[np.ndarray] = [np.zeros(len(cs)) for cs in choices]
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    for b0 in range(0, len(order), batch_size):
        idx = order[b0:b0 + batch_size]
        g = None if groups is None else torch.tensor([groups[i] for i in idx])
        with rows_in_groups(g):
            cache, last, mask, next_pos = _prefill(lm, [tuple(prompts[i]) for i in idx], pad, False, 0,
                                                   known=prefix)
        rows = [(b, c) for b, i in enumerate(idx) for c in range(len(choices[i]))]
        conts = [list(choices[idx[b]][c]) for b, c in rows]
        sel = torch.tensor([b for b, _ in rows], device=lm.device)
        cache.batch_select_indices(sel)
        width = max(len(c) for c in conts)
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        cmask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, c in enumerate(conts):
            ids[r, :len(c)] = torch.tensor(c)
            cmask[r, :len(c)] = 1
        ids, cmask = ids.to(lm.device), cmask.to(lm.device)
        full_mask = torch.cat([mask[sel], cmask], dim=-1)
        pos = next_pos[sel].unsqueeze(-1) + torch.arange(width, device=lm.device)
        with rows_in_groups(None if g is None else g[sel.cpu()]):
            hidden = lm.sites.backbone(input_ids=ids, attention_mask=full_mask, position_ids=pos, **{ckw: cache},
                                       use_cache=True).last_hidden_state  # [R, W, d]
        # token 0 of a choice is predicted by the prompt's last position, token t by choice position t - 1
        states = torch.cat([last[sel].unsqueeze(1), hidden[:, :-1]], dim=1)  # [R, W, d]
        keep = cmask.bool()
        logits = lm.sites.lm_head(states[keep]).float()  # [P, vocab]
        cap = lm.sites.final_logit_softcapping
        if cap:
            logits = torch.tanh(logits / cap) * cap
        tok_lp = torch.log_softmax(logits, -1).gather(-1, ids[keep].unsqueeze(-1)).squeeze(-1).double()
        row_of = torch.arange(len(rows), device=lm.device).unsqueeze(-1).expand(-1, width)[keep]
        sums = torch.zeros(len(rows), dtype=torch.float64, device=lm.device).index_add_(0, row_of, tok_lp)
        for r, (b, ci) in enumerate(rows):
            out[idx[b]][ci] = float(sums[r])
    return out
