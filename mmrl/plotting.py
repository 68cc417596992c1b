"""`plots/training.png`: training return and success, held-out success, and (with several envs) success per env,
against the step; `plots/pass_at_k.png` (the last evaluation's pass@k curve, when it has one),
`plots/collapse.png` (the prompt/response mutual information of training batches, when logged) and, for
multi-turn runs, `plots/agent.png` (episode length, invalid-action rate, success by turn, success per task type:
`mmrl.episode_metrics`'s agent diagnostics)."""

from __future__ import annotations

import re
from pathlib import Path

from mmrl.config import UserError
from mmrl.logger import read_jsonl


def plot_run(run_dir: str | Path) -> Path:
    """Draw the run's curves from metrics.jsonl; returns the PNG's path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    rows = read_jsonl(run_dir / "metrics.jsonl")
    if not rows:
        raise UserError(f"{run_dir / 'metrics.jsonl'} is missing or empty: is {run_dir} a run directory?")
    per_env = per_env_success_keys(rows)
    fig, axes = plt.subplots(1, 3 if per_env else 2, figsize=(16.5 if per_env else 11, 4))
    ax_reward, ax_success = axes[:2]
    train = [r for r in rows if r.get("train/return_mean") is not None]
    evals = [r for r in rows if r.get("eval/success_rate") is not None]
    ax_reward.plot([r["step"] for r in train], [r["train/return_mean"] for r in train], label="train return (mean)")
    ax_reward.set(xlabel="step", ylabel="reward", title="Training reward")
    ax_success.plot([r["step"] for r in train], [r["train/success_rate"] for r in train], alpha=0.6,
                    label="train success (sampled)")
    curve, before = held_out_curve(rows)
    if curve:
        ax_success.plot(*zip(*curve), "o-", label="held-out success (eval)")
    if before is not None:
        ax_success.plot([0], [before], "x", color="tab:grey", markersize=8, label="held-out, before warm-start")
    ax_success.set(xlabel="step", ylabel="success rate", ylim=(-0.02, 1.02), title="Success")
    if per_env:
        ax_env = axes[2]
        envs = sorted({PER_ENV_SUCCESS.match(k).group(2) for k in per_env})
        for key in per_env:  # one colour per env: held-out with markers, training (sampled) fainter
            split, env = PER_ENV_SUCCESS.match(key).groups()
            points = [(r["step"], r[key]) for r in rows if r.get(key) is not None]
            ax_env.plot(*zip(*points), "o-" if split == "eval" else "-", color=f"C{envs.index(env) % 10}",
                        alpha=1.0 if split == "eval" else 0.5, label=f"{env} ({split})")
        ax_env.set(xlabel="step", ylabel="success rate", ylim=(-0.02, 1.02), title="Success per env")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize="small")
    fig.suptitle(run_dir.name)
    fig.tight_layout()
    out = run_dir / "plots" / "training.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    if evals:
        curve = pass_at_k_curve(evals[-1])
        if len(curve) > 1:
            plot_pass_at_k({f"step {evals[-1]['step']}": curve}, run_dir / "plots" / "pass_at_k.png", run_dir.name)
    if any(k.endswith("/success_by_turn/1") for r in rows for k in r):
        plot_agent(rows, run_dir / "plots" / "agent.png", run_dir.name)
    mi = [r for r in rows if r.get("train/response_mi") is not None]
    if mi:
        fig, ax = plt.subplots(figsize=(6, 4))
        for key, label in (("train/response_mi", "I(prompt; response)"),
                           ("train/response_cond_entropy", "H(response | prompt)")):
            ax.plot([r["step"] for r in mi], [r[key] for r in mi], label=label)
        ax.set(xlabel="step", ylabel="nats", title=f"{run_dir.name}: collapse diagnostic")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(run_dir / "plots" / "collapse.png", dpi=110)
        plt.close(fig)
    return out


PER_ENV_SUCCESS = re.compile(r"^(train|eval)/(?!task/)(.+)/success_rate$")
"""Per-env success keys (mmrl.episode_metrics logs them when a run has several envs)."""


def held_out_curve(rows: list[dict]) -> tuple[list[tuple[int, float]], float | None]:
    """The held-out success curve as (step, success) points, and the score before the warm-start if there was one.

    RL starts from the warm-started weights, so with a warm-start the curve's step-0 point is the score after it
    (`sft/success_rate`), and the step-0 evaluation of the untouched model is returned apart, to be drawn as a lone
    marker, not as the start of a line that would seem to climb during the first RL steps."""
    points = [(r["step"], r["eval/success_rate"]) for r in rows if r.get("eval/success_rate") is not None]
    sft = [r["sft/success_rate"] for r in rows if r.get("sft/success_rate") is not None]
    if not sft:
        return points, None
    before = [value for step, value in points if step == 0]
    return [(0, sft[-1])] + [(step, value) for step, value in points if step != 0], (before[-1] if before else None)


def per_env_success_keys(rows: list[dict]) -> list[str]:
    """`train/<env>/success_rate` and `eval/<env>/success_rate` keys present in `rows`, eval first."""
    keys = {k for r in rows for k in r if PER_ENV_SUCCESS.match(k)}
    return sorted(keys, key=lambda k: (not k.startswith("eval/"), k))


def _series(rows: list[dict], key: str) -> tuple[list[int], list[float]]:
    kept = [r for r in rows if r.get(key) is not None]
    return [r["step"] for r in kept], [r[key] for r in kept]


def success_by_turn_curve(row: dict, prefix: str) -> dict[int, float]:
    """k -> share of episodes successful within k turns, from one metrics row (`<prefix>/success_by_turn/k`)."""
    head = f"{prefix}/success_by_turn/"
    return dict(sorted((int(k[len(head):]), v) for k, v in row.items() if k.startswith(head)))


def plot_agent(rows: list[dict], path: Path, title: str) -> Path:
    """Agent diagnostics of a multi-turn run: episode length and invalid-action rate against the step (training
    and held-out), held-out success by turn (at the start, after the warm-start, at the end) and held-out success
    per task type against the step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    (ax_len, ax_invalid), (ax_turn, ax_task) = axes
    for prefix, style in (("train", "-"), ("eval", "o-")):
        ax_len.plot(*_series(rows, f"{prefix}/turns_mean"), style, label=prefix)
        ax_invalid.plot(*_series(rows, f"{prefix}/invalid_action_rate"), style, label=prefix)
    ax_len.set(xlabel="step", ylabel="turns per episode", title="Episode length")
    ax_invalid.set(xlabel="step", ylabel="share of turns", ylim=(-0.02, 1.02), title="Invalid actions")
    evals = [r for r in rows if success_by_turn_curve(r, "eval")]
    sft = [r for r in rows if success_by_turn_curve(r, "sft")]
    curves = []
    if evals:
        curves.append(("start", success_by_turn_curve(evals[0], "eval")))
    if sft:
        curves.append(("after warm-start", success_by_turn_curve(sft[-1], "sft")))
    if len(evals) > 1:
        curves.append((f"step {evals[-1]['step']}", success_by_turn_curve(evals[-1], "eval")))
    for label, curve in curves:
        ax_turn.plot(list(curve), list(curve.values()), "o-", label=label)
    ax_turn.set(xlabel="k (turns)", ylabel="success within k turns", ylim=(-0.02, 1.02),
                title="Held-out success by turn")
    prefix = "eval" if any(k.startswith("eval/task/") for r in rows for k in r) else "train"
    tasks = sorted({k for r in rows for k in r if k.startswith(f"{prefix}/task/") and k.endswith("/success_rate")})
    for key in tasks:
        ax_task.plot(*_series(rows, key), "o-" if prefix == "eval" else "-", label=key.split("/")[2])
    ax_task.set(xlabel="step", ylabel="success rate", ylim=(-0.02, 1.02),
                title=f"Success per task type ({'held-out' if prefix == 'eval' else 'training'})")
    for ax in axes.flat:
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle(f"{title}: agent diagnostics")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def pass_at_k_curve(row: dict) -> dict[int, float]:
    """k -> pass@k from one metrics row (`eval/pass@k` keys)."""
    return dict(sorted((int(k.split("@")[1]), v) for k, v in row.items() if k.startswith("eval/pass@")))


def plot_pass_at_k(curves: dict[str, dict[int, float]], path: str | Path, title: str = "") -> Path:
    """pass@k against k (log2 axis), one line per label; returns the PNG's path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for label, curve in curves.items():
        ax.plot(list(curve), list(curve.values()), "o-", label=label)
    ax.set_xscale("log", base=2)
    ax.set(xlabel="k (samples per prompt)", ylabel="pass@k", ylim=(-0.02, 1.02), title=title or "pass@k")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
