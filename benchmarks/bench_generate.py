"""Generation speed of the vLLM backend against the HF backend: tokens/s, same model, same prompts, interleaved.

    OMP_NUM_THREADS=1 python benchmarks/bench_generate.py [--reps 3] [--sizes 64x2,512x8,1024x12] [--out r.json]
        [--dtype float32|bfloat16]

For each model size (hidden x layers of mmrl's tiny Qwen2 text model, random init, in `--dtype`, float32 unless
told; both backends run the same dtype, `model.dtype` in a training config):
- the model is built by `mmrl.models.loading.build_tiny_policy` and saved; `HFBackend` generates on that policy and
  `VLLMBackend` (an in-process vLLM engine loaded from the saved folder and synced from the policy) on the same
  weights: the two classes the trainer uses;
- the batch is the trainer's: 16 prompts x 8 samples (each prompt object repeated 8 times in a row, as the
  trainer sends a GRPO group), at most 32 new tokens, temperature 1, top-p 1; the HF backend's default batch of 128;
- one untimed call of each, then `--reps` timed calls of each, alternating (HF, vLLM, HF, vLLM, ...) so both see
  the same load from other processes;
- tokens/s counts the completion tokens actually produced (up to and including a stop token), so a backend that
  stops early is not credited with tokens it did not make.
The headline ratio is vLLM/HF of median tokens/s; printed too: the median over repetitions of the ratio of each
adjacent pair of calls (they saw nearly the same load) and the ratio of the best calls (least moved by load).
Engine start-up (vLLM) is reported but not counted: it is paid once per run.

A ceiling is measured beside them, after each pair of calls: the rate of a plain matmul in the same dtype of the decode
step's shape ((samples, hidden) x (hidden, 2 hidden)) on this machine at that moment, turned into tokens/s at
2 x parameters FLOPs per generated token. No backend can generate much faster than that here (attention over these
short sequences adds little), so it tells how much of the ratio is left to win at each size.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import tempfile
import time
from pathlib import Path

import mmrl.models  # noqa: F401  (first: the torchvision shim, before transformers/vLLM touch Qwen2.5-VL)

# isort: split
import torch

from mmrl.config import ModelConfig, VLLMConfig
from mmrl.models.loading import build_tiny_policy, save_policy
from mmrl.models.policy import Policy, Prompt
from mmrl.rollout.backends import HFBackend, SamplingParams

TARGET_RATIO = 1.5
"""Aim (issue 11): vLLM at least 1.5x the HF backend's tokens/s at ~20M parameters and above."""
TARGET_MIN_PARAMS = 15_000_000

CORPUS = [
    "Name the colour of the shape: red, green, blue or yellow. Answer with one word.",
    "A circle, a square and a triangle sit on a grid; move left, right, up or down to reach the goal.",
    "What is seven plus five? Think step by step, then give the number.",
] * 10

WORDS = ("red green blue yellow circle square triangle left right up down goal number seven five step "
         "think answer colour shape grid").split()


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """'64x2,512x8' -> [(64, 2), (512, 8)] (hidden size x layers)."""
    sizes = []
    for item in text.split(","):
        hidden, layers = item.lower().split("x")
        sizes.append((int(hidden), int(layers)))
    return sizes


def make_prompts(policy: Policy, n_prompts: int, group_size: int) -> list[Prompt]:
    """`n_prompts` distinct chat prompts, each object repeated `group_size` times in a row (one GRPO group)."""
    prompts = []
    for i in range(n_prompts):
        words = " ".join(WORDS[(i * 3 + k) % len(WORDS)] for k in range(6 + i % 5))
        prompt = policy.encode([{"role": "user", "content": f"Task {i}: {words}. Answer:"}])
        prompts.extend([prompt] * group_size)
    return prompts


def timed_generate(backend, prompts: list[Prompt], params: SamplingParams) -> tuple[float, int]:
    """(seconds, completion tokens produced) of one `generate` call."""
    start = time.perf_counter()
    completions = backend.generate(prompts, params)
    seconds = time.perf_counter() - start
    if len(completions) != len(prompts):
        raise RuntimeError(f"{type(backend).__name__} returned {len(completions)} completions for {len(prompts)}")
    return seconds, sum(len(c.token_ids) for c in completions)


