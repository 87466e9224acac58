"""``--dist loadgroup`` that keeps every claim on one model in one worker, so each worker loads a model once.

pytest-xdist's own loadgroup passes the group through a ``@group`` suffix it writes into each item's node id;
pytest 9.2 builds node ids from a structured field that write no longer reaches, so the groups are silently
dropped (pytest-dev/pytest-xdist#1386). This scheduler derives a claim's group from its file on the controller
instead. Imported only inside the xdist hook: xdist is a test-time dependency of the plugin, not of harness.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling


class ModelGroupScheduling(LoadScopeScheduling):
    """Whole groups go to one worker: claims by model, other tests by an ``@group`` suffix or one by one."""

    def __init__(self, config: pytest.Config, log: Any = None) -> None:
        super().__init__(config, log)
        self._root = Path(str(config.rootpath))

    def _split_scope(self, nodeid: str) -> str:
        if nodeid.rfind("@") > nodeid.rfind("]"):  # xdist's suffix, where a pytest still honours it
            return nodeid.split("@")[-1]
        path = nodeid.split("::", 1)[0]
        if path.endswith((".yaml", ".yml")):
            return claim_model_group(str(self._root / path)) or nodeid
        return nodeid


@cache
def claim_model_group(path: str) -> str | None:
    """The model a claim file loads (as the session keys it), or None when the file is not a valid claim."""
    from harness.claims._load import load_claim
    from harness.errors import SpecError

    try:
        spec = load_claim(Path(path))
    except SpecError:
        return None
    return "model:" + spec.model.model_dump_json(exclude={"prompt_style", "requires_gpu"})
