"""SATORI-R1's staged rewards against the R1-like answer-only baseline on ``mmrl/VQAGrounding-v0`` (tiny VLM, CPU).

    OMP_NUM_THREADS=1 python benchmarks/compare_vqa.py [--steps 130] [--out-dir runs/compare_vqa] [--seed 0]

Trains ``configs/vqa_satori.yaml`` (format + caption + boxes + answer, weight 1 each) and
``configs/vqa_answer_only.yaml`` (answer only) with the same seed, so both start from the same random model and
the same expert warm-start, and see the same training scenes. The two runs go one after the other (``--parallel``
runs them at once, one process each), and each run's wall time is recorded in OUT_DIR/wall_times.json. Plots answer accuracy and IoU (and the format rate), train curves (sampled at
temperature 1) and held-out eval points (greedy, test split), side by side into
``docs/vqa_satori_vs_answer_only.png``, and prints the held-out numbers at the start, after the warm-start and
after RL: answer accuracy, IoU, caption score, format rate.

Whatever the reward weights, the env logs all four components, so the answer-only run's IoU and caption are
measured too (they are just not rewarded).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from mmrl.logger import read_jsonl

ROOT = Path(__file__).resolve().parent.parent
RUNS = {"SATORI (all stages)": "configs/vqa_satori.yaml", "answer only (R1-like)": "configs/vqa_answer_only.yaml"}
COLUMNS = {"answer acc": "reward/answer", "IoU": "iou", "caption": "reward/caption", "format": "reward/satori_format"}


def train_commands(steps: int, out_dir: Path, seed: int) -> dict[str, list[str]]:
    """The `mmrl train` command line of each run, same seed and step count."""
    commands = {}
    for label, config in RUNS.items():
        run_dir = out_dir / Path(config).stem
        commands[label] = [sys.executable, "-m", "mmrl.cli", "train", str(ROOT / config),
                           f"train.total_steps={steps}", f"train.seed={seed}", f"train.output_dir={run_dir}",
                           "train.progress=false"]
    return commands


def run_all(commands: dict[str, list[str]], out_dir: Path, parallel: bool) -> dict[str, float]:
    """Run the trainings (one at a time unless `parallel`), each logging to OUT_DIR/<config>.log; returns each
    run's wall time in seconds (also written to OUT_DIR/wall_times.json)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    procs, started, wall = [], {}, {}
    for label, cmd in commands.items():
        log = open(out_dir / f"{Path(cmd[4]).stem}.log", "w")  # noqa: SIM115  (closed after wait)
        print(f"[{label}] {' '.join(cmd[2:])}  (log: {log.name})", flush=True)
        started[label] = time.monotonic()
        procs.append((label, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT), log))
        if not parallel:
            procs[-1][1].wait()
            wall[label] = time.monotonic() - started[label]
    for label, proc, log in procs:
        if proc.wait() != 0:
            raise SystemExit(f"[{label}] training failed (exit {proc.returncode}); see {log.name}")
        wall.setdefault(label, time.monotonic() - started[label])
        log.close()
    (out_dir / "wall_times.json").write_text(json.dumps(wall, indent=1) + "\n")
    return wall


