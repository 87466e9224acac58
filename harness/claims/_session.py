"""Per-process session: loaded models and pipeline results shared by every claim a worker runs."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.claims._spec import ModelSpec, PlantedSpec

log = logging.getLogger(__name__)


class SkipClaim(Exception):
    """The claim cannot run here (e.g. it needs a GPU or a model this machine lacks); the message says why."""


@dataclass
class Session:
    """Holds what claims in one process share, so a worker loads each model once."""

    store_root: Path | None = None
    models: dict[str, Any] = field(default_factory=dict)
    memo: dict[str, Any] = field(default_factory=dict)
    _store: Any = None

    @property
    def store(self) -> Any:
        if self._store is None:
            from harness.store import ArtifactStore, data_dir

            self._store = ArtifactStore(self.store_root or data_dir() / "cache")
        return self._store

    def check_runnable(self, spec: ModelSpec) -> None:
        """SkipClaim where a ``requires_gpu`` claim cannot run here (no CUDA device, or its weights are not on
        this machine); cheap, so it runs before anything else is checked or loaded."""
        if not spec.requires_gpu:
            return
        import torch

        if not torch.cuda.is_available():
            raise SkipClaim(f"needs a CUDA GPU (model {spec.path or spec.kind}); none is available here")
        if spec.kind == "hf":
            from harness.errors import ModelLoadError
            from harness.models._load import resolve_local

            assert spec.path is not None
            try:
                resolve_local(spec.path)
            except ModelLoadError as exc:
                raise SkipClaim(f"model {spec.path!r} is not on this machine: {exc}") from None

    def model(self, spec: ModelSpec) -> Any:
        """Load (once per process) the model a claim names; SkipClaim where it cannot run here."""
        key = spec.model_dump_json(exclude={"prompt_style", "requires_gpu"})
        if key in self.models:
            return self.models[key]
        from harness.errors import ModelLoadError
        from harness.models import build_tiny_gemma, load_embedded, load_hf

        self.check_runnable(spec)
        t0 = time.time()
        if spec.kind == "embedded":
            lm = load_embedded(device=spec.device, dtype=spec.dtype)
        elif spec.kind == "tiny":
            lm = build_tiny_gemma(multimodal=spec.multimodal)
        elif spec.kind == "planted":
            from harness.models import build_planted

            planted = spec.planted or PlantedSpec()
            lm, _ = build_planted(seed=planted.seed, edited=planted.edited)
        else:
            assert spec.path is not None
            try:
                lm = load_hf(spec.path, device=spec.device, dtype=spec.dtype)
            except ModelLoadError as exc:
                if spec.requires_gpu:
                    raise SkipClaim(f"model {spec.path!r} is not on this machine: {exc}") from None
                raise
        log.info("loaded %s in %.1f s", lm.model_id, time.time() - t0)
        self.models[key] = lm
        return lm

    def memoize(self, key: str, compute: Any) -> Any:
        if key not in self.memo:
            self.memo[key] = compute()
        return self.memo[key]

