"""One reducer of finished episodes into metrics, shared by training (`train/...`) and evaluation (`eval/...`).

Rules (the same for both prefixes):
- `return_mean`: an episode's return (summed reward), averaged over episodes; `success_rate`, `turns_mean` likewise;
- `response_length`: tokens per turn; `format_error_rate`: over the turns whose info reports `format_error`;
- a reward component `reward/<x>` in a turn's info: summed over the episode's turns (its share of the return),
  averaged over the episodes that report it (a rate `rate/<x>`, e.g. a per-constraint satisfaction flag, alike);
  `iou`: the last turn's value;
- `env_errors` (and `env_errors/<kind>`: exception, timeout, crash, memory, nan_reward, malformed) and
  `reward_errors` (reward functions that raised or timed out) are counts, not means;
- with several envs, `<env>/success_rate` and `<env>/return_mean` per env;
- agent diagnostics: `invalid_action_rate` over the turns whose info reports `invalid_action` (ALFWorld: a command
  that is not admissible); for multi-turn episodes `success_by_turn/<k>` (k = 1, 2, 4, ... and the longest
  episode's length: the share of episodes successful within k turns) and `success_turn_mean` (turns to the first success,
  over successful episodes); `task/<type>/success_rate` per `info['task_type']` (ALFWorld's six types).
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

    longest = max((len(ep.turns) for ep in episodes), default=0)
    for ep in episodes:
        add("return_mean", ep.total_reward)
        add("success_rate", float(ep.success))
        add("turns_mean", len(ep.turns))
        add("env_errors", float(ep.error is not None), 0.0)
        if ep.error is not None:
            add(f"env_errors/{ep.error_kind}", 1.0, 0.0)
        failed_rewards = sum(t.info.get("reward_errors", 0) for t in ep.turns)
        if failed_rewards:
            add("reward_errors", float(failed_rewards), 0.0)
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
        add_agent_diagnostics(ep, add, longest)
        if len(env_names) > 1:
            name = env_names[ep.request.env_index]
            add(f"{name}/success_rate", float(ep.success))
            add(f"{name}/return_mean", ep.total_reward)
    return sums


COUNTS = ("episodes", "env_errors", "reward_errors")
"""Metrics reported as plain sums over the step's episodes (errors: also `env_errors/<kind>`)."""


def first_success_turn(episode: Episode) -> int | None:
    """The turn (from 0) whose step info first reports `success`, or None (UFO's "solved at turn t")."""
    if episode.error is not None:
        return None
    return next((t for t, turn in enumerate(episode.turns) if turn.info.get("success", False)), None)


def turn_marks(longest: int) -> list[int]:
    """1, 2, 4, ... below `longest`, then `longest`: the k of `success_by_turn/<k>`."""
    marks, k = [], 1
    while k < longest:
        marks.append(k)
        k *= 2
    return marks + [longest]


def add_agent_diagnostics(ep: Episode, add, longest: int) -> None:
    """Invalid-action rate, success by turn (k up to `longest`, the longest episode of the batch) and success per
    task type of one episode (module docstring)."""
    flags = [bool(t.info["invalid_action"]) for t in ep.turns if "invalid_action" in t.info]
    add("invalid_action_rate", sum(flags), len(flags))
    task_type = ep.reset_info.get("task_type") or (ep.turns[0].info.get("task_type") if ep.turns else None)
    if isinstance(task_type, str) and task_type:
        add(f"task/{task_type}/success_rate", float(ep.success))
    if longest > 1:
        solved = first_success_turn(ep)
        for k in turn_marks(longest):
            add(f"success_by_turn/{k}", float(solved is not None and solved < k))
        if solved is not None:
            add("success_turn_mean", float(solved + 1))


def reduce_sums(sums: dict[str, list[float]], ctx: DistContext, prefix: str,
                always: tuple[str, ...] = ()) -> dict[str, float]:
    """`prefix/name` -> sum / count over all processes (a plain sum where the count is 0: 'episodes', errors)."""
    names = ctx.union(set(sums) | set(always))
    totals = ctx.sum([x for name in names for x in sums.get(name, [0.0, 0.0])])
    out = {}
    for i, name in enumerate(names):
        total, count = totals[2 * i], totals[2 * i + 1]
        if name in COUNTS or name.startswith("env_errors/"):
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