def held_out(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Held-out metrics at the start (random model), after the warm-start, and after RL (the last eval)."""
    start = next(r for r in rows if r["step"] == 0 and "eval/iou" in r)
    sft = next((r for r in rows if "sft/iou" in r), None)
    last = [r for r in rows if "eval/iou" in r][-1]
    points = {"start": {k: start[f"eval/{v}"] for k, v in COLUMNS.items()}}
    if sft is not None:
        points["warm-start"] = {k: sft[f"sft/{v}"] for k, v in COLUMNS.items()}
    points[f"RL step {last['step']}"] = {k: last[f"eval/{v}"] for k, v in COLUMNS.items()}
    return points


def first_rl_mean(rows: list[dict], key: str, n: int = 5) -> float:
    """Mean of a train metric over the first `n` RL steps (the starting value RL is measured against)."""
    values = [r[key] for r in rows if key in r][:n]
    return sum(values) / len(values)


def last_rl_mean(rows: list[dict], key: str, n: int = 10) -> float:
    values = [r[key] for r in rows if key in r][-n:]
    return sum(values) / len(values)


def smooth(values: list[float], window: int = 10) -> list[float]:
    """Trailing moving average (a train point is 64 episodes sampled at temperature 1: noisy)."""
    return [sum(values[max(0, i - window + 1): i + 1]) / len(values[max(0, i - window + 1): i + 1])
            for i in range(len(values))]


def plot(runs: dict[str, list[dict]], path: Path) -> None:
    """Answer accuracy, IoU and format rate against the step, both runs on each panel: train curves and held-out
    points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(17, 4.4))
    panels = (("Answer accuracy", "reward/answer"), ("IoU (union of boxes)", "iou"), ("Format (well-formed rate)", "reward/satori_format"))
    for ax, (title, key) in zip(axes, panels):
        train_key = "train/reward/bbox" if key == "iou" else f"train/{key}"
        for (label, rows), color in zip(runs.items(), ("tab:blue", "tab:orange")):
            train = [r for r in rows if train_key in r]
            ax.plot([r["step"] for r in train], smooth([r[train_key] for r in train]), color=color, alpha=0.55,
                    label=f"{label}: train (sampled, 10-step mean)")
            # The held-out line starts from the warm-started model (sft/*), where RL starts; the random model's
            # eval before the warm-start (step 0, eval/*) is drawn apart as a grey cross.
            sft = next(r for r in rows if f"sft/{key}" in r)
            evals = [(0, sft[f"sft/{key}"])] + [(r["step"], r[f"eval/{key}"]) for r in rows
                                                 if f"eval/{key}" in r and r["step"] > 0]
            ax.plot(*zip(*evals), "o-", color=color, label=f"{label}: held-out (greedy; step 0 = after warm-start)")
            ax.plot([0], [rows[0][f"eval/{key}"]], "x", color="grey", markersize=8)
        ax.plot([], [], "x", color="grey", label="held-out, random model before the warm-start")
        ax.set(xlabel="RL step", ylabel=title.split(" (")[0], title=title)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="best")
    fig.suptitle("mmrl/VQAGrounding-v0, tiny VLM on CPU: SATORI staged rewards vs answer-only (same seed)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=130, help="RL steps per run (after the warm-start)")
    parser.add_argument("--out-dir", default="runs/compare_vqa", help="where the two run directories go")
    parser.add_argument("--seed", type=int, default=0, help="train.seed of both runs")
    parser.add_argument("--plot", default=str(ROOT / "docs" / "vqa_satori_vs_answer_only.png"), help="PNG path")
    parser.add_argument("--parallel", action="store_true", help="run both trainings at once (default: one at a time)")
    parser.add_argument("--skip-train", action="store_true", help="only re-read OUT_DIR's runs, plot and print")
    args = parser.parse_args(argv)

    out_dir = Path(args.out_dir).resolve()
    commands = train_commands(args.steps, out_dir, args.seed)
    if not args.skip_train:
        run_all(commands, out_dir, args.parallel)
    runs = {label: read_jsonl(out_dir / Path(config).stem / "metrics.jsonl") for label, config in RUNS.items()}
    plot(runs, Path(args.plot))

    print(f"\nheld-out (test split, greedy, {args.steps} RL steps, seed {args.seed}):")
    print(f"{'run':24s} {'point':12s} " + " ".join(f"{c:>10s}" for c in COLUMNS))
    for label, rows in runs.items():
        for point, values in held_out(rows).items():
            print(f"{label:24s} {point:12s} " + " ".join(f"{values[c]:10.3f}" for c in COLUMNS))
    print("\ntrain (sampled, temperature 1): mean of the first 5 RL steps -> mean of the last 10")
    for label, rows in runs.items():
        parts = [f"{c} {first_rl_mean(rows, f'train/{k}'):.3f} -> {last_rl_mean(rows, f'train/{k}'):.3f}"
                 for c, k in (("format", "reward/satori_format"), ("bbox", "reward/bbox"), ("answer", "reward/answer"),
                              ("caption", "reward/caption"))]
        print(f"{label:24s} " + ", ".join(parts))
    times = out_dir / "wall_times.json"
    if times.exists():
        print("\nwall time (SFT warm-start + RL + evals): " + ", ".join(
            f"{label} {seconds / 60:.1f} min" for label, seconds in json.loads(times.read_text()).items()))
    print(f"\nplot: {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
