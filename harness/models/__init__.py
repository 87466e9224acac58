"""Models: loading (embedded GGUF Gemma 3 270M, local HF checkpoints, tiny random) and the hook-site table."""

from harness.models._load import (
    EMBEDDED_MODEL_ID,
    LoadedModel,
    embedded_model_path,
    finish_loading,
    load_embedded,
    load_hf,
    model_cache_dir,
)
from harness.models._planted import PlantedTruth, build_planted
from harness.models._sites import TEXT_BACKBONE_PATHS, SiteTable, resolve_sites
from harness.models._tiny import build_tiny_gemma, build_tiny_tokenizer

__all__ = [
    "EMBEDDED_MODEL_ID",
    "TEXT_BACKBONE_PATHS",
    "LoadedModel",
    "PlantedTruth",
    "SiteTable",
    "build_planted",
    "build_tiny_gemma",
    "build_tiny_tokenizer",
    "embedded_model_path",
    "finish_loading",
    "load_embedded",
    "load_hf",
    "model_cache_dir",
    "resolve_sites",
]

from harness.models._hooks import decode_step, decoding_step, row_groups, rows_in_groups, temporary_hooks

__all__ += ["decode_step", "decoding_step", "row_groups", "rows_in_groups", "temporary_hooks"]
