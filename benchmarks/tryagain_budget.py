"""UFO's claim on a TryAgain run: k turns of "try again" (succ@k) against k independent single-turn answers
(pass@k), the same budget of k responses per problem, before RL (the warm-started weights) and after RL.

    OMP_NUM_THREADS=1 python benchmarks/tryagain_budget.py RUN_DIR [RUN_DIR ...] [--k 4] [--episodes 100]
    python benchmarks/tryagain_budget.py --report RUN_DIR [RUN_DIR ...] [--plot docs/tryagain_budget.png]

RUN_DIR is a `mmrl train` run of a `mmrl/TryAgain-*` config with a KL reference (so `<run>/warm_start` holds the
warm-started weights). For each of its weights (warm_start, the last checkpoint) both measures use the run's own
env and held-out seeds (`eval.seed_offset` up), sampling at `eval.temperature`:
- succ@k: one TryAgain episode of k turns per problem (the run's env with `try_again.max_turns = k`), solved
  within k turns; each turn sees its own earlier answers and the feedback, as in training;
- pass@k: the same env with `try_again.max_turns = 1` (the one-step task, same prompt) and k samples per problem,
  the unbiased pass@k estimator.
The numbers go to `<run>/tryagain_budget.json`; `--report` prints the table over runs (mean and std) and plots.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

from mmrl import checkpoint
from mmrl.config import env_names, load_config
from mmrl.distributed import DistContext
from mmrl.eval import evaluate
from mmrl.models.loading import base_model_path, load_run_policy
from mmrl.rollout.backends import make_backend
from mmrl.rollout.runner import EnvPool, EpisodeRunner


def measure(run_dir: Path, weights: Path, k: int, episodes: int) -> dict[str, float]:
    """succ@1..k (k-turn TryAgain) and pass@1..k (k one-turn samples) of `weights` on the run's held-out seeds."""
    out = {}
    for label, turns, samples in (("succ", k, 1), ("pass", 1, k)):
        overrides = [f"envs.0.kwargs.try_again.max_turns={turns}", f"rollout.max_episode_steps={turns}",
                     f"eval.samples_per_episode={samples}",
                     f"eval.pass_k=[{', '.join(str(i) for i in range(1, samples + 1))}]",
                     f"eval.succ_k=[{', '.join(str(i) for i in range(1, k + 1))}]", f"eval.episodes={episodes}"]
        cfg = load_config(str(run_dir / "config.yaml"), overrides)
        torch.set_num_threads(cfg.train.torch_threads)
        policy = load_run_policy(cfg.model, base_model_path(cfg.model, run_dir), weights)
        policy.model.eval()
        runner = EpisodeRunner(EnvPool(cfg.envs, eval_mode=True), policy,
                               make_backend(cfg.rollout, policy, base_model_path(cfg.model, run_dir)), cfg.rollout)
        try:
            metrics = evaluate(runner, env_names(cfg.envs), cfg.eval, cfg.rollout.max_new_tokens, DistContext(),
                               seed=cfg.train.seed)
        finally:
            runner.close()
            runner.backend.close()
        for i in range(1, k + 1):
            if label == "succ":
                out[f"succ@{i}"] = metrics[f"eval/succ@{i}"]
            elif f"eval/pass@{i}" in metrics:
                out[f"pass@{i}"] = metrics[f"eval/pass@{i}"]
        if label == "succ":
            out["format_error_rate(k turns)"] = metrics["eval/format_error_rate"]
    return out


def run(run_dirs: list[Path], k: int, episodes: int) -> None:
    for run_dir in run_dirs:
        last = checkpoint.latest_checkpoint(run_dir)
        stages = {"before RL (warm-start)": run_dir / "warm_start", f"after RL ({last.name if last else '-'})": last}
        result = {"k": k, "episodes": episodes}
        for stage, weights in stages.items():
            if weights is None or not weights.is_dir():
                sys.exit(f"{run_dir}: no {stage} weights at {weights}")
            result[stage] = measure(run_dir, weights, k, episodes)
            print(run_dir.name, stage, json.dumps({n: round(v, 3) for n, v in result[stage].items()}), flush=True)
        (run_dir / "tryagain_budget.json").write_text(json.dumps(result, indent=1))


def report(run_dirs: list[Path], plot: Path | None) -> None:
    results = [json.loads((d / "tryagain_budget.json").read_text()) for d in run_dirs]
    k = results[0]["k"]
    stages = [s for s in results[0] if s not in ("k", "episodes")]
    print("| weights | " + " | ".join(f"pass@{i} | succ@{i}" for i in range(1, k + 1)) + " |")
    print("|---" * (1 + 2 * k) + "|")
    table = {}
    for stage in stages:
        cells = []
        for i in range(1, k + 1):
            for name in (f"pass@{i}", f"succ@{i}"):
                values = [r[stage][name] for r in results if name in r[stage]]
                mean = statistics.mean(values)
                std = statistics.stdev(values) if len(values) > 1 else 0.0
                table[(stage, name)] = (mean, std)
                cells.append(f"{mean:.3f} ± {std:.3f}" if len(values) > 1 else f"{mean:.3f}")
        print(f"| {stage} | " + " | ".join(cells) + " |")
    if plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for stage, color in zip(stages, ("tab:gray", "tab:blue")):
            for name, style in (("pass", "o--"), ("succ", "s-")):
                ks = [i for i in range(1, k + 1) if (stage, f"{name}@{i}") in table]
                means = [table[(stage, f"{name}@{i}")][0] for i in ks]
                stds = [table[(stage, f"{name}@{i}")][1] for i in ks]
                ax.errorbar(ks, means, yerr=stds, fmt=style, color=color, capsize=3,
                            label=f"{name}@k, {stage}")
        ax.set(xlabel="k (responses per problem)", ylabel="solved", xticks=list(range(1, k + 1)),
               title=f"TryAgain: succ@k vs pass@k, {len(results)} seed(s)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        plot.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(plot, dpi=110)
        print(f"plot: {plot}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--report", action="store_true")
    parser.add_argument("--plot", type=Path, default=None)
    args = parser.parse_args()
    if args.report:
        report(args.runs, args.plot)
    else:
        run(args.runs, args.k, args.episodes)


if __name__ == "__main__":
    main()
