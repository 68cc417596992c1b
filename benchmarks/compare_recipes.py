"""The followed papers' training recipes side by side with plain GRPO on one task, tiny model, CPU.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/compare_recipes.py [--methods grpo prof ...] [--steps 20]
    python benchmarks/compare_recipes.py --report

Task and schedule as benchmarks/compare_algos.py's text part: configs/countdown_tiny.yaml (Countdown, two numbers
in 1..4), one expert warm-start per seed (80 supervised steps) that every method starts from, then the same number
of RL steps of 8 prompts x 8 samples; only the recipe differs (configs/countdown_<recipe>.yaml). SPARK runs on
configs/countdown_spark.yaml (a verified and a self-rewarded Countdown source, its own warm-start per seed) against
GRPO on the same two sources, all verified (grpo_two_envs). Held-out: 16 prompts x 32 samples at temperature 1
(pass@k, CoT-pass@1 with the rule judge). Each recipe's own diagnostics (prof/*, rise/*, rlplus/*, spark/*) are
averaged over the RL steps. Writes <out>/results.json and prints the table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.compare_algos import TEXT_EVAL, mean_sd, summary, train, warm_start  # noqa: E402

BASE = "configs/countdown_tiny.yaml"
SPARK = "configs/countdown_spark.yaml"
METHODS = {  # name: (config, overrides, config of the warm-start it starts from)
    "grpo": (BASE, [], BASE),
    "prof": ("configs/countdown_prof.yaml", [], BASE),
    "rise": ("configs/countdown_rise.yaml", [], BASE),
    "rlplus": ("configs/countdown_rlplus.yaml", [], BASE),
    "grpo_two_envs": (SPARK, ["algo.name=grpo", "algo.self_reward_envs=[]", "algo.minibatch_size=64"], SPARK),
    "spark": (SPARK, [], SPARK),
}
RECIPE_PREFIXES = ("prof/", "rise/", "rlplus/", "spark/")


def recipe_diagnostics(run_dir: Path) -> dict[str, float]:
    """Each recipe metric averaged over the run's RL steps (and its last 5 steps, as `<key>@last5`)."""
    from mmrl.logger import read_jsonl

    rows = [r for r in read_jsonl(run_dir / "metrics.jsonl") if "time/update_s" in r]
    keys = sorted({k for r in rows for k in r if k.startswith(RECIPE_PREFIXES)})
    out = {}
    for k in keys:
        values = [r[k] for r in rows if k in r]
        out[k] = float(np.mean(values))
        out[f"{k}@last5"] = float(np.mean(values[-5:]))
    return out


def run(methods: list[str], seeds: list[int], steps: int, out: Path, report_only: bool) -> dict[str, list[dict]]:
    results: dict[str, list[dict]] = {m: [] for m in methods}
    for seed in seeds:
        for method in methods:
            config, overrides, warm_config = METHODS[method]
            run_dir = out / method / f"seed{seed}"
            if not report_only:
                name = "warm" if warm_config == BASE else "warm_" + Path(warm_config).stem
                warm = warm_start(warm_config, seed, out / f"{name}_seed{seed}")
                train(config, [*overrides, f"model.path={warm}", "train.sft_steps=0", f"train.seed={seed}",
                               f"train.total_steps={steps}", "train.eval_every=0", *TEXT_EVAL], run_dir)
            if (run_dir / "done.json").is_file():
                results[method].append(summary(run_dir) | recipe_diagnostics(run_dir) | {"seed": seed})
                r = results[method][-1]
                print(f"{method} seed {seed}: pass@1 {r['end/pass@1']:.3f}, pass@32 {r['end/pass@32']:.3f}, "
                      f"cpu {r['cpu_s']:.0f} s", flush=True)
    return results


def table(results: dict[str, list[dict]]) -> str:
    keys = [("pass@1", "end/pass@1"), ("pass@32", "end/pass@32"), ("CoT-pass@1", "end/cot_pass@1"),
            ("train return (last 5)", "train_return_last5"), ("s / step", "s_per_step"), ("CPU s / run", "cpu_s")]
    lines = ["| method | " + " | ".join(k for k, _ in keys) + " | pass@1 per seed |", "|---" * (len(keys) + 2) + "|"]
    for method, runs in results.items():
        if not runs:
            continue
        cells = [mean_sd([r.get(k, float("nan")) for r in runs]) for _, k in keys]
        per_seed = " / ".join(f"{r['end/pass@1']:.3f}" for r in runs)
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {per_seed} |")
    for method, runs in results.items():
        if runs:  # the methods sharing a warm-start config start from the same policies
            lines.append(f"\n{method}: warm-start pass@1 (step 0) {mean_sd([r['start/pass@1'] for r in runs])}")
    diag = sorted({k for runs in results.values() for r in runs for k in r if k.startswith(RECIPE_PREFIXES)})
    for k in diag:
        values = [r[k] for runs in results.values() for r in runs if k in r]
        lines.append(f"- {k}: {mean_sd(values)}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "compare_recipes")
    parser.add_argument("--report", action="store_true", help="run nothing: summarise the finished runs in --out")
    args = parser.parse_args()
    results = run(args.methods, args.seeds, args.steps, args.out, args.report)
    if args.report:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.json").write_text(json.dumps(results, indent=1))
    print(table(results))


if __name__ == "__main__":
    main()
