"""Held-out evaluation: success rate per env, unbiased pass@k (a curve k = 1, 2, 4, ... n over n samples per
prompt), CoT-pass@k (with a reasoning judge), succ@k, response length, format-error rate, answer diversity and the
prompt/response mutual information."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import torch

from mmrl.config import EvalConfig
from mmrl.distributed import DistContext
from mmrl.episode_metrics import CORE, episode_sums, first_success_turn, reduce_sums
from mmrl.judges import Judge
from mmrl.metrics import (
    distinct_n,
    pass_at_k,
    pass_k_curve,
    prompt_response_mutual_information,
    succ_at_k,
    thought_diversity,
)
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


def pass_ks(cfg: EvalConfig) -> list[int]:
    """The k of the reported pass@k: the configured ones, plus the curve 1, 2, 4, ... n when n > 1 samples."""
    n = cfg.samples_per_episode
    return pass_k_curve(n, cfg.pass_k) if n > 1 else list(cfg.pass_k)


def summarize(episodes: list[Episode], env_names: list[str], cfg: EvalConfig, ctx: DistContext,
              judged: list[bool] | None = None) -> dict[str, float]:
    """Reduce episode outcomes over processes into `eval/...` metrics: the shared episode metrics
    (`mmrl.episode_metrics`, the same rules as training's), plus pass@k over a group's `samples_per_episode`
    samples and succ@k (multi-turn: the share of sampled episodes first successful within k turns), side by side
    as UFO compares them. With `judged` (one flag per episode: its reasoning was judged right), CoT-pass@k
    counts a sample as correct only when it succeeded and was judged right."""
    by_group: dict[int, list[tuple[Episode, bool]]] = defaultdict(list)
    for i, ep in enumerate(episodes):
        by_group[ep.request.group].append((ep, judged[i] if judged is not None else False))
    sums = episode_sums(episodes, env_names)
    ks = pass_ks(cfg)
    for pairs in by_group.values():
        group = [ep for ep, _ in pairs]
        c = sum(ep.success for ep in group)
        c_cot = sum(ep.success and ok for ep, ok in pairs)
        for k in ks:
            sums[f"pass@{k}"][0] += pass_at_k(len(group), c, k)
            sums[f"pass@{k}"][1] += 1
            if judged is not None:
                sums[f"cot_pass@{k}"][0] += pass_at_k(len(group), c_cot, k)
                sums[f"cot_pass@{k}"][1] += 1
        answers = [answer_of(ep) for ep in group]
        for n in (1, 2):
            sums[f"answer_distinct_{n}"][0] += distinct_n(answers, n)
            sums[f"answer_distinct_{n}"][1] += 1
        for ep in group:
            solved = [first_success_turn(ep)]
            for k in cfg.succ_k:
                sums[f"succ@{k}"][0] += succ_at_k(solved, k)
                sums[f"succ@{k}"][1] += 1
    always = CORE + tuple(f"pass@{k}" for k in ks) + tuple(f"succ@{k}" for k in cfg.succ_k)
    return reduce_sums(sums, ctx, "eval", always)


def answer_of(episode: Episode) -> str:
    """The answer (the action, as the env's response format reads it) of an episode's last response; the whole
    text when the format finds none."""
    if not episode.turns:
        return ""
    text = episode.turns[-1].completion.text
    answer = episode.response_format.action(text)
    return (answer if answer is not None else text).strip()


def evaluate(runner: EpisodeRunner, env_names: list[str], cfg: EvalConfig, max_new_tokens: int,
             ctx: DistContext, seed: int = 0, judge: Judge | None = None,
             keep: Callable[[list[Episode]], None] | None = None) -> dict[str, float]:
    """Play the held-out episodes and summarise them (with `judge`, also CoT-pass@k; `keep` is handed this
    process's episodes, e.g. to log some). Runs under a forked RNG: training's random stream is untouched, so
    evaluating does not change what training samples next."""
    requests = eval_requests(len(env_names), cfg, ctx)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        params = SamplingParams(max_new_tokens, temperature=cfg.temperature, seed=seed)
        episodes = runner.run(requests, params)
    if keep is not None:
        keep(episodes)
    # Thought-collapse indicators (GTR) over the responses whose format has a thought, per process, averaged.
    names, values = zip(*thought_diversity([ep.response_format.thought(t.completion.text) for ep in episodes
                                            if ep.response_format.has_thought for t in ep.turns]).items())
    diversity = {f"eval/{k}": v / ctx.world_size for k, v in zip(names, ctx.sum(list(values)))}
    turns = [t for ep in episodes for t in ep.turns]
    names, values = zip(*prompt_response_mutual_information([t.prompt.text for t in turns],
                                                            [t.completion.text for t in turns]).items())
    diversity |= {f"eval/{k}": v / ctx.world_size for k, v in zip(names, ctx.sum(list(values)))}
    judged = None
    if judge is not None:
        judged = [bool(ep.turns) and judge.judge(ep.turns[-1].prompt.text, ep.turns[-1].completion.text,
                                                 ep.turns[-1].info, ep.response_format) for ep in episodes]
    return summarize(episodes, env_names, cfg, ctx, judged) | diversity


def evaluate_checkpoint(target: str, overrides: list[str] = ()) -> dict:
    """`mmrl eval`: load a run directory's latest checkpoint (or a checkpoint folder) and evaluate it on the run's
    held-out seeds. Returns plain metric names (`success_rate`, `pass@k`, ...) plus the checkpoint's path (and, with
    `eval.samples_per_episode` > 1, the path of the pass@k curve drawn to `plots/pass_at_k_<checkpoint>.png`)."""
    import sys
    from pathlib import Path

    from mmrl import checkpoint
    from mmrl.config import UserError, env_names, load_config
    from mmrl.models.loading import base_model_path, load_run_policy
    from mmrl.rollout.backends import make_backend
    from mmrl.rollout.env_workers import make_env_pool

    path = Path(target)
    if (path / "config.yaml").is_file():
        warn = lambda line: print(line, file=sys.stderr)  # noqa: E731  (stdout carries the JSON result)
        run_dir, ckpt = path, checkpoint.latest_usable(path, for_training=False, warn=warn)
        if ckpt is None:
            raise UserError(f"{path} holds no usable checkpoint under checkpoints/")
    elif (path / checkpoint.MARKER).is_file() and (path.parent.parent / "config.yaml").is_file():
        run_dir, ckpt = path.parent.parent, path
        why = checkpoint.problem(ckpt, for_training=False)
        if why is not None:
            raise UserError(f"checkpoint {ckpt} is unusable: {why}")
    else:
        raise UserError(f"{target!r} is neither a run directory (with config.yaml) nor a checkpoint folder")
    cfg = load_config(str(run_dir / "config.yaml"), list(overrides))
    torch.set_num_threads(cfg.train.torch_threads)
    policy = load_run_policy(cfg.model, base_model_path(cfg.model, run_dir), ckpt)
    policy.model.eval()
    ctx = DistContext()
    base = base_model_path(cfg.model, run_dir)
    runner = EpisodeRunner(make_env_pool(cfg.envs, cfg.rollout, eval_mode=True), policy,
                           make_backend(cfg.rollout, policy, base), cfg.rollout)
    try:
        from mmrl.judges import make_judge

        metrics = evaluate(runner, env_names(cfg.envs), cfg.eval, cfg.rollout.max_new_tokens, ctx,
                           seed=cfg.train.seed, judge=make_judge(cfg.eval.cot_judge, cfg.gtr))
    finally:
        runner.close()
        runner.backend.close()
    out = {"checkpoint": str(ckpt), **{k.removeprefix("eval/"): v for k, v in metrics.items()}}
    from mmrl.plotting import pass_at_k_curve, plot_pass_at_k

    curve = pass_at_k_curve(metrics)
    if len(curve) > 1:  # eval.samples_per_episode > 1: the pass@k curve, drawn next to the run's other plots
        out["pass_at_k_plot"] = str(plot_pass_at_k({ckpt.name: curve}, run_dir / "plots" / f"pass_at_k_{ckpt.name}.png",
                                                   f"{run_dir.name}: held-out pass@k"))
    return out
