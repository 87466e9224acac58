"""Site table, tiny models, hooks."""

from __future__ import annotations

import pytest
import torch

from harness.errors import ModelLoadError
from harness.models import temporary_hooks


def test_sites_resolve_text_and_multimodal_layouts(tiny, tiny_mm):
    assert tiny.sites.model_type == "gemma3_text"
    assert tiny_mm.sites.model_type == "gemma3"
    # the multimodal checkpoint keeps its text layers under language_model
    assert tiny_mm.sites.backbone is tiny_mm.model.model.language_model
    assert tiny.sites.backbone is tiny.model.model
    for lm in (tiny, tiny_mm):
        assert lm.sites.n_layers == 2 and lm.sites.d_mlp == 64
        assert lm.sites.down_proj(1) is lm.sites.backbone.layers[1].mlp.down_proj
        assert lm.sites.module_for("blocks.0.attn.o_proj.in") is lm.sites.o_proj(0)


def test_unknown_site_and_layer_are_clear_errors(tiny):
    with pytest.raises(KeyError, match="Known forms"):
        tiny.sites.module_for("blocks.0.mlp.hook_post")
    with pytest.raises(KeyError, match="out of range"):
        tiny.sites.module_for("blocks.9.hook_resid_post")


def test_hooks_removed_after_exception(tiny):
    mod = tiny.sites.down_proj(0)
    calls = []
    with pytest.raises(RuntimeError, match="boom"), temporary_hooks(pre=[(mod, lambda m, a: calls.append(1))]):
        assert len(mod._forward_pre_hooks) == 1
        raise RuntimeError("boom")
    assert len(mod._forward_pre_hooks) == 0
    tiny.sites.backbone(input_ids=torch.tensor([[2, 5, 6]]))
    assert calls == []


def test_tokenizer_model_mismatch_is_refused(tiny):
    from transformers import Gemma3ForCausalLM

    from harness.models import build_tiny_tokenizer, finish_loading
    from harness.models._tiny import tiny_text_config

    small = Gemma3ForCausalLM(tiny_text_config(vocab_size=50))
    with pytest.raises(ModelLoadError, match="do not belong together"):
        finish_loading(small, build_tiny_tokenizer(), model_id="x", fingerprint="x")


def test_missing_model_path_names_the_fix(tmp_path):
    from harness.models import load_hf

    with pytest.raises(ModelLoadError, match=rf"'{tmp_path}/nope': no such folder \(the nearest existing folder is "
                                             rf"{tmp_path}\)\. Fix: point model.path at a folder holding config"):
        load_hf(str(tmp_path / "nope"))
    with pytest.raises(ModelLoadError, match="neither a local folder nor in the local Hugging Face cache"):
        load_hf("no-such-org/no-such-model")


def test_hf_loader_reads_a_saved_multimodal_checkpoint(tiny_mm, tmp_path):
    from harness.models import load_hf

    tiny_mm.model.save_pretrained(tmp_path)
    tiny_mm.tokenizer.save_pretrained(tmp_path)
    lm = load_hf(str(tmp_path), device="cpu", dtype="float32")
    assert lm.sites.model_type == "gemma3"
    assert lm.fingerprint.startswith("weights-sha256:")
    ids = torch.tensor([[2, 10, 11, 12]])
    a = lm.sites.backbone(input_ids=ids).last_hidden_state
    b = tiny_mm.sites.backbone(input_ids=ids).last_hidden_state
    assert torch.allclose(a, b)
