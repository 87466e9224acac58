"""Where the hook sites live, resolved from the model config (never from hard-coded module paths).

Site names follow the TransformerLens vocabulary: ``blocks.{L}.mlp.down_proj.in`` (the d_mlp activations the
H-neuron papers scale), ``blocks.{L}.attn.o_proj.in`` (concatenated head outputs, for ITI) and
``blocks.{L}.hook_resid_post`` (the residual stream after layer L).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from torch import nn

from harness.errors import ModelLoadError

# model_type -> attribute path, from the top-level model, of the text decoder (the module holding `layers`).
# gemma3 is the multimodal checkpoint (google/gemma-3-4b-it): its text layers sit under `language_model`.
TEXT_BACKBONE_PATHS: dict[str, str] = {
    "gemma3_text": "model",
    "gemma3": "model.language_model",
    "gemma2": "model",
    "gemma": "model",
    "llama": "model",
    "qwen2": "model",
    "mistral": "model",
}

_SITE_RE = re.compile(r"^blocks\.(\d+)\.(mlp\.down_proj\.in|attn\.o_proj\.in|hook_resid_post)$")


def _get_path(root: nn.Module, path: str) -> nn.Module:
    obj: object = root
    for part in path.split("."):
        obj = getattr(obj, part)
    assert isinstance(obj, nn.Module)
    return obj


@dataclass(frozen=True)
class SiteTable:
    """Handles on the modules of one causal LM that the harness reads and edits."""

    model_type: str
    backbone: nn.Module
    """Text decoder: token ids -> final normed hidden states, without the LM head."""
    lm_head: nn.Module
    n_layers: int
    d_model: int
    d_mlp: int
    n_heads: int
    head_dim: int
    final_logit_softcapping: float | None

    @property
    def layers(self) -> nn.ModuleList:
        layers: Any = self.backbone.layers
        assert isinstance(layers, nn.ModuleList)
        return layers

    def down_proj(self, layer: int) -> nn.Linear:
        block: Any = self.layers[layer]
        mod = block.mlp.down_proj
        assert isinstance(mod, nn.Linear)
        return mod

    def o_proj(self, layer: int) -> nn.Linear:
        block: Any = self.layers[layer]
        mod = block.self_attn.o_proj
        assert isinstance(mod, nn.Linear)
        return mod

    def module_for(self, site: str) -> nn.Module:
        """Module whose input (``.in`` sites) or output (resid) is the named site."""
        m = _SITE_RE.match(site)
        if not m:
            raise KeyError(
                f"Unknown hook site {site!r}. Known forms: blocks.{{L}}.mlp.down_proj.in, "
                "blocks.{L}.attn.o_proj.in, blocks.{L}.hook_resid_post"
            )
        layer, kind = int(m.group(1)), m.group(2)
        if not 0 <= layer < self.n_layers:
            raise KeyError(f"Hook site {site!r}: layer {layer} out of range 0..{self.n_layers - 1}")
        if kind == "mlp.down_proj.in":
            return self.down_proj(layer)
        if kind == "attn.o_proj.in":
            return self.o_proj(layer)
        return self.layers[layer]


def resolve_sites(model: nn.Module) -> SiteTable:
    """Build the site table of a loaded causal LM from its config's ``model_type``."""
    config: Any = model.config
    model_type = str(config.model_type)
    text_config: Any = config.get_text_config() if hasattr(config, "get_text_config") else config
    path = TEXT_BACKBONE_PATHS.get(model_type)
    if path is None:
        raise ModelLoadError(
            f"Model type {model_type!r} has no entry in the site table. "
            f"Known: {sorted(TEXT_BACKBONE_PATHS)}. Fix: add its text-decoder path to "
            "harness/models/_sites.py:TEXT_BACKBONE_PATHS."
        )
    try:
        backbone = _get_path(model, path)
        lm_head = _get_path(model, "lm_head")
    except AttributeError as exc:
        raise ModelLoadError(
            f"Model type {model_type!r}: expected its text decoder at '{path}' and the LM head at 'lm_head' "
            f"but {exc}. Fix: correct TEXT_BACKBONE_PATHS in harness/models/_sites.py."
        ) from exc
    n_heads = int(text_config.num_attention_heads)
    head_dim = int(getattr(text_config, "head_dim", None) or text_config.hidden_size // n_heads)
    return SiteTable(
        model_type=model_type,
        backbone=backbone,
        lm_head=lm_head,
        n_layers=int(text_config.num_hidden_layers),
        d_model=int(text_config.hidden_size),
        d_mlp=int(text_config.intermediate_size),
        n_heads=n_heads,
        head_dim=head_dim,
        final_logit_softcapping=getattr(text_config, "final_logit_softcapping", None),
    )
