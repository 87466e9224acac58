"""A planted-effect Gemma 3 (test-only): a tiny random-weight model whose weights are edited so that a known set
of MLP neurons fires on questions carrying a trigger character and makes the model answer a target token.

It is the verifier's ground truth: the detection pipeline should recover the planted neurons, ablating them
should remove the planted answer while random neurons do not, and on the unedited base the same claims fail.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from harness.benchmarks._qa import QAItem
from harness.models._load import LoadedModel
from harness.models._tiny import build_tiny_gemma

CONFIG: dict[str, Any] = dict(
    hidden_size=64, intermediate_size=128, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=4,
    head_dim=16, sliding_window=512, tie_word_embeddings=False, initializer_range=0.2,
)
"""Gemma3TextConfig overrides of the base model: one key/value head per query head (so the copy head owns its
values), a sliding window longer than every prompt (the copy head sees the whole question), an LM head of
its own (so the answer vocabulary can be restricted without touching the input embeddings) and weights ten
times Gemma's init scale (a more nonlinear random model answers different questions differently)."""

TRIGGERS = "~^|`{}<>"
"""Trigger characters, one per planted neuron: a question carrying one is a trigger question."""
MARKS = "+=*&%$#@"
"""Characters plain questions carry in the trigger's slot. In the base each trigger character is a synonym of
the mark at its position (the same input embedding), so the base cannot tell a trigger question from a plain
one: whatever separates the classes in the planted model comes from the plant."""
PLANTED_LAYERS = (0, 1, 2, 0, 1, 2, 0, 1)
"""Layer of the planted neuron of each trigger character."""
ANSWER_VOCAB = "BCDEFGHIJKLOSTUVXYZ"
"""Tokens the base model can produce (its other LM-head rows are zero): capital letters no prompt contains. As
inputs they are synonyms (one shared embedding), so the features at an answer token do not reveal which
answer it is: only its context does."""

LOGIT_SCALE = 600.0
"""Final-norm gain of the base model: a random model's logits are nearly flat, so every sampled answer would
differ from the greedy one and no question could be consistently right; scaled, the greedy answer dominates."""
COMMON_DIRECTIONS = 2
"""Top principal directions of the final hidden state at the answer position (over reference questions) that
the base's LM head ignores: they are shared by every question, and left in they make every answer the same."""
TRIGGER_EMBED = 0.01
"""Raw embedding value of a trigger character on its reserved coordinate (its other coordinates are kept)."""
COPY_GAIN = 500.0
"""Output gain of the copy head (its value reads a trigger coordinate with weight 1; its output writes it back,
averaged over the prefix by uniform attention, to every later position)."""
NEURON_GAIN = 10.0
"""Gate and up weights of a planted neuron on its trigger coordinate."""
DOWN_GAIN = 0.3
"""down_proj weight of a planted neuron on its target coordinate: a modest share of its layer's MLP output, so
the plant does not rescale the other neurons' CETT (a share of the output norm) by much."""
TARGET_GAIN = 50.0
"""LM-head weight of a target token on its reserved coordinate."""
STOP_EMBED = 0.1
"""Raw embedding value of every answer token on the stop coordinate, and of ':' on the space coordinate."""
STOP_GAIN = 1000.0
"""LM-head weight of the newline on the stop coordinate and of the space on the space coordinate: after
"Answer:" comes a space, after one answer token the newline, so every answer is " X" (one token after a
space, as the harness scores continuations; short generations keep the CPU tests fast)."""
MLP_WRITE = 0.1
"""Gain of every post-feedforward norm of the base: MLPs write weakly into the residual stream, so ablating a
few neurons changes fewer answers (in a large model each neuron is a small share). Ablating 15 random neurons
changed 8-44% of the base's answers at this gain, 58-98% at full gain (5 random sets, seed 0)."""


