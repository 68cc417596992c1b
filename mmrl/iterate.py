"""`mmrl iterate CONFIG --rounds N`: iterative SFT <-> RL (OpenVLThinker: Deng et al. 2025, "OpenVLThinker: An
Early Exploration to Complex Vision-Language Reasoning via Iterative Self-Improvement"; ASTRO's search-trace round 0).

Round 0 is the config's run (its own warm-start, if any, then RL); with `--astro`, its warm-start (the config's
`train.sft_steps`, else `--sft-steps`) trains instead on depth-first search traces of the training puzzles (an env's `search_trace()`, e.g. Countdown's: tries, dead ends, reflection and
backtracking, linearised into the env's thought/answer format). While a round's RL runs, every successful episode's
turns are kept as (prompt, response) pairs; the next round starts from the current policy (or a fresh one,
`--sft-from fresh`), runs `--sft-steps` supervised steps on them (the trainer's own warm-start code), then RL again.
Each round's held-out success after its SFT and after its RL goes into one table and one plot.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mmrl import checkpoint
from mmrl.config import UserError, load_config
from mmrl.formats import format_of
from mmrl.models.policy import Prompt
from mmrl.rollout.messages import build_messages, observation_parts
from mmrl.rollout.runner import make_env
from mmrl.trainer import Trainer, run_directory


class CollectingTrainer(Trainer):
    """A trainer that keeps the turns of its successful training episodes as (prompt, response) pairs."""

    def __init__(self, cfg, sft_data: list[tuple[Prompt, str]] | None = None):
        super().__init__(cfg)
        self.sft_data = sft_data
        self.successes: dict[tuple[str, str], tuple[Prompt, str]] = {}

    def collect(self, step: int):
        episodes, samples, stats = super().collect(step)
        for ep in episodes:
            if ep.success:
                for t in ep.turns:
                    self.successes.setdefault((t.prompt.text, t.completion.text), (t.prompt, t.completion.text))
        stats["iterate/successes_kept"] = float(len(self.successes))
        return episodes, samples, stats


def search_trace_pairs(trainer: Trainer, n: int, max_dead_ends: int = 3) -> list[tuple[Prompt, str]]:
    """ASTRO's round-0 data: (prompt, search-trace response) for the first `n` training seeds of every env that
    offers `search_trace(max_dead_ends) -> (thought, answer) | None` for its current puzzle (Countdown does); other
    envs are skipped. The env's response format writes the response."""
    cfg = trainer.cfg
    items, responses = [], []
    for spec in cfg.envs:
        env = make_env(spec)
        trace = getattr(env.unwrapped, "search_trace", None)
        for seed in range(n if callable(trace) else 0):
            obs, _ = env.reset(seed=seed)
            found = trace(max_dead_ends)
            if found is None:
                continue
            text, image = observation_parts(obs)
            system = cfg.rollout.system_prompt or getattr(env.unwrapped, "system_prompt", None)
            items.append(build_messages(text, image, [], system))
            responses.append(format_of(env).compose(*found))
        env.close()
    if not items:
        raise UserError("mmrl iterate --astro: no env of the config offers search_trace() (Countdown does)")
    return list(zip(trainer.policy.encode_many(items), responses))


def iterate(config: str, overrides: list[str], rounds: int, sft_from: str = "current", sft_steps: int = 50,
            astro: bool = False, astro_puzzles: int = 256, out: str | None = None) -> list[dict]:
    """Run the rounds; returns one row per round and writes <out>/iterate.json, iterate.md and iterate.png."""
    if rounds < 1:
        raise UserError(f"mmrl iterate: --rounds must be >= 1; got {rounds}")
    if sft_from not in ("current", "fresh"):
        raise UserError(f"mmrl iterate: --sft-from must be current or fresh; got {sft_from!r}")
    base = load_config(config, overrides)
    out_dir = Path(out) if out else run_directory(base).with_name(run_directory(base).name + "_iterate")
    rows: list[dict] = []
    data: list[tuple[Prompt, str]] | None = None
    fresh = base.model.path
    for r in range(rounds):
        round_dir = out_dir / f"round{r}"
        extra = [f"train.output_dir={round_dir}"]
        if r > 0:
            prev = checkpoint.latest_checkpoint(out_dir / f"round{r - 1}")
            start = prev if sft_from == "current" else (fresh or out_dir / "round0" / "base_model")
            extra += [f"model.path={start}", f"train.sft_steps={sft_steps if data else 0}"]
        elif astro and base.train.sft_steps == 0:  # the traces replace the config's warm-start data, same steps
            extra += [f"train.sft_steps={sft_steps}"]
        cfg = load_config(config, [*overrides, *extra])
        trainer = CollectingTrainer(cfg, data)
        if r == 0 and astro:
            trainer.sft_data = search_trace_pairs(trainer, astro_puzzles)
        n_sft = len(trainer.sft_data) if trainer.sft_data is not None else None
        summary = trainer.train()
        data = list(trainer.successes.values())
        rows.append({"round": r, "sft_pairs": n_sft, "sft_steps": cfg.train.sft_steps,
                     "start": summary.get("initial/eval_success_rate"),
                     "after_sft": summary.get("sft/eval_success_rate"),
                     "after_rl": summary.get("final/eval_success_rate"), "successes_collected": len(data)})
        if not data and r < rounds - 1:
            print(f"round {r}: no successful episode to train the next round on; its SFT is skipped")
    write_report(rows, out_dir)
    return rows


def write_report(rows: list[dict], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "iterate.json").write_text(json.dumps(rows, indent=1))
    fmt = lambda v: "" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| round | SFT pairs | held-out success at start | after SFT | after RL | successes collected |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['round']} | {fmt(r['sft_pairs'])} | {fmt(r['start'])} | {fmt(r['after_sft'])} | "
              f"{fmt(r['after_rl'])} | {r['successes_collected']} |" for r in rows]
    (out_dir / "iterate.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    xs = np.arange(len(rows))
    for key, label in (("after_sft", "after SFT"), ("after_rl", "after RL")):
        ys = [np.nan if r[key] is None else r[key] for r in rows]
        ax.plot(xs, ys, marker="o", label=label)
    ax.set_xticks(xs)
    ax.set_xlabel("round")
    ax.set_ylabel("held-out success")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "iterate.png", dpi=100)
    plt.close(fig)
