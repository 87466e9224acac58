"""Prompts built from token-id pieces, so the span of the question is known exactly by position."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

PromptStyle = Literal["fewshot", "chat"]

# One example is enough for a base model to answer in the "short phrase then newline" format.
FEWSHOT_EXAMPLES: tuple[tuple[str, str], ...] = (("Which planet is known as the Red Planet?", "Mars"),)


@dataclass(frozen=True)
class Prompt:
    """Token ids of one prompt and where its question sits in them."""

    ids: tuple[int, ...]
    question_span: tuple[int, int]
    """[start, end) positions of the question's own tokens (not the few-shot prefix)."""


def _encode(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False).input_ids)


def build_prompt(tokenizer: Any, question: str, style: PromptStyle = "fewshot") -> Prompt:
    """A few-shot QA prompt for base models, or the chat template for instruction-tuned ones."""
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    if style == "fewshot":
        prefix = bos + _encode(tokenizer, "".join(f"Question: {q}\nAnswer: {a}\n\n" for q, a in FEWSHOT_EXAMPLES))
        head = _encode(tokenizer, "Question: ")
        q_ids = _encode(tokenizer, question)
        tail = _encode(tokenizer, "\nAnswer:")
    elif style == "chat":
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": f"Answer with a short phrase only.\n{question}"}],
            tokenize=False, add_generation_prompt=True,
        )
        before, _, after = text.partition(question)
        prefix = _encode(tokenizer, before)
        head = []
        q_ids = _encode(tokenizer, question)
        tail = _encode(tokenizer, after)
    else:
        raise ValueError(f"Unknown prompt style {style!r}: use 'fewshot' (base models) or 'chat'")
    start = len(prefix) + len(head)
    return Prompt(ids=tuple(prefix + head + q_ids + tail), question_span=(start, start + len(q_ids)))
