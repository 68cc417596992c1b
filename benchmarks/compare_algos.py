"""RL algorithms side by side on one text task and one multi-turn task, tiny models on CPU.

    OMP_NUM_THREADS=1 python benchmarks/compare_algos.py [--part text|multiturn|all] [--steps 20] [--seeds 0 1 2]

`text`: configs/countdown_tiny.yaml (Countdown, two numbers in 1..4) with grpo, rloo, drgrpo, dapo, rover and
grpo + DPH-RL's forward KL, each from the same per-seed warm-start (made once per seed, then loaded with
model.path), the same number of RL steps and samples per step. Held-out numbers at the end: pass@k for k = 1 .. 32
(32 samples per prompt at temperature 1), CoT-pass@1 (rule judge), distinct-n of the answers within a prompt, and
seconds per RL step. Independent invocations (e.g. `--seeds 1` beside `--seeds 2`) share --out; `--report` then
summarises every finished run. `multiturn`: configs/numberline_gigpo.yaml, gigpo against grpo (one shared warm-start;
seeds differ in RL sampling). Writes <out>/results.json, <out>/compare_algos.md and docs/compare_algos*.png, and
prints the table. The CPU time of every run is measured (children's user + system time).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TEXT = ("configs/countdown_tiny.yaml", {
    "grpo": [], "rloo": ["algo.name=rloo"], "drgrpo": ["algo.name=drgrpo"], "dapo": ["algo.name=dapo"],
    "rover": ["algo.name=rover"],
    "grpo+forward_kl": ["algo.divergence=forward_kl", "algo.divergence_coef=0.1"],
})
MULTITURN = ("configs/numberline_gigpo.yaml", {"grpo": ["algo.name=grpo"], "gigpo": ["algo.name=gigpo"]})
TEXT_EVAL = ["eval.episodes=16", "eval.samples_per_episode=32", "eval.temperature=1.0", "eval.cot_judge=rule"]
MULTITURN_EVAL = ["eval.episodes=20", "eval.samples_per_episode=1", "eval.temperature=0.0"]


def cpu_seconds() -> float:
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def warm_start(config: str, seed: int, out: Path) -> Path:
    """The config's supervised warm-start, made once and saved as a model folder the RL runs load."""
    policy_dir = out / "policy"
    if (policy_dir / "config.json").is_file():
        return policy_dir
    from mmrl.config import load_config
    from mmrl.models.loading import save_policy
    from mmrl.trainer import Trainer

    cfg = load_config(ROOT / config, [f"train.output_dir={out}", f"train.seed={seed}", f"model.seed={seed}",
                                      "train.progress=false"])
    trainer = Trainer(cfg)
    trainer.sft_warm_start()
    save_policy(trainer.policy, str(policy_dir))
    trainer.runner.close()
    trainer.eval_runner.close()
    if trainer.logger is not None:
        trainer.logger.close()
    return policy_dir


def train(config: str, overrides: list[str], run_dir: Path) -> None:
    done = run_dir / "done.json"  # a finished run is not run again
    if done.is_file():
        return
    shutil.rmtree(run_dir, ignore_errors=True)  # an unfinished run starts over
    cmd = [sys.executable, "-m", "mmrl.cli", "train", str(ROOT / config), *overrides,
           f"train.output_dir={run_dir}", "train.progress=false", "train.save_every=0"]
    run_dir.mkdir(parents=True, exist_ok=True)
    start = cpu_seconds()
    wall = time.perf_counter()
    with open(run_dir.with_suffix(".log"), "w") as log:
        subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, check=True)
    done.write_text(json.dumps({"cpu_s": cpu_seconds() - start, "wall_s": time.perf_counter() - wall}))


def summary(run_dir: Path) -> dict[str, float]:
    from mmrl.logger import read_jsonl

    rows = read_jsonl(run_dir / "metrics.jsonl")
    first = next(r for r in rows if "eval/success_rate" in r)
    last = [r for r in rows if "eval/success_rate" in r][-1]
    steps = [r for r in rows if "time/update_s" in r]
    out = {f"end/{k[5:]}": v for k, v in last.items() if k.startswith("eval/")}
    out |= {f"start/{k[5:]}": v for k, v in first.items() if k.startswith("eval/")}
    out["s_per_step"] = float(np.mean([r["time/rollout_s"] + r["time/update_s"] for r in steps]))
    out["train_return_last5"] = float(np.mean([r["train/return_mean"] for r in steps[-5:]]))
    out |= json.loads((run_dir / "done.json").read_text())
    return out


