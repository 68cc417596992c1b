"""One reducer of finished episodes into metrics, shared by training (`train/...`) and evaluation (`eval/...`).

Rules (the same for both prefixes):
- `return_mean`: an episode's return (summed reward), averaged over episodes; `success_rate`, `turns_mean` likewise;
- `response_length`: tokens per turn; `format_error_rate`: over the turns whose info reports `format_error`;
- a reward component `reward/<x>` in a turn's info: summed over the episode's turns (its share of the return),
  averaged over the episodes that report it (a rate `rate/<x>`, e.g. a per-constraint satisfaction flag, alike); `iou`: the last turn's value;
- with several envs, `<env>/success_rate` and `<env>/return_mean` per env.
Sums and counts are added over processes before dividing.
"""

from __future__ import annotations

from collections import defaultdict

from mmrl.distributed import DistContext
from mmrl.rollout.runner import Episode

LAST_TURN_KEYS = ("iou",)
"""Measurements (not rewards) read from an episode's last turn."""


def _numeric(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def episode_sums(episodes: list[Episode], env_names: list[str]) -> dict[str, list[float]]:
    """name -> [sum, count] for every metric of `episodes`, before the reduction over processes."""
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])

    def add(name: str, value: float, count: float = 1.0) -> None:
        sums[name][0] += value
        sums[name][1] += count

    for ep in episodes:
        add("return_mean", ep.total_reward)
        add("success_rate", float(ep.success))
        add("turns_mean", len(ep.turns))
        add("env_errors", float(ep.error is not None), 0.0)
        add("episodes", 1.0, 0.0)
        add("response_length", sum(len(t.completion.token_ids) for t in ep.turns), len(ep.turns))
        flags = [bool(t.info["format_error"]) for t in ep.turns if "format_error" in t.info]
        add("format_error_rate", sum(flags), len(flags))
        components: dict[str, float] = {}
        for t in ep.turns:
            for key, value in t.info.items():
                if key.startswith(("reward/", "rate/")) and _numeric(value):
                    components[key] = components.get(key, 0.0) + float(value)
        for key, value in components.items():
            add(key, value)
        last = ep.turns[-1].info if ep.turns else {}
        for key in LAST_TURN_KEYS:
            if _numeric(last.get(key)):
                add(key, float(last[key]))
        if len(env_names) > 1:
            name = env_names[ep.request.env_index]
            add(f"{name}/success_rate", float(ep.success))
            add(f"{name}/return_mean", ep.total_reward)
    return sums


def reduce_sums(sums: dict[str, list[float]], ctx: DistContext, prefix: str,
                always: tuple[str, ...] = ()) -> dict[str, float]:
    """`prefix/name` -> sum / count over all processes (a plain sum where the count is 0: 'episodes', errors)."""
    names = ctx.union(set(sums) | set(always))
    totals = ctx.sum([x for name in names for x in sums.get(name, [0.0, 0.0])])
    out = {}
    for i, name in enumerate(names):
        total, count = totals[2 * i], totals[2 * i + 1]
        if name in ("episodes", "env_errors"):
            out[f"{prefix}/{name}"] = total
        elif count > 0:
            out[f"{prefix}/{name}"] = total / count
        elif name in always:
            out[f"{prefix}/{name}"] = 0.0
    return out


CORE = ("return_mean", "success_rate", "turns_mean", "response_length", "format_error_rate", "episodes",
        "env_errors")


def episode_metrics(episodes: list[Episode], env_names: list[str], ctx: DistContext, prefix: str
                    ) -> dict[str, float]:
    """The metrics of `episodes` under `prefix` ('train' or 'eval'), reduced over processes."""
    return reduce_sums(episode_sums(episodes, env_names), ctx, prefix, CORE)