def matmul_gflops(rows: int, hidden: int, dtype: str = "float32", seconds: float = 0.3) -> float:
    """GFLOP/s of `(rows, hidden) @ (hidden, 2 hidden)` in `dtype` on the current torch threads."""
    kind = getattr(torch, dtype)
    x, w = torch.randn(rows, hidden, dtype=kind), torch.randn(2 * hidden, hidden, dtype=kind)
    x @ w.T
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        x @ w.T
        calls += 1
    return 2 * rows * hidden * 2 * hidden * calls / elapsed / 1e9


def profile_call(backend, prompts: list[Prompt], params: SamplingParams, top: int = 12) -> str:
    """cProfile of one `generate` call, the `top` entries by own time (where each backend's time goes)."""
    profiler = cProfile.Profile()
    profiler.enable()
    backend.generate(prompts, params)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def bench_size(hidden: int, layers: int, reps: int, n_prompts: int, group_size: int, max_new_tokens: int,
               tmp: str, kind: str = "text", profile: bool = False, dtype: str = "float32") -> dict:
    """Both backends on one freshly built model; returns per-backend call times and tokens."""
    from mmrl.rollout.vllm_backend import VLLMBackend  # lazy: vLLM is optional and slow to import

    cfg = ModelConfig(tiny=kind, tiny_hidden_size=hidden, tiny_layers=layers, dtype=dtype)
    policy = build_tiny_policy(cfg, CORPUS)
    policy.model.eval()
    model_dir = os.path.join(tmp, f"{kind}-{hidden}x{layers}-{dtype}")
    save_policy(policy, model_dir)
    n_params = sum(p.numel() for p in policy.model.parameters())
    prompts = make_prompts(policy, n_prompts, group_size)

    start = time.perf_counter()
    vllm = VLLMBackend(policy, model_dir, VLLMConfig(), seed=0)
    startup_s = time.perf_counter() - start
    backends = {"hf": HFBackend(policy, batch_size=n_prompts * group_size), "vllm": vllm}
    runs: dict[str, dict[str, list[float]]] = {name: {"seconds": [], "tokens": []} for name in backends}
    gflops: list[float] = []
    try:
        for rep in range(reps + 1):  # rep 0 warms both up (first-call costs: vLLM's logprob path, HF's caches)
            params = SamplingParams(max_new_tokens=max_new_tokens, temperature=1.0, top_p=1.0, seed=1000 + rep)
            torch.manual_seed(1000 + rep)
            for name, backend in backends.items():
                seconds, tokens = timed_generate(backend, prompts, params)
                if rep > 0:
                    runs[name]["seconds"].append(seconds)
                    runs[name]["tokens"].append(tokens)
            if rep > 0:
                gflops.append(matmul_gflops(len(prompts), hidden, dtype))
        if profile:  # after the timed calls: profiling slows the call it watches
            for name, backend in backends.items():
                print(f"----- {name} {kind} {hidden}x{layers}: one generate call, by own time")
                print(profile_call(backend, prompts, params))
    finally:
        vllm.close()
    row = {"kind": kind, "hidden": hidden, "layers": layers, "dtype": dtype, "params": n_params,
           "vllm_startup_s": startup_s, "threads": torch.get_num_threads()}
    for name, run in runs.items():
        rates = [t / s for t, s in zip(run["tokens"], run["seconds"])]
        row[name] = {"tok_s_median": statistics.median(rates), "tok_s_max": max(rates),
                     "seconds": run["seconds"], "tokens": run["tokens"]}
    row["matmul_gflops_median"] = statistics.median(gflops)
    row["ceiling_tok_s"] = row["matmul_gflops_median"] * 1e9 / (2 * n_params)
    row["ratio_median"] = row["vllm"]["tok_s_median"] / row["hf"]["tok_s_median"]
    row["ratio_best"] = row["vllm"]["tok_s_max"] / row["hf"]["tok_s_max"]
    row["ratio_pairs_median"] = statistics.median(
        (tv / sv) / (th / sh) for tv, sv, th, sh in zip(runs["vllm"]["tokens"], runs["vllm"]["seconds"],
                                                        runs["hf"]["tokens"], runs["hf"]["seconds"]))
    return row