def run_part(name: str, spec, seeds: list[int], steps: int, out: Path, eval_args: list[str],
             shared_warm_start: bool, report_only: bool = False) -> dict:
    config, methods = spec
    results: dict[str, list[dict]] = {m: [] for m in methods}
    if report_only:  # summarise the finished runs of several invocations (e.g. one per seed, run side by side)
        for method in methods:
            for seed in seeds:
                if (out / name / method / f"seed{seed}" / "done.json").is_file():
                    results[method].append(summary(out / name / method / f"seed{seed}"))
        return results
    for seed in seeds:
        warm = warm_start(config, 0 if shared_warm_start else seed,
                          out / name / f"warm_seed{0 if shared_warm_start else seed}")
        for method, overrides in methods.items():
            run_dir = out / name / method / f"seed{seed}"
            train(config, [*overrides, f"model.path={warm}", "train.sft_steps=0", f"train.seed={seed}",
                           f"train.total_steps={steps}", "train.eval_every=0", *eval_args], run_dir)
            results[method].append(summary(run_dir))
            print(f"{name} {method} seed {seed}: " + ", ".join(
                f"{k} {results[method][-1].get(k, float('nan')):.3f}"
                for k in ("end/pass@1", "end/success_rate", "s_per_step", "cpu_s")), flush=True)
    return results


def mean_sd(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def table(results: dict[str, list[dict]], keys: list[tuple[str, str]]) -> str:
    lines = ["| method | " + " | ".join(label for label, _ in keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for method, runs in results.items():
        cells = [mean_sd([r.get(k, float("nan")) for r in runs]) for _, k in keys]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_text(results: dict[str, list[dict]], path: Path) -> None:
    from mmrl.plotting import plot_pass_at_k

    ks = sorted(int(k.split("@")[1]) for k in results["grpo"][0] if k.startswith("end/pass@"))
    curves = {"warm-start (step 0)": {k: float(np.mean([r[f"start/pass@{k}"] for r in results["grpo"]])) for k in ks}}
    for method, runs in results.items():
        curves[method] = {k: float(np.mean([r[f"end/pass@{k}"] for r in runs])) for k in ks}
    plot_pass_at_k(curves, path, "Countdown (2 numbers): held-out pass@k after RL, mean of 3 seeds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["text", "multiturn", "all"], default="all")
    parser.add_argument("--steps", type=int, default=20, help="RL steps of each text run")
    parser.add_argument("--multiturn-steps", type=int, default=10, help="RL steps of each multi-turn run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "compare_algos")
    parser.add_argument("--report", action="store_true", help="run nothing: summarise the finished runs in --out")
    args = parser.parse_args()
    start = cpu_seconds()
    report: dict = {}
    if args.part in ("text", "all"):
        text = run_part("text", TEXT, args.seeds, args.steps, args.out, TEXT_EVAL, False, args.report)
        report["text"] = text
        plot_text(text, ROOT / "docs" / "compare_algos_passk.png")
        print(table(text, [("pass@1", "end/pass@1"), ("pass@32", "end/pass@32"), ("CoT-pass@1", "end/cot_pass@1"),
                           ("answer distinct-1", "end/answer_distinct_1"), ("s / step", "s_per_step"),
                           ("CPU s / run", "cpu_s")]))
    if args.part in ("multiturn", "all"):
        multi = run_part("multiturn", MULTITURN, args.seeds, args.multiturn_steps, args.out, MULTITURN_EVAL, True,
                         args.report)
        report["multiturn"] = multi
        print(table(multi, [("held-out success", "end/success_rate"), ("start", "start/success_rate"),
                            ("train return (last 5)", "train_return_last5"), ("s / step", "s_per_step"),
                            ("CPU s / run", "cpu_s")]))
    if args.report:
        runs = [r for part in report.values() for rs in part.values() for r in rs]
        print(f"CPU seconds of the {len(runs)} runs (warm-starts not included): {sum(r['cpu_s'] for r in runs):.0f}")
        (args.out / "results.json").write_text(json.dumps(report, indent=1))
        return
    print(f"CPU seconds, all runs of this invocation (warm-starts included): {cpu_seconds() - start:.0f}")


if __name__ == "__main__":
    main()
