"""PPO against PPO + GTR thought correction, same seed, tiny models on CPU.

    OMP_NUM_THREADS=1 python benchmarks/compare_gtr.py [--game numberline|points24] [--steps 60] [--seed 0]

`numberline` (default): configs/numberline_ppo.yaml, and the same config with the oracle corrector
(gtr.corrector=oracle), so the only difference is GTR. `points24`: configs/points24_ppo.yaml against
configs/points24_gtr.yaml (the image game, GTR's truncation on). Both runs start from the same random model and the
same warm-start and play the same training seeds. Plots success (train, sampled; held-out, greedy) and thought
diversity (distinct-2 and the duplicate fraction of a batch's thoughts: GTR's thought-collapse indicators) side by
side into docs/gtr_<game>.png, and prints the numbers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from side_by_side import ROOT, read_runs, run_all, smooth, train_commands

GAMES = {
    "numberline": {"PPO": ("configs/numberline_ppo.yaml", []),
                   "PPO + GTR (oracle)": ("configs/numberline_ppo.yaml", ["gtr.corrector=oracle"])},
    "points24": {"PPO": ("configs/points24_ppo.yaml", []),
                 "PPO + GTR (oracle)": ("configs/points24_gtr.yaml", [])},
}
PANELS = (("Success rate", "success_rate"), ("Thought distinct-2", "thought_distinct_2"),
          ("Duplicate thoughts in a batch", "thought_duplicate_fraction"))


def train_key(key: str) -> str:
    return "train/success_rate" if key == "success_rate" else f"gtr/{key}"


def plot(runs: dict[str, list[dict]], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(PANELS), figsize=(16, 4.2))
    for ax, (name, key) in zip(axes, PANELS):
        for (label, rows), color in zip(runs.items(), ("tab:blue", "tab:green")):
            train = [r for r in rows if train_key(key) in r]
            ax.plot([r["step"] for r in train], smooth([r[train_key(key)] for r in train]), color=color, alpha=0.5,
                    label=f"{label}: train (sampled, 10-step mean)")
            evals = [(r["step"], r[f"eval/{key}"]) for r in rows if f"eval/{key}" in r and r["step"] > 0]
            sft = next((r for r in rows if f"sft/{key}" in r), None)
            if sft is not None:
                evals.insert(0, (0, sft[f"sft/{key}"]))
            if evals:
                ax.plot(*zip(*evals), "o-", color=color, label=f"{label}: held-out (greedy)")
        ax.set(xlabel="RL step", title=name)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def summary(rows: list[dict]) -> dict[str, float]:
    evals = [r for r in rows if "eval/success_rate" in r and r["step"] > 0]
    sft = next((r for r in rows if "sft/success_rate" in r), {})
    train = [r for r in rows if "train/success_rate" in r]
    last = train[-10:]
    mean = lambda key: sum(r.get(key, 0.0) for r in last) / max(len(last), 1)  # noqa: E731
    return {"held-out start": sft.get("sft/success_rate", float("nan")),
            "held-out end": evals[-1]["eval/success_rate"] if evals else float("nan"),
            "train success (last 10)": mean("train/success_rate"),
            "distinct-2 (last 10)": mean("gtr/thought_distinct_2"),
            "duplicates (last 10)": mean("gtr/thought_duplicate_fraction"),
            "corrected (last 10)": mean("gtr/correction_rate")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--game", choices=sorted(GAMES), default="numberline")
    parser.add_argument("--steps", type=int, default=60, help="RL steps per run (after the warm-start)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", default=None, help="default runs/compare_gtr_<game>")
    parser.add_argument("--plot", default=None, help="default docs/gtr_<game>.png")
    parser.add_argument("--sequential", action="store_true", help="one training at a time (default: both at once)")
    parser.add_argument("--skip-train", action="store_true", help="only re-read the runs, plot and print")
    args = parser.parse_args(argv)

    out_dir = Path(args.out_dir or f"runs/compare_gtr_{args.game}").resolve()
    commands = train_commands(GAMES[args.game], args.steps, out_dir, args.seed)
    if not args.skip_train:
        run_all(commands, args.sequential)
    runs = read_runs(commands)
    plot_path = Path(args.plot or ROOT / "docs" / f"gtr_{args.game}.png")
    plot(runs, f"{args.game}: PPO vs PPO + GTR (same seed {args.seed}, tiny model, CPU)", plot_path)
    rows = {label: summary(r) for label, r in runs.items()}
    columns = list(next(iter(rows.values())))
    print(f"\n{'run':22s} " + " ".join(f"{c:>24s}" for c in columns))
    for label, values in rows.items():
        print(f"{label:22s} " + " ".join(f"{values[c]:24.3f}" for c in columns))
    print(f"\nplot: {plot_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
