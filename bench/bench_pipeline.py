"""Throughput of the pipeline's hot paths on the embedded Gemma 3 270M, beside naive baselines.

Prints generation throughput (sequences/s, generated tokens/s) for the harness's batched decoder, plain
batched `generate` and one-at-a-time `generate`; CETT feature capture (tokens/s) beside the plain forward
pass of the same backbone (the practical ceiling) and a naive per-example pipeline (full model with the LM
head, one example at a time); and peak memory. Run: `make bench` or `python bench/bench_pipeline.py`.
"""

from __future__ import annotations

import argparse
import logging
import resource
import time

import numpy as np
import torch


def _timed(fn):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=96, help="questions per measurement")
    ap.add_argument("--n-naive", type=int, default=16, help="questions for the one-at-a-time baselines")
    ap.add_argument("--batch-size", type=int, default=48)
    ap.add_argument("--max-new-tokens", type=int, default=16)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--sweep-items", type=int, default=60, help="counterfactual items in the intervention sweep")
    ap.add_argument("--sweep-sets", type=int, default=4, help="random neuron sets beside the treatment in the sweep")
    ap.add_argument("--claims", action="store_true",
                    help="also run every shipped claim cold (empty store, in a temporary folder) and warm, printing "
                         "each claim's wall time and the peak memory of each run (about an hour on 2 cores)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_grad_enabled(False)

    from harness.activations import FeatureInput, answer_span, capture_cett
    from harness.benchmarks import load_embedded_qa
    from harness.generate import build_prompt, generate_batch
    from harness.models import load_embedded

    lm, load_s = _timed(lambda: load_embedded(device=args.device, dtype=args.dtype))
    print(f"model: {lm.model_id} on {lm.device} ({lm.dtype}), loaded in {load_s:.1f} s; "
          f"torch threads {torch.get_num_threads()}")
    items = load_embedded_qa()[:: max(1, len(load_embedded_qa()) // args.n)][: args.n]
    prompts = [build_prompt(lm.tokenizer, it.question).ids for it in items]
    stops = lm.newline_token_ids()
    generate_batch(lm, prompts[:4], max_new_tokens=2)  # warm-up

    def ours():  # type: ignore[no-untyped-def]
        out = []
        for b in range(0, len(prompts), args.batch_size):
            out += generate_batch(lm, prompts[b:b + args.batch_size], max_new_tokens=args.max_new_tokens)
        return out

    gens, t_ours = _timed(ours)
    n_tok = sum(len(g.answer_ids) + (g.stop_id is not None) for g in gens)

    def hf_batched():  # type: ignore[no-untyped-def]
        for b in range(0, len(prompts), args.batch_size):
            chunk = prompts[b:b + args.batch_size]
            w = max(map(len, chunk))
            ids = torch.tensor([[0] * (w - len(p)) + list(p) for p in chunk], device=lm.device)
            mask = torch.tensor([[0] * (w - len(p)) + [1] * len(p) for p in chunk], device=lm.device)
            lm.model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=args.max_new_tokens,
                              do_sample=False, eos_token_id=stops, pad_token_id=0)

    _, t_hf = _timed(hf_batched)

    def hf_single():  # type: ignore[no-untyped-def]
        for p in prompts[: args.n_naive]:
            lm.model.generate(input_ids=torch.tensor([p], device=lm.device), max_new_tokens=args.max_new_tokens,
                              do_sample=False, eos_token_id=stops, pad_token_id=0)

    _, t_single = _timed(hf_single)
    n = len(prompts)
    r_ours, r_hf, r_single = n / t_ours, n / t_hf, args.n_naive / t_single
    print("\n== generation (greedy, stop at newline) ==")
    print(f"harness batched decoder : {r_ours:7.2f} seq/s  {n_tok / t_ours:7.1f} gen tok/s  ({n} seqs, {t_ours:.1f} s)")
    print(f"HF generate, batched    : {r_hf:7.2f} seq/s  -> harness is {r_ours / r_hf:.2f}x")
    print(f"HF generate, one at a time: {r_single:5.2f} seq/s  -> harness is {r_ours / r_single:.2f}x")
    _bench_head(lm, prompts, args, gens, r_ours)

    inputs = []
    for p, it, g in zip(prompts, items, gens, strict=True):
        bp = build_prompt(lm.tokenizer, it.question)
        resp = g.answer_ids + ((g.stop_id,) if g.stop_id is not None else ())
        span = answer_span(g.answer_ids, lm.tokenizer)
        inputs.append(FeatureInput(p, resp, span if span[1] > span[0] else (0, len(resp)), bp.question_span))
    n_tokens = sum(len(x.prompt_ids) + len(x.response_ids) for x in inputs)
    capture_cett(lm, inputs[:2])  # warm-up
    _, t_cap = _timed(lambda: capture_cett(lm, inputs, ("answer",), batch_size=16))

    by_len = sorted(inputs, key=lambda x: len(x.prompt_ids) + len(x.response_ids))  # same batches as capture

    def plain_forward():  # type: ignore[no-untyped-def]
        for b in range(0, len(by_len), 16):
            chunk = [list(x.prompt_ids) + list(x.response_ids) for x in by_len[b:b + 16]]
            w = max(map(len, chunk))
            ids = torch.tensor([s + [0] * (w - len(s)) for s in chunk], device=lm.device)
            mask = torch.tensor([[1] * len(s) + [0] * (w - len(s)) for s in chunk], device=lm.device)
            lm.sites.backbone(input_ids=ids, attention_mask=mask, use_cache=False)

    _, t_plain = _timed(plain_forward)

    def naive_capture():  # type: ignore[no-untyped-def]
        """One example at a time, full model incl. LM head, CETT computed per layer after the pass."""
        for x in inputs[: args.n_naive]:
            zs: dict[int, torch.Tensor] = {}
            hs = [lm.sites.down_proj(L).register_forward_pre_hook(lambda m, a, L=L, zs=zs: zs.__setitem__(L, a[0]))
                  for L in range(lm.sites.n_layers)]
            try:
                lm.model(input_ids=torch.tensor([list(x.prompt_ids) + list(x.response_ids)], device=lm.device))
            finally:
                for h in hs:
                    h.remove()
            for L in range(lm.sites.n_layers):
                W = lm.sites.down_proj(L).weight.float()
                z = zs[L][0].float()
                (z.abs() * W.norm(dim=0) / (z @ W.T).norm(dim=-1, keepdim=True)).mean(0)

    _, t_naive = _timed(naive_capture)
    naive_tokens = sum(len(x.prompt_ids) + len(x.response_ids) for x in inputs[: args.n_naive])
    cap, plain, naive = n_tokens / t_cap, n_tokens / t_plain, naive_tokens / t_naive
    print("\n== CETT feature capture (all 18 layers x 2048 neurons) ==")
    print(f"harness capture (batched, no LM head): {cap:8.0f} tok/s")
    print(f"plain backbone forward (ceiling)     : {plain:8.0f} tok/s -> capture at {cap / plain:.0%} of it")
    print(f"naive per-example with LM head       : {naive:8.0f} tok/s -> harness is {cap / naive:.2f}x")
    _bench_scoring(lm, args.n_naive)
    _bench_judge(lm)
    _bench_sweep(lm, args.sweep_items, args.sweep_sets, args.n_naive)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak resident memory: {peak:.0f} MiB")
    if args.claims:
        del lm
        _bench_claims()
    if lm.device.type == "cuda":
        print(f"peak CUDA memory: {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB")


def _bench_head(lm, prompts, args, gens, r_ours):  # type: ignore[no-untyped-def]
    """The certified bf16 screen of the LM head against the full float32 head: greedy and sampled decoding."""
    import os

    from harness.generate import generate_batch, row_key
    from harness.generate._head import screen_for

    def run(mode, greedy, ps, keys=None):  # type: ignore[no-untyped-def]
        old = os.environ.get("HARNESS_LM_HEAD_SCREEN")
        os.environ["HARNESS_LM_HEAD_SCREEN"] = mode
        try:
            out = []
            for b in range(0, len(ps), args.batch_size):
                out += generate_batch(lm, ps[b:b + args.batch_size], max_new_tokens=args.max_new_tokens,
                                      greedy=greedy, row_keys=None if keys is None else keys[b:b + args.batch_size])
            return out
        finally:
            if old is None:
                os.environ.pop("HARNESS_LM_HEAD_SCREEN", None)
            else:
                os.environ["HARNESS_LM_HEAD_SCREEN"] = old

    screen = screen_for(lm.sites.lm_head)
    if screen is None:
        print("LM head screen: not used here (a bf16/fp16 head, or no bf16 kernels on this CPU)")
        return
    full, t_full = _timed(lambda: run("0", True, prompts))
    print(f"same decoder, full float32 LM head: {len(prompts) / t_full:5.2f} seq/s -> the bf16 screen gives "
          f"{r_ours / (len(prompts) / t_full):.2f}x; identical answers: {full == gens}")
    k = 5  # the K samples of a question share its prompt, as in the sampling stage
    ps = [p for p in prompts for _ in range(k)]
    keys = [row_key(0, str(i // k), i % k) for i in range(len(ps))]
    before = (screen.rows_screened, screen.rows_full)
    scr, t_scr = _timed(lambda: run("auto", False, ps, keys))
    rows = (screen.rows_screened - before[0], screen.rows_full - before[1])
    ref, t_ref = _timed(lambda: run("0", False, ps, keys))
    print(f"\n== sampling ({len(prompts)} questions x {k} samples, T=1, top-k 50, top-p 0.9) ==")
    print(f"harness, bf16-screened LM head: {len(ps) / t_scr:7.2f} seq/s ({t_scr:.1f} s); rows certified "
          f"{rows[0]}, sent to the full head {rows[1]}")
    print(f"harness, full float32 LM head : {len(ps) / t_ref:7.2f} seq/s -> screen gives {t_ref / t_scr:.2f}x; "
          f"identical samples: {scr == ref}")


def _bench_judge(lm, n=60):  # type: ignore[no-untyped-def]
    """An LLM judge's enum scoring (SimpleQA rubric) with the rubric's prefix kept across calls, against
    prefilling every request whole: the loopback judge server's path."""
    from harness.benchmarks import load_embedded_qa
    from harness.generate._decode import PrefixKV
    from harness.judges._llm import get_rubric
    from harness.judges._server import decode_enum_json, enum_properties, render_chat

    rubric = get_rubric("simpleqa_grade")
    items = load_embedded_qa()[:n]
    reqs = []
    for it in items:
        inputs = rubric.input_model(question=it.question, gold_target=it.aliases[0], predicted_answer=it.aliases[-1])
        reqs.append(render_chat(lm.tokenizer, rubric.messages(inputs)))
    props = enum_properties(rubric.response_format())
    kept = PrefixKV()
    a, t_kept = _timed(lambda: [decode_enum_json(lm, b, p, props, kept) for b, p in reqs])
    b_, t_plain = _timed(lambda: [decode_enum_json(lm, b, p, props) for b, p in reqs])
    print(f"\n== LLM-judge scoring ({n} requests, rubric {rubric.tag}) ==")
    print(f"rubric prefix kept across requests ({len(kept.ids)} tokens): {n / t_kept:6.1f} requests/s")
    print(f"every request prefilled whole                : {n / t_plain:6.1f} requests/s -> kept prefix gives "
          f"{t_plain / t_kept:.2f}x; identical verdicts: {a == b_}")


def _bench_scoring(lm, n_naive):  # type: ignore[no-untyped-def]
    """Forward-only MC scoring (the intervention claims' outcome): shared-prompt choices vs one sequence per
    choice vs a naive full-model pass per choice."""
    from harness.benchmarks import load_embedded_truthfulqa
    from harness.generate import encode_continuation, score_choices, score_continuations

    tok = lm.tokenizer
    items = load_embedded_truthfulqa()
    prompts = [[tok.bos_token_id, *tok(f"Q: {it.question}\nA:", add_special_tokens=False).input_ids] for it in items]
    choices = [[encode_continuation(tok, c) for c in it.choices] for it in items]
    pairs = [(p, c) for p, cs in zip(prompts, choices, strict=True) for c in cs]
    score_choices(lm, prompts[:4], choices[:4])  # warm-up
    shared, t_shared = _timed(lambda: score_choices(lm, prompts, choices, batch_size=16))
    flat, t_flat = _timed(lambda: score_continuations(lm, pairs, batch_size=32))
    assert np.allclose(np.concatenate(shared), flat[0], atol=1e-3)

    def naive():  # type: ignore[no-untyped-def]
        for p, cs in list(zip(prompts, choices, strict=True))[:n_naive]:
            for c in cs:
                logits = lm.model(input_ids=torch.tensor([p + c], device=lm.device)).logits[0].float()
                lp = torch.log_softmax(logits, -1)
                sum(float(lp[len(p) + i - 1, t]) for i, t in enumerate(c))

    _, t_naive = _timed(naive)
    n = len(items)
    print(f"\n== forward-only MC scoring ({n} TruthfulQA-style items, {len(pairs)} choices) ==")
    print(f"harness score_choices (prompt once, KV reused): {n / t_shared:7.1f} items/s ({t_shared:.1f} s)")
    print(f"one sequence per choice, LM head on answers  : {n / t_flat:7.1f} items/s -> shared is "
          f"{t_flat / t_shared:.2f}x")
    print(f"naive full-model pass per choice             : {n_naive / t_naive:7.1f} items/s -> harness is "
          f"{(n / t_shared) / (n_naive / t_naive):.2f}x")


def _bench_sweep(lm, n_items, n_sets, n_naive):  # type: ignore[no-untyped-def]
    """An intervention sweep as the claims run it: a neuron set and random matched sets, each at 3 alphas,
    scored forward-only (log P(context answer) - log P(real answer)) on the same counterfactual items; beside
    a naive sweep (one item and one option at a time, full model with the LM head on every position) and the
    plain backbone forward over the same prompts and conditions (the ceiling)."""
    from harness.benchmarks import load_embedded_counterfactual
    from harness.claims._evaluate import Evaluator
    from harness.claims._spec_intervention import BenchmarkSpec
    from harness.controls import random_matched_neurons
    from harness.interventions import scale_neurons, scale_neurons_grouped

    rng = np.random.default_rng(0)
    d_mlp, n_layers = lm.sites.d_mlp, lm.sites.n_layers
    treat = sorted({(int(rng.integers(n_layers)), int(rng.integers(d_mlp))) for _ in range(60)})
    sets = [treat] + [random_matched_neurons(treat, d_mlp, n_layers, treat, np.random.default_rng(s))
                      for s in range(n_sets)]
    alphas = (0.0, 2.0, 3.0)
    conditions = [(u, a) for u in sets for a in alphas]
    items = [it for it in load_embedded_counterfactual() if it.best >= 0][:n_items]
    ev = Evaluator(lm, BenchmarkSpec(kind="counterfactual", metric="target_margin"), items)
    ev.run()  # warm-up

    def ours_one(units, a):  # type: ignore[no-untyped-def]
        with scale_neurons(lm, units, a):
            return ev.run()

    single, t_ours = _timed(lambda: [ours_one(u, a) for u, a in conditions])
    per_pass = len(alphas)

    def grouped():  # type: ignore[no-untyped-def]
        out = []
        for k in range(0, len(conditions), per_pass):
            with scale_neurons_grouped(lm, conditions[k:k + per_pass]):
                out += list(ev.run_grouped(len(conditions[k:k + per_pass])))
        return out

    both, t_grouped = _timed(grouped)
    gap = float(np.max(np.abs(np.array(both) - np.array(single))))
    prompts = [ev._choices(it, "target_margin") for it in items]

    def ceiling():  # type: ignore[no-untyped-def]
        seqs = sorted((list(p) for p, _ in prompts), key=len)
        for _ in conditions:
            for b in range(0, len(seqs), ev.spec.batch_size):
                chunk = seqs[b:b + ev.spec.batch_size]
                w = max(map(len, chunk))
                ids = torch.tensor([[0] * (w - len(x)) + x for x in chunk], device=lm.device)
                mask = torch.tensor([[0] * (w - len(x)) + [1] * len(x) for x in chunk], device=lm.device)
                lm.sites.backbone(input_ids=ids, attention_mask=mask, use_cache=False)

    _, t_ceiling = _timed(ceiling)
    from harness.generate import encode_continuation

    naive_conditions = conditions[: max(1, len(conditions) // 5)]

    def naive():  # type: ignore[no-untyped-def]
        for units, a in naive_conditions:
            with scale_neurons(lm, units, a):
                for p, opts in prompts[:n_naive]:
                    for o in opts:
                        c = encode_continuation(lm.tokenizer, o)
                        lp = torch.log_softmax(lm.model(input_ids=torch.tensor([list(p) + c])).logits[0].float(), -1)
                        sum(float(lp[len(p) + i - 1, t]) for i, t in enumerate(c))

    _, t_naive = _timed(naive)
    cells = len(items) * len(conditions)
    r_ours, r_ceiling = cells / t_ours, cells / t_ceiling
    r_naive = n_naive * len(naive_conditions) / t_naive
    print(f"\n== intervention sweep: {len(sets)} neuron sets x {len(alphas)} alphas on {len(items)} counterfactual "
          f"items ({cells} item-conditions) ==")
    print(f"harness (forward-only, prompt once per condition): {r_ours:7.1f} item-conditions/s ({t_ours:.1f} s)")
    print(f"harness, {per_pass} conditions per batched pass          : {cells / t_grouped:7.1f} item-conditions/s -> "
          f"{t_ours / t_grouped:.2f}x one condition per pass (largest difference {gap:.1e} nats)")
    print(f"plain backbone forward over the prompts (ceiling)  : {r_ceiling:7.1f} item-conditions/s -> harness at "
          f"{r_ours / r_ceiling:.0%} of it")
    print(f"naive (one item and option at a time, LM head)     : {r_naive:7.1f} item-conditions/s -> harness is "
          f"{r_ours / r_naive:.2f}x")


def _bench_claims() -> None:
    """Every shipped claim end to end: once cold (an empty store and results folder; the dequantized weights
    cache is kept) and once warm (the same store), in subprocesses; per-claim wall time and peak memory."""
    import json
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        runs = {}
        for name in ("cold", "warm"):
            results = Path(tmp) / f"results-{name}"
            cmd = [sys.executable, "-m", "pytest", "claims", "-q", "-p", "no:cacheprovider",
                   f"--claims-store={Path(tmp) / 'store'}", f"--claims-results={results}"]
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # max over children so far
            times = {}
            for f in sorted(results.glob("*.json")):
                if not f.name.startswith("_"):
                    r = json.loads(f.read_text())
                    times[r["claim_id"]] = (r["timings"].get("total_s", float("nan")), r["verdict"])
            runs[name] = (wall, peak if peak > before else before, times, proc.returncode)
    cold, warm = runs["cold"], runs["warm"]
    print(f"\n== shipped claims end to end ({len(cold[2])} run here; pytest exit {cold[3]} cold, {warm[3]} warm) ==")
    print(f"{'claim':<44} {'cold s':>8} {'warm s':>8}  verdict")
    for cid in sorted(cold[2]):
        print(f"{cid:<44} {cold[2][cid][0]:8.1f} {warm[2].get(cid, (float('nan'),))[0]:8.1f}  {cold[2][cid][1]}")
    print(f"{'whole run (wall, incl. collection and model load)':<44} {cold[0]:8.1f} {warm[0]:8.1f}")
    print(f"peak resident memory of a claim run: {max(cold[1], warm[1]) / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
