"""`plots/training.png`: training reward and success, and held-out success, against the step."""

from __future__ import annotations

from pathlib import Path

from mmrl.logger import read_jsonl


def plot_run(run_dir: str | Path) -> Path:
    """Draw the run's curves from metrics.jsonl; returns the PNG's path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    rows = read_jsonl(run_dir / "metrics.jsonl")
    if not rows:
        raise FileNotFoundError(f"{run_dir / 'metrics.jsonl'} is missing or empty: is {run_dir} a run directory?")
    fig, (ax_reward, ax_success) = plt.subplots(1, 2, figsize=(11, 4))
    train = [r for r in rows if r.get("train/return_mean") is not None]
    evals = [r for r in rows if r.get("eval/success_rate") is not None]
    ax_reward.plot([r["step"] for r in train], [r["train/return_mean"] for r in train], label="train return (mean)")
    ax_reward.set(xlabel="step", ylabel="reward", title="Training reward")
    ax_success.plot([r["step"] for r in train], [r["train/success_rate"] for r in train], alpha=0.6,
                    label="train success (sampled)")
    ax_success.plot([r["step"] for r in evals], [r["eval/success_rate"] for r in evals], "o-",
                    label="held-out success (eval)")
    sft = [r for r in rows if r.get("sft/success_rate") is not None]
    if sft:
        ax_success.plot([0], [sft[-1]["sft/success_rate"]], "s", color="tab:green", label="held-out, after warm-start")
    ax_success.set(xlabel="step", ylabel="success rate", ylim=(-0.02, 1.02), title="Success")
    for ax in (ax_reward, ax_success):
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    fig.suptitle(run_dir.name)
    fig.tight_layout()
    out = run_dir / "plots" / "training.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
