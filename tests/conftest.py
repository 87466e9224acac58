"""Shared fixtures: tiny random-weight Gemma 3 models (no weights needed)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny():
    from harness.models import build_tiny_gemma

    return build_tiny_gemma(seed=0)


@pytest.fixture(scope="session")
def tiny_mm():
    from harness.models import build_tiny_gemma

    return build_tiny_gemma(multimodal=True, seed=0)