def run(sizes: list[tuple[int, int]], reps: int = 3, n_prompts: int = 16, group_size: int = 8,
        max_new_tokens: int = 32, vl: bool = False, profile: bool = False, dtype: str = "float32") -> dict:
    """Measure every size (and the tiny VL model when `vl`); returns what `main` prints and writes."""
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory(prefix="mmrl-bench-gen-") as tmp:
        for hidden, layers in sizes:
            rows.append(bench_size(hidden, layers, reps, n_prompts, group_size, max_new_tokens, tmp, profile=profile,
                                   dtype=dtype))
            print_row(rows[-1])
        if vl:
            rows.append(bench_size(64, 2, reps, n_prompts, group_size, max_new_tokens, tmp, kind="vl", dtype=dtype))
            print_row(rows[-1])
    aim = [r for r in rows if r["kind"] == "text" and r["params"] >= TARGET_MIN_PARAMS]
    return {
        "machine": f"{os.cpu_count()} CPU cores, torch threads {torch.get_num_threads()}, "
                   f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}",
        "job": {"prompts": n_prompts, "group_size": group_size, "max_new_tokens": max_new_tokens, "reps": reps,
                "temperature": 1.0, "dtype": dtype},
        "rows": rows,
        "target": TARGET_RATIO,
        "target_met": bool(aim) and all(r["ratio_median"] >= TARGET_RATIO for r in aim),
    }


HEADER = (f"{'model':<16}{'params':>10}{'HF tok/s':>11}{'(best)':>9}{'vLLM tok/s':>12}{'(best)':>9}"
          f"{'vLLM/HF':>9}{'(pairs)':>8}{'(best)':>8}{'ceiling':>9}{'HF tok':>8}{'vLLM tok':>9}")


def print_row(row: dict) -> None:
    if not getattr(print_row, "header_done", False):
        print(HEADER)
        print_row.header_done = True
    name = f"{row['kind']} {row['hidden']}x{row['layers']}"
    print(f"{name:<16}{row['params'] / 1e6:>9.1f}M{row['hf']['tok_s_median']:>11.0f}{row['hf']['tok_s_max']:>9.0f}"
          f"{row['vllm']['tok_s_median']:>12.0f}{row['vllm']['tok_s_max']:>9.0f}{row['ratio_median']:>9.2f}"
          f"{row['ratio_pairs_median']:>8.2f}{row['ratio_best']:>8.2f}{row['ceiling_tok_s']:>9.0f}{statistics.median(row['hf']['tokens']):>8.0f}"
          f"{statistics.median(row['vllm']['tokens']):>9.0f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="64x2,512x8,1024x12", help="hidden x layers, comma-separated")
    parser.add_argument("--reps", type=int, default=3, help="timed calls per backend and size (after one warm-up)")
    parser.add_argument("--prompts", type=int, default=16, help="distinct prompts per call")
    parser.add_argument("--group-size", type=int, default=8, help="samples per prompt")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--vl", action="store_true", help="also a row for the tiny Qwen2.5-VL (text prompts)")
    parser.add_argument("--profile", action="store_true", help="after timing, cProfile one call of each backend")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"],
                        help="the model's dtype, in both backends")
    parser.add_argument("--out", default=None, help="also write the numbers as JSON to this path")
    args = parser.parse_args()
    result = run(parse_sizes(args.sizes), args.reps, args.prompts, args.group_size, args.max_new_tokens, args.vl,
                 args.profile, args.dtype)
    print(f"{result['machine']}; {result['job']}")
    for row in result["rows"]:
        ceiling = row["ceiling_tok_s"] / row["hf"]["tok_s_median"]
        print(f"{row['kind']} {row['hidden']}x{row['layers']}: vLLM/HF = {row['ratio_median']:.2f} (median; pairs "
              f"{row['ratio_pairs_median']:.2f}; best {row['ratio_best']:.2f}); matmul ceiling / HF = {ceiling:.1f}; "
              f"vLLM start-up {row['vllm_startup_s']:.1f} s, not counted")
    print(f"aim vLLM/HF >= {TARGET_RATIO} at >= {TARGET_MIN_PARAMS / 1e6:.0f}M parameters: "
          f"{'met' if result['target_met'] else 'NOT met'}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
