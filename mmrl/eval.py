"""Held-out evaluation: success rate per env, unbiased pass@k, succ@k, response length and format-error rate."""

from __future__ import annotations

from collections import defaultdict

import torch

from mmrl.config import EvalConfig
from mmrl.distributed import DistContext
from mmrl.metrics import pass_at_k, succ_at_k, thought_diversity
from mmrl.rollout.backends import SamplingParams
from mmrl.rollout.runner import Episode, EpisodeRequest, EpisodeRunner


def eval_requests(n_envs: int, cfg: EvalConfig, ctx: DistContext) -> list[EpisodeRequest]:
    """`cfg.episodes` held-out seeds per env (from `seed_offset` up), each repeated `samples_per_episode` times;
    each process takes every world_size-th episode."""
    requests = []
    for env_index in range(n_envs):
        for j in range(cfg.episodes):
            if j % ctx.world_size != ctx.rank:
                continue
            group = env_index * cfg.episodes + j
            requests += [EpisodeRequest(env_index, cfg.seed_offset + j, group)] * cfg.samples_per_episode
    return requests


def first_success_turn(episode: Episode) -> int | None:
    """The turn (from 0) whose step info first reports `success`, or None: UFO's "solved at turn t" (for a
    TryAgain episode, the answer that was right; for a game, the step that won it)."""
    if episode.error is not None:
        return None
    return next((t for t, turn in enumerate(episode.turns) if turn.info.get("success", False)), None)


def summarize(episodes: list[Episode], env_names: list[str], cfg: EvalConfig, ctx: DistContext) -> dict[str, float]:
    """Reduce episode outcomes over processes into `eval/...` metrics.

    pass@k (single-turn, over a group's `samples_per_episode` samples) and succ@k (multi-turn: the share of
    sampled episodes first successful within k turns) sit side by side, as UFO compares them."""
    by_group: dict[int, list[Episode]] = defaultdict(list)
    for ep in episodes:
        by_group[ep.request.group].append(ep)
    # Sums and counts, so that processes can add theirs before dividing.
    sums: dict[str, float] = defaultdict(float)
    for group in by_group.values():
        label = env_names[group[0].request.env_index]
        c = sum(ep.success for ep in group)
        for k in cfg.pass_k:
            sums[f"pass@{k}"] += pass_at_k(len(group), c, k)
        sums[f"{label}/episodes"] += 1
        sums[f"{label}/success"] += c / len(group)
        sums["episodes"] += 1
        sums["success"] += c / len(group)
        for ep in group:
            solved = [first_success_turn(ep)]
            for k in cfg.succ_k:
                sums[f"succ@{k}"] += succ_at_k(solved, k)
            sums["samples"] += 1
            sums["return"] += ep.total_reward
            sums["turns"] += len(ep.turns)
            sums["response_tokens"] += sum(len(t.completion.token_ids) for t in ep.turns)
            flags = [t.info["format_error"] for t in ep.turns if "format_error" in t.info]
            sums["format_checked"] += len(flags)
            sums["format_errors"] += sum(bool(f) for f in flags)
            # Reward components and IoU of the episode's last turn (e.g. SATORI's reward/bbox, iou).
            last = ep.turns[-1].info if ep.turns else {}
            for key, value in last.items():
                if (key.startswith("reward/") or key == "iou") and isinstance(value, (int, float)) \
                        and not isinstance(value, bool):
                    sums[f"component:{key}"] += float(value)
                    sums[f"component_n:{key}"] += 1
    keys = sorted(set(ctx.union(set(sums))) | {f"{e}/episodes" for e in env_names} | {f"{e}/success" for e in env_names}
                  | {"episodes", "success", "samples", "return", "turns", "response_tokens", "format_checked",
                     "format_errors"} | {f"pass@{k}" for k in cfg.pass_k}
                  | {f"succ@{k}" for k in cfg.succ_k})
    total = dict(zip(keys, ctx.sum([sums.get(k, 0.0) for k in keys])))
    out = {
        "eval/success_rate": total["success"] / max(total["episodes"], 1),
        "eval/return_mean": total["return"] / max(total["samples"], 1),
        "eval/response_length": total["response_tokens"] / max(total["turns"], 1),
        "eval/turns_mean": total["turns"] / max(total["samples"], 1),
        "eval/format_error_rate": total["format_errors"] / max(total["format_checked"], 1),
    }
    for k in cfg.pass_k:
        out[f"eval/pass@{k}"] = total[f"pass@{k}"] / max(total["episodes"], 1)
    for k in cfg.succ_k:
        out[f"eval/succ@{k}"] = total[f"succ@{k}"] / max(total["samples"], 1)
    for key in keys:
        if key.startswith("component:") and total[f"component_n:{key[10:]}"] > 0:
            out[f"eval/{key[10:]}"] = total[key] / total[f"component_n:{key[10:]}"]
    if len(env_names) > 1:
        for e in env_names:
            out[f"eval/{e}/success_rate"] = total[f"{e}/success"] / max(total[f"{e}/episodes"], 1)
    return out