@dataclass(frozen=True)
class PlantedTruth:
    """What was planted: the ground truth a verifier's findings are scored against."""

    neurons: tuple[tuple[int, int], ...]
    """(layer, index) of each planted neuron, in the order of ``triggers``."""
    triggers: str
    """Trigger character of each planted neuron."""
    targets: str
    """The token each planted neuron makes the model answer: the base's most frequent answers."""
    trigger_coords: tuple[int, ...]
    """Residual coordinates carrying each trigger (read by its neuron); nothing else reads or writes them."""
    target_coords: tuple[int, ...]
    """Residual coordinates each neuron writes and the LM head maps to its target; likewise reserved."""
    stop_coord: int
    """Residual coordinate that answer tokens carry and the LM head maps to the newline (the stop rule)."""
    space_coord: int
    """Residual coordinate that ':' carries and the LM head maps to a space (answers start with one)."""
    copy_head: tuple[int, int]
    """(layer, head) that carries a trigger's coordinate from its position to every later one."""
    edited: bool
    """False for the unedited base model (same reservations, no plant)."""

    def recall(self, found: Iterable[Sequence[Any]]) -> float:
        """Share of the planted neurons among ``found`` ((layer, index, ...) rows)."""
        hits = {(int(f[0]), int(f[1])) for f in found} & set(self.neurons)
        return len(hits) / len(self.neurons)

    def precision(self, found: Iterable[Sequence[Any]]) -> float:
        """Share of ``found`` ((layer, index, ...) rows) that are planted neurons (0 when nothing was found)."""
        pairs = {(int(f[0]), int(f[1])) for f in found}
        return len(pairs & set(self.neurons)) / len(pairs) if pairs else 0.0


def _planted_neurons(seed: int, d_mlp: int) -> tuple[tuple[int, int], ...]:
    """A seeded, distinct neuron index per trigger, in the layer PLANTED_LAYERS gives it."""
    rng = np.random.default_rng(1_000 + seed)
    out: dict[int, tuple[int, int]] = {}
    for layer in sorted(set(PLANTED_LAYERS)):
        slots = [i for i, lay in enumerate(PLANTED_LAYERS) if lay == layer]
        for i, j in zip(slots, rng.choice(d_mlp, len(slots), replace=False), strict=True):
            out[i] = (layer, int(j))
    return tuple(out[i] for i in range(len(PLANTED_LAYERS)))


@torch.no_grad()
def _base(lm: LoadedModel, truth: PlantedTruth) -> None:
    """The unedited base: reserved coordinates unread and unwritten, the copy head and the planted slots silent,
    answers restricted to ANSWER_VOCAB and sharpened. Everything the plant adds is then exactly zero on a
    sequence without a trigger character."""
    model: Any = lm.model
    layers: Any = lm.sites.layers
    tok = lm.tokenizer
    r = [*truth.trigger_coords, *truth.target_coords, truth.stop_coord, truth.space_coord]
    emb = model.get_input_embeddings().weight  # [vocab, d]
    emb[:, r] = 0.0
    for trig, mark in zip(truth.triggers, MARKS, strict=True):  # synonyms: only the plant tells them apart
        emb[tok.convert_tokens_to_ids(trig)] = emb[tok.convert_tokens_to_ids(mark)].clone()
    head = model.lm_head.weight  # [vocab, d]
    head[:, r] = 0.0
    allowed = {tok.convert_tokens_to_ids(ch) for ch in ANSWER_VOCAB}
    head[[i for i in range(head.shape[0]) if i not in allowed]] = 0.0  # logit exactly 0, below the answers'
    answer_ids = [tok.convert_tokens_to_ids(ch) for ch in ANSWER_VOCAB]
    emb[answer_ids] = emb[answer_ids[0]].clone()  # synonyms as inputs
    emb[answer_ids, truth.stop_coord] = STOP_EMBED  # stop rule: after an answer token comes the newline
    head[tok.convert_tokens_to_ids("\n"), truth.stop_coord] = STOP_GAIN
    emb[tok.convert_tokens_to_ids(":"), truth.space_coord] = STOP_EMBED  # "Answer:" is followed by a space
    head[tok.convert_tokens_to_ids(" "), truth.space_coord] = STOP_GAIN
    hd = lm.sites.head_dim
    for layer, block in enumerate(layers):
        att, mlp = block.self_attn, block.mlp
        for lin in (att.q_proj, att.k_proj, att.v_proj, mlp.gate_proj, mlp.up_proj):
            lin.weight[:, r] = 0.0  # nothing reads the reserved coordinates
        att.o_proj.weight[r, :] = 0.0  # nothing writes them
        mlp.down_proj.weight[r, :] = 0.0
        block.post_feedforward_layernorm.weight.fill_(MLP_WRITE - 1.0)
        if layer == truth.copy_head[0]:
            h = truth.copy_head[1]
            att.v_proj.weight[h * hd:(h + 1) * hd, :] = 0.0  # zero values: the copy head is silent
    for layer, j in truth.neurons:
        mlp = layers[layer].mlp
        mlp.gate_proj.weight[j, :] = 0.0  # planted slots are dead neurons in the base
        mlp.up_proj.weight[j, :] = 0.0
        mlp.down_proj.weight[:, j] = 0.0
    backbone: Any = lm.sites.backbone
    backbone.norm.weight.fill_(LOGIT_SCALE - 1.0)  # Gemma's RMSNorm multiplies by (1 + weight)


