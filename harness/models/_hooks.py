"""Temporary forward hooks as a context manager that always removes them, even after an exception."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import torch
from torch import nn

PreHook = Callable[[nn.Module, tuple[Any, ...]], Any]
PostHook = Callable[[nn.Module, tuple[Any, ...], Any], Any]


@contextmanager
def temporary_hooks(
    pre: Sequence[tuple[nn.Module, PreHook]] = (),
    post: Sequence[tuple[nn.Module, PostHook]] = (),
) -> Iterator[None]:
    """Register forward pre-hooks and forward hooks for the duration of the block.

    Args:
        pre: (module, hook(module, args)) pairs; a hook may return new args.
        post: (module, hook(module, args, output)) pairs; a hook may return a new output.
    """
    handles = []
    try:
        for module, pre_fn in pre:
            handles.append(module.register_forward_pre_hook(pre_fn))
        for module, post_fn in post:
            handles.append(module.register_forward_hook(post_fn))
        yield
    finally:
        for h in handles:
            h.remove()


_DECODE_STEP: ContextVar[int | None] = ContextVar("harness_decode_step", default=None)


def decode_step() -> int | None:
    """0-based index of the generated token whose logits the current decoding pass computes (>= 1: token 0
    comes from the prompt's prefill), -1 in a pass that yields no token (the shared few-shot prefix encoded
    once for a batch), or None otherwise (prefill, forward-only scoring). Hooks read it to limit an edit to
    the first N generated tokens."""
    return _DECODE_STEP.get()


@contextmanager
def decoding_step(step: int | None) -> Iterator[None]:
    """Mark forward passes inside the block as decoding step ``step`` (set by the decoder only)."""
    token = _DECODE_STEP.set(step)
    try:
        yield
    finally:
        _DECODE_STEP.reset(token)


_ROW_GROUPS: ContextVar[torch.Tensor | None] = ContextVar("harness_row_groups", default=None)


def row_groups() -> torch.Tensor | None:
    """Condition index [B] of every batch row of the current forward pass, where a scorer evaluates several
    conditions (edits, alphas) in one batched pass; None otherwise. Grouped edits read it to give each row
    its own parameters."""
    return _ROW_GROUPS.get()


@contextmanager
def rows_in_groups(groups: torch.Tensor | None) -> Iterator[None]:
    """Mark the batch rows of the passes inside the block with their condition index (set by scorers only)."""
    token = _ROW_GROUPS.set(groups)
    try:
        yield
    finally:
        _ROW_GROUPS.reset(token)
