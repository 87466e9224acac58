"""Scaling MLP neurons: the d_mlp activations at the input of ``down_proj`` (site ``blocks.{L}.mlp.down_proj.in``).

alpha = 0 ablates the neurons, alpha > 1 amplifies them (the H-neuron papers' intervention), alpha = 1 is the
identity and registers no hook.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
import torch

from harness.interventions._common import CastCache
from harness.models import LoadedModel, row_groups, temporary_hooks


def _by_layer(lm: LoadedModel, neurons: Sequence[tuple[int, int]]) -> dict[int, list[int]]:
    """Neuron indices per layer, after checking every (layer, index) pair against the model."""
    n_layers, d_mlp = lm.sites.n_layers, lm.sites.d_mlp
    out: dict[int, list[int]] = {}
    for pair in neurons:
        layer, index = (int(v) for v in pair)
        if not (0 <= layer < n_layers and 0 <= index < d_mlp):
            raise ValueError(
                f"Neuron (layer, index) = {tuple(pair)} is out of range for {lm.model_id}: layers are "
                f"0..{n_layers - 1} and indices 0..{d_mlp - 1}"
            )
        out.setdefault(layer, []).append(index)
    return out


def scale_neurons(lm: LoadedModel, neurons: Sequence[tuple[int, int]], alpha: float) -> AbstractContextManager[None]:
    """Multiply the listed MLP neurons by ``alpha`` while the block runs (generation or forward scoring).

    A forward pre-hook on each layer's ``down_proj`` multiplies its input [B, T, d_mlp] by a vector that is
    ``alpha`` on the listed columns and exactly 1 elsewhere, in the activation's dtype, so untouched neurons
    stay bit-exact.

    Args:
        lm: the model.
        neurons: (layer, index) pairs into the d_mlp activations of ``blocks.{layer}.mlp.down_proj.in``.
        alpha: multiplier; 1 is the identity (no hook is registered), 0 ablates.

    Returns:
        A context manager; the hooks are removed on exit, also after an exception.

    Raises:
        ValueError: a pair is outside the model's layers or d_mlp.
    """
    by_layer = _by_layer(lm, neurons)
    if alpha == 1.0 or not by_layer:
        return nullcontext()
    pre = []
    for layer, idx in by_layer.items():
        scale = np.ones(lm.sites.d_mlp)
        scale[idx] = alpha
        cache = CastCache(scale)

        def hook(_m: Any, args: tuple[Any, ...], cache: CastCache = cache) -> tuple[Any, ...]:
            z: torch.Tensor = args[0]  # [B, T, d_mlp]
            return (z * cache.like(z), *args[1:])

        pre.append((lm.sites.down_proj(layer), hook))
    return temporary_hooks(pre=pre)


def scale_neurons_grouped(lm: LoadedModel,
                          conditions: Sequence[tuple[Sequence[tuple[int, int]], float]]) -> AbstractContextManager[None]:
    """Several neuron scalings at once, one per batch row: a row of condition g has the neurons of
    ``conditions[g]`` multiplied by its alpha, every other neuron exactly as in the clean model.

    The scorer running the passes marks each row with its condition (``rows_in_groups``); a row computes
    what ``scale_neurons(lm, *conditions[g])`` computes alone, so G conditions share one batched pass.

    Raises:
        ValueError: a pair is out of range (as ``scale_neurons``).
        RuntimeError: a pass inside the block has no row groups (the caller did not mark its rows).
    """
    per_layer: dict[int, np.ndarray] = {}
    for g, (neurons, alpha) in enumerate(conditions):
        for layer, idx in _by_layer(lm, neurons).items():
            scale = per_layer.setdefault(layer, np.ones((len(conditions), lm.sites.d_mlp)))
            scale[g, idx] = alpha
    pre = []
    for layer, table in per_layer.items():
        cache = CastCache(table)

        def hook(_m: Any, args: tuple[Any, ...], cache: CastCache = cache) -> tuple[Any, ...]:
            groups = row_groups()
            if groups is None:
                raise RuntimeError("scale_neurons_grouped: a forward pass ran without row groups; score through "
                                   "a scorer that takes groups=")
            z: torch.Tensor = args[0]  # [B, T, d_mlp]
            return (z * cache.like(z)[groups.to(z.device)].unsqueeze(1), *args[1:])

        pre.append((lm.sites.down_proj(layer), hook))
    return temporary_hooks(pre=pre)