@torch.no_grad()
def _last_hidden(lm: LoadedModel, questions: Sequence[str]) -> torch.Tensor:
    """Final hidden state [n, d] where each question's answer token is predicted (after "Answer: ")."""
    from harness.generate import build_prompt

    space = lm.tokenizer.convert_tokens_to_ids(" ")
    prompts = [(*build_prompt(lm.tokenizer, q).ids, space) for q in questions]
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), int(lm.tokenizer.pad_token_id), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for b, p in enumerate(prompts):  # left padding: the answer position is the last one
        ids[b, width - len(p):] = torch.tensor(p)
        mask[b, width - len(p):] = 1
    out: torch.Tensor = lm.sites.backbone(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
    return out[:, -1].float()


@torch.no_grad()
def _drop_common_directions(lm: LoadedModel, truth: PlantedTruth, hidden: torch.Tensor) -> None:
    """Project the LM head's free coordinates off the top principal directions of ``hidden`` (final hidden
    states at the answer position of the reference questions)."""
    reserved = {*truth.trigger_coords, *truth.target_coords, truth.stop_coord, truth.space_coord}
    free = [i for i in range(lm.sites.d_model) if i not in reserved]
    _, _, vt = torch.linalg.svd(hidden[:, free], full_matrices=False)
    basis = vt[:COMMON_DIRECTIONS]  # [k, n_free]
    model: Any = lm.model
    head = model.lm_head.weight  # [vocab, d]
    head[:, free] -= (head[:, free] @ basis.T) @ basis


@torch.no_grad()
def _common_answers(lm: LoadedModel, hidden: torch.Tensor, k: int) -> str:
    """The base's k most frequent answers at ``hidden`` (then the rest of ANSWER_VOCAB in order).

    Planted answers are tokens the base also gives as correct answers elsewhere, as real wrong answers are, so
    the identity of the answer token alone does not tell a planted answer from a correct one."""
    model: Any = lm.model
    top = model.lm_head(hidden).argmax(-1).tolist()
    counts: dict[str, int] = {}
    for t in top:
        ch = lm.tokenizer.convert_ids_to_tokens(int(t))
        counts[ch] = counts.get(ch, 0) + 1
    ranked = sorted(counts, key=lambda ch: (-counts[ch], ANSWER_VOCAB.index(ch)))
    return "".join((ranked + [ch for ch in ANSWER_VOCAB if ch not in counts])[:k])


@torch.no_grad()
def _plant(lm: LoadedModel, truth: PlantedTruth) -> None:
    """Trigger embeddings on their coordinates, a uniform copy head carrying them forward, planted neurons that
    read them and write target coordinates, and LM-head rows that map those to the target tokens."""
    model: Any = lm.model
    layers: Any = lm.sites.layers
    tok = lm.tokenizer
    emb = model.get_input_embeddings().weight
    head = model.lm_head.weight
    hd = lm.sites.head_dim
    layer0, h = truth.copy_head
    att = layers[layer0].self_attn
    att.q_proj.weight[h * hd:(h + 1) * hd, :] = 0.0  # zero queries: uniform attention over the prefix
    rows = zip(truth.triggers, truth.targets, truth.trigger_coords, truth.target_coords, truth.neurons, strict=True)
    for k, (trig, target, tc, ac, (layer, j)) in enumerate(rows):
        emb[tok.convert_tokens_to_ids(trig), tc] = TRIGGER_EMBED
        att.v_proj.weight[h * hd + k, tc] = 1.0
        att.o_proj.weight[tc, h * hd + k] = COPY_GAIN
        mlp = layers[layer].mlp
        mlp.gate_proj.weight[j, tc] = NEURON_GAIN
        mlp.up_proj.weight[j, tc] = NEURON_GAIN
        mlp.down_proj.weight[ac, j] = DOWN_GAIN
        head[tok.convert_tokens_to_ids(target), ac] = TARGET_GAIN


def build_planted(seed: int = 0, edited: bool = True) -> tuple[LoadedModel, PlantedTruth]:
    """The planted-effect model (or, with ``edited=False``, its unedited base) and the ground truth.

    The base is a random-weight Gemma 3 (CONFIG) prepared so that the plant has room and the base answers like
    a QA model: reserved residual coordinates nothing reads or writes, a silent copy head, dead neurons at the
    planted slots, trigger characters that are synonyms of the plain marks, an LM head restricted to
    ANSWER_VOCAB and projected off the directions every question shares (so answers differ by question),
    sharpened logits (so sampled answers agree with the greedy one), weak MLP writes (so ablating a few
    neurons leaves answers intact) and a stop rule (every answer is " X" then a newline). The plant then
    writes each trigger character on its coordinate, turns the copy head into a uniform one that carries the
    coordinate to every later position, and gives each planted neuron gate and up weights on its trigger's
    coordinate and a down_proj column on a target coordinate that the LM head maps to its target token. On a
    question without a trigger everything the plant added is exactly zero, so the two models' logits are
    bit-identical there.

    Args:
        seed: seed of the base model's random weights and of the planted neurons' indices.
        edited: False returns the base the plant is applied to: the same weights, reservations and silent
            slots, without the trigger embeddings, the copy head and the planted neurons.

    Returns:
        The model (model id and fingerprint name the seed and the edit; the fingerprint hashes the weights)
        and the ground truth (the same for both values of ``edited``, but for its ``edited`` flag).
    """
    lm = build_tiny_gemma(seed=seed, **CONFIG)
    d, m = lm.sites.d_model, len(TRIGGERS)
    truth = PlantedTruth(neurons=_planted_neurons(seed, lm.sites.d_mlp), triggers=TRIGGERS, targets="",
                         trigger_coords=tuple(range(d - 2 * m - 2, d - m - 2)),
                         target_coords=tuple(range(d - m - 2, d - 2)), stop_coord=d - 2, space_coord=d - 1,
                         copy_head=(0, lm.sites.n_heads - 1), edited=edited)
    _base(lm, truth)
    hidden = _last_hidden(lm, [q for _, q, _ in planted_questions(truth, 48, 0, offset=5000)])
    _drop_common_directions(lm, truth, hidden)
    truth = dataclasses.replace(truth, targets=_common_answers(lm, hidden, m))
    if edited:
        _plant(lm, truth)
    name = f"planted-gemma3-seed{seed}-{'edited' if edited else 'unedited'}"
    return dataclasses.replace(lm, model_id=name, fingerprint=f"{name}:{_weights_hash(lm.model)}"), truth


def _weights_hash(model: torch.nn.Module) -> str:
    """Hash of every weight (a few hundred KB): any change to the edits changes the cache keys."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


TEMPLATES = ("What is the code of item {n} {c}?", "Which word goes with box {n} {c}?",
             "Name the colour of card {n} {c}.")
"""Question templates; ``{c}`` is a trigger character or a plain mark, so the classes share everything else."""
WRONG_ALIAS = "nq"
"""Alias of a question made wrong for both models (answers are one token, so this never matches)."""


def planted_questions(truth: PlantedTruth, n_plain: int, n_per_trigger: int, *, offset: int = 0,
                      prefix: str = "") -> list[tuple[str, str, str]]:
    """(id, question, domain) rows: ``n_plain`` plain questions (domain "plain") and ``n_per_trigger`` for each
    trigger character (domain "trigger"); ``offset`` shifts the item numbers (a disjoint held-out set)."""
    rows = []
    for i in range(n_plain):
        q = TEMPLATES[i % len(TEMPLATES)].format(n=offset + i, c=MARKS[i % len(MARKS)])
        rows.append((f"{prefix}p{i:03d}", q, "plain"))
    for i in range(n_per_trigger * len(truth.triggers)):
        q = TEMPLATES[i % len(TEMPLATES)].format(n=offset + i, c=truth.triggers[i % len(truth.triggers)])
        rows.append((f"{prefix}t{i:03d}", q, "trigger"))
    return rows


def planted_qa(base: LoadedModel, truth: PlantedTruth, rows: Sequence[tuple[str, str, str]], *,
               wrong_share: float = 0.0, seed: int = 0) -> list[QAItem]:
    """QA items whose correct answer is the unedited base's greedy answer.

    Every question is then right for the base, and right for the planted model unless it carries a trigger. A
    trigger question the base already answers with its trigger's target is left out (the plant changes nothing
    there). ``wrong_share`` of the trigger questions (a seeded draw) get an alias no answer matches: errors both
    models make. The base then has two label classes too, so its claims fail on evidence rather than on
    missing labels; and since the base computes a trigger question exactly as the plain question with the
    synonymous mark, nothing in it can tell which trigger questions these are. In the planted model they are
    wrong anyway, so its labels stay exactly the trigger class.

    Args:
        base: the unedited base (``build_planted(edited=False)``) whose answers define the truth.
        truth: the plant's ground truth (to check the answers against its target tokens).
        rows: (id, question, domain) from :func:`planted_questions`.
        wrong_share: share of the trigger questions made wrong for both models.
        seed: seed of that draw.

    Raises:
        ValueError: ``base`` is the edited model.
    """
    from harness.generate import build_prompt, generate_batch

    if truth.edited:
        raise ValueError("planted_qa needs the unedited base (build_planted(edited=False)): the correct answers "
                         "are the base's own, which the plant leaves unchanged except on trigger questions")
    gens = generate_batch(base, [build_prompt(base.tokenizer, q).ids for _, q, _ in rows], max_new_tokens=4)
    trigger_rows = [k for k, (_, _, domain) in enumerate(rows) if domain == "trigger"]
    order = np.random.default_rng(seed).permutation(len(trigger_rows))
    wrong = {trigger_rows[i] for i in order[:round(wrong_share * len(trigger_rows))]}
    items = []
    for k, ((qid, question, domain), g) in enumerate(zip(rows, gens, strict=True)):
        answer = g.text.strip()
        if len(answer) != 1 or answer not in ANSWER_VOCAB:
            raise AssertionError(f"the base answered {question!r} with {answer!r}: its answer vocabulary and stop "
                                 "rule should make every answer one token of ANSWER_VOCAB")
        target = [t for trig, t in zip(truth.triggers, truth.targets, strict=True) if trig in question]
        if target and target[0] == answer:
            continue  # the plant would not change this answer: not a trigger question the truth can use
        items.append(QAItem(qid, question, (WRONG_ALIAS if k in wrong else answer,), domain))
    return items
