"""Tiny random-weight Gemma 3 models and a character tokenizer, built in-process for unit tests."""

from __future__ import annotations

import string

import torch
from transformers import PreTrainedTokenizerFast

from harness.models._load import LoadedModel, finish_loading

_SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>"]


def build_tiny_tokenizer() -> PreTrainedTokenizerFast:
    """A character-level tokenizer over printable ASCII (ids 0..3 are pad, eos, bos, unk as in Gemma)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    chars = sorted(set(string.printable) - {"\x0b", "\x0c", "\r"})
    vocab = {tok: i for i, tok in enumerate(_SPECIALS + chars)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(pattern="", behavior="isolated")
    core.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 2)])
    from tokenizers import decoders

    core.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>"
    )
    tok.padding_side = "left"
    return tok


def tiny_text_config(vocab_size: int, **overrides: object):  # type: ignore[no-untyped-def]
    from transformers import Gemma3TextConfig

    kwargs: dict[str, object] = dict(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        sliding_window=32,
        max_position_embeddings=512,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
    )
    kwargs.update(overrides)
    return Gemma3TextConfig(**kwargs)  # type: ignore[arg-type]


def build_tiny_gemma(multimodal: bool = False, seed: int = 0, **overrides: object) -> LoadedModel:
    """A random-weight Gemma 3 (``gemma3_text``, or the multimodal ``gemma3`` layout) with a char tokenizer.

    Args:
        multimodal: build ``Gemma3ForConditionalGeneration`` (text layers under ``language_model``), the
            layout of google/gemma-3-4b-it, instead of ``Gemma3ForCausalLM``.
        seed: seed of the weight initialisation.
        **overrides: Gemma3TextConfig fields (e.g. ``num_hidden_layers``).
    """
    from transformers import (
        Gemma3Config,
        Gemma3ForCausalLM,
        Gemma3ForConditionalGeneration,
        SiglipVisionConfig,
    )

    tok = build_tiny_tokenizer()
    text_config = tiny_text_config(len(tok), **overrides)
    gen = torch.random.fork_rng(devices=[])
    with gen:
        torch.manual_seed(seed)
        if multimodal:
            vision = SiglipVisionConfig(
                hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                image_size=32, patch_size=8,
            )
            config = Gemma3Config(
                text_config=text_config.to_dict(), vision_config=vision.to_dict(), mm_tokens_per_image=4
            )
            model: torch.nn.Module = Gemma3ForConditionalGeneration(config)
        else:
            model = Gemma3ForCausalLM(text_config)
    model.eval()
    name = f"tiny-gemma3{'-mm' if multimodal else ''}-seed{seed}"
    return finish_loading(model, tok, model_id=name, fingerprint=f"{name}:{sorted(overrides.items())}")