def evaluate(runner: EpisodeRunner, env_names: list[str], cfg: EvalConfig, max_new_tokens: int,
             ctx: DistContext, seed: int = 0) -> dict[str, float]:
    """Play the held-out episodes and summarise them. Runs under a forked RNG: training's random stream is
    untouched, so evaluating does not change what training samples next."""
    requests = eval_requests(len(env_names), cfg, ctx)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        params = SamplingParams(max_new_tokens, temperature=cfg.temperature, seed=seed)
        episodes = runner.run(requests, params)
    # Thought-collapse indicators (GTR) over the responses whose format has a thought, per process, averaged.
    names, values = zip(*thought_diversity([ep.response_format.thought(t.completion.text) for ep in episodes
                                            if ep.response_format.has_thought for t in ep.turns]).items())
    diversity = {f"eval/{k}": v / ctx.world_size for k, v in zip(names, ctx.sum(list(values)))}
    return summarize(episodes, env_names, cfg, ctx) | diversity


def evaluate_checkpoint(target: str, overrides: list[str] = ()) -> dict:
    """`mmrl eval`: load a run directory's latest checkpoint (or a checkpoint folder) and evaluate it on the run's
    held-out seeds. Returns plain metric names (`success_rate`, `pass@k`, ...) plus the checkpoint's path."""
    from pathlib import Path

    from mmrl import checkpoint
    from mmrl.config import UserError, env_names, load_config
    from mmrl.models.loading import base_model_path, load_run_policy
    from mmrl.rollout.backends import make_backend
    from mmrl.rollout.runner import EnvPool

    path = Path(target)
    if (path / "config.yaml").is_file():
        run_dir, ckpt = path, checkpoint.latest_checkpoint(path)
        if ckpt is None:
            raise UserError(f"{path} holds no complete checkpoint under checkpoints/")
    elif (path / checkpoint.MARKER).is_file() and (path.parent.parent / "config.yaml").is_file():
        run_dir, ckpt = path.parent.parent, path
    else:
        raise UserError(f"{target!r} is neither a run directory (with config.yaml) nor a checkpoint folder")
    cfg = load_config(str(run_dir / "config.yaml"), list(overrides))
    torch.set_num_threads(cfg.train.torch_threads)
    policy = load_run_policy(cfg.model, base_model_path(cfg.model, run_dir), ckpt)
    policy.model.eval()
    ctx = DistContext()
    base = base_model_path(cfg.model, run_dir)
    runner = EpisodeRunner(EnvPool(cfg.envs, eval_mode=True), policy, make_backend(cfg.rollout, policy, base),
                           cfg.rollout)
    try:
        metrics = evaluate(runner, env_names(cfg.envs), cfg.eval, cfg.rollout.max_new_tokens, ctx,
                           seed=cfg.train.seed)
    finally:
        runner.close()
        runner.backend.close()
    return {"checkpoint": str(ckpt), **{k.removeprefix("eval/"): v for k, v in metrics.items()}}
