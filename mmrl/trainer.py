"""The training loop, top to bottom: collect episodes → advantages → policy update → log → evaluate → checkpoint.

Algorithms differ only in the pure functions of `mmrl.algos` chosen by the config; envs, rewards and correctors
are the extension points, so nobody needs to edit this file to add a task.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml

from mmrl import checkpoint
from mmrl.algos import (
    aggregate_loss,
    clipped_policy_loss,
    group_relative_advantages,
    kl_penalty,
    sft_loss,
    zero_advantage_group_fraction,
)
from mmrl.config import Config, changed_keys, env_names, save_config, to_dict
from mmrl.correctors import Clone, DAggerBuffer, make_corrector
from mmrl.correctors.guide import ask_corrector, guide
from mmrl.distributed import DistContext, Updater, init_distributed, parameter_digest
from mmrl.eval import evaluate
from mmrl.logger import RunLogger, summarize_run
from mmrl.metrics import thought_diversity
from mmrl.models.loading import (
    base_model_path,
    build_tiny_policy,
    load_pretrained_policy,
    load_run_policy,
    save_policy,
)
from mmrl.models.policy import Policy, Prompt
from mmrl.models.value_head import attach_value_head
from mmrl.plotting import plot_run
from mmrl.ppo import episode_gae, ppo_terms
from mmrl.rollout.backends import HFBackend, SamplingParams, derive_seed, make_backend
from mmrl.rollout.runner import EnvPool, Episode, EpisodeRequest, EpisodeRunner, prompt_corpus

WARM_START_DIR = "warm_start"
"""Where a run keeps its warm-started weights (the KL reference of the RL that follows)."""
DEBUG_DIGEST_ENV = "MMRL_DEBUG_DIGEST"
"""When this environment variable is set, each process writes a weights digest at the end (see _write_debug_digest)."""


@dataclass
class Sample:
    """One (prompt, completion) pair to train on, with its advantage; `weight` 0 marks padding. PPO samples also
    carry what the rollout policy said about them (per-token log-probs and value), where the action starts, and the
    value target."""

    prompt: Prompt
    completion: list[int]
    advantage: float
    weight: float = 1.0
    action_start: int = 0
    old_logprobs: list[float] | None = None
    old_value: float = 0.0
    value_target: float = 0.0


# ---------------------------------------------------------------------------------------------- set-up helpers
def run_directory(cfg: Config) -> Path:
    return Path(cfg.train.output_dir or Path("runs") / cfg.train.run_name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def build_policy(cfg: Config, run_dir: Path, resume_from: Path | None, ctx: DistContext) -> tuple[Policy, str]:
    """The policy to train and the path of its initial weights (the KL reference).

    A tiny model is built once and saved to `<run>/base_model`, then always loaded from disk, so the tiny default
    and a real `model.path` checkpoint go through the same loading code.
    """
    base = base_model_path(cfg.model, run_dir)
    if cfg.model.path is None:
        if ctx.is_main and not (run_dir / "base_model" / "config.json").is_file():
            save_policy(build_tiny_policy(cfg.model, prompt_corpus(cfg.envs)), base)
        ctx.barrier()
    policy = load_run_policy(cfg.model, base, resume_from)
    policy.model.to(ctx.device)
    if cfg.algo.name == "ppo":
        attach_value_head(policy.model, resume_from)
    return policy, base


def group_requests(cfg: Config, step: int, ctx: DistContext) -> list[EpisodeRequest]:
    """This step's GRPO groups for this process: env chosen in exact mixture proportions, seeds derived from
    (seed, step, rank) alone, so a resumed run draws exactly what the uninterrupted run drew."""
    rng = np.random.default_rng([cfg.train.seed, step, ctx.rank])
    n_groups = cfg.rollout.groups_per_step
    counts = mixture_counts([s.weight for s in cfg.envs], n_groups)
    env_of_group = rng.permutation(np.repeat(np.arange(len(counts)), counts))
    seeds = rng.integers(0, cfg.eval.seed_offset, size=n_groups)
    requests = []
    for g in range(n_groups):
        requests += [EpisodeRequest(int(env_of_group[g]), int(seeds[g]), g)] * cfg.rollout.group_size
    return requests


def mixture_counts(weights: list[float], total: int) -> np.ndarray:
    """Exact per-env counts summing to `total`, proportional to `weights` (largest-remainder rounding)."""
    w = np.asarray(weights, dtype=float) / sum(weights)
    raw = w * total
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts), kind="stable")[: total - counts.sum()]:
        counts[i] += 1
    return counts


# ---------------------------------------------------------------------------------------------- the losses
def policy_loss(policy: Policy, ref: torch.nn.Module | None, batch: list[Sample], old_logprobs: torch.Tensor | None,
                cfg: Config) -> tuple[torch.Tensor, dict[str, float]]:
    """GRPO: the clipped policy-gradient loss (plus the KL penalty and entropy bonus) on one micro-batch."""
    prompts = [s.prompt for s in batch]
    completions = [s.completion for s in batch]
    with_entropy = "grad" if cfg.algo.entropy_coef > 0 else True
    logprobs, mask, entropy = policy.completion_logprobs(prompts, completions, cfg.rollout.temperature, with_entropy)
    mask = mask * torch.tensor([s.weight for s in batch], device=mask.device).unsqueeze(1)  # (B, T)
    advantages = torch.tensor([s.advantage for s in batch], device=mask.device)  # (B,)
    old = logprobs.detach() if old_logprobs is None else old_logprobs
    loss, stats = clipped_policy_loss(logprobs, old, advantages, mask, cfg.algo.clip_low, cfg.algo.clip_high,
                                      cfg.algo.loss_agg)
    stats = {k: float(v) for k, v in stats.items()}
    return regularised(loss, stats, policy, ref, batch, logprobs, mask, entropy, cfg), stats


def ppo_loss(policy: Policy, ref: torch.nn.Module | None, batch: list[Sample], clones: list[Clone] | None,
             cfg: Config) -> tuple[torch.Tensor, dict[str, float]]:
    """PPO (RL4VLM): clipped loss on the lambda-scaled log-prob (one ratio per response or per token, as
    `algo.ratio_level` says) + value loss (+ KL, entropy), plus GTR's
    thought-cloning cross-entropy on `clones` (corrected thoughts from the DAgger buffer, action tokens masked)."""
    with_entropy = "grad" if cfg.algo.entropy_coef > 0 else True
    scores = policy.score([s.prompt for s in batch], [s.completion for s in batch], cfg.rollout.temperature,
                          with_entropy, with_values=True, value_trunk_grad=cfg.algo.value_trunk_grad)
    device = scores.mask.device
    column = lambda name: torch.tensor([getattr(s, name) for s in batch], device=device)  # noqa: E731
    weight = column("weight")  # (B,)
    old = torch.nn.utils.rnn.pad_sequence([torch.tensor(s.old_logprobs) for s in batch], batch_first=True)
    pg, vf, stats = ppo_terms(scores.logprobs, scores.mask, [s.action_start for s in batch],
                              old[:, : scores.mask.shape[1]].to(device), column("advantage"), scores.values,
                              column("old_value"), column("value_target"), weight, cfg.algo.thought_coef,
                              cfg.algo.clip_low, cfg.algo.clip_high, cfg.algo.value_clip, cfg.algo.ratio_level)
    stats |= {"policy_loss": pg.item(), "value_loss": vf.item()}
    loss = pg + cfg.algo.value_coef * vf
    mask = scores.mask * weight.unsqueeze(1)  # (B, T)
    loss = regularised(loss, stats, policy, ref, batch, scores.logprobs, mask, scores.entropy, cfg)
    if clones is not None:
        cloning = torch.zeros((), device=device)
        if clones:
            logprobs, mask, _ = policy.completion_logprobs([c.prompt for c in clones], [c.completion for c in clones],
                                                           cfg.rollout.temperature)
            thought = torch.nn.utils.rnn.pad_sequence([torch.tensor(c.thought_mask) for c in clones],
                                                      batch_first=True).to(device)  # (C, Tc)
            cloning = sft_loss(logprobs, mask * thought[:, : mask.shape[1]])
            loss = loss + cfg.gtr.cloning_coef * cloning
        stats["cloning_loss"] = cloning.item()
    return loss, stats


def regularised(loss: torch.Tensor, stats: dict[str, float], policy: Policy, ref, batch: list[Sample],
                logprobs: torch.Tensor, mask: torch.Tensor, entropy: torch.Tensor | None, cfg: Config) -> torch.Tensor:
    """`loss` plus the KL penalty to the reference policy and minus the entropy bonus (both token-level)."""
    if ref is not None:
        with torch.no_grad():
            ref_logprobs = reference_logprobs(policy, ref, [s.prompt for s in batch], [s.completion for s in batch],
                                              cfg.rollout.temperature)
        kl = aggregate_loss(kl_penalty(logprobs, ref_logprobs, cfg.algo.kl_estimator), mask, cfg.algo.loss_agg)
        loss = loss + cfg.algo.kl_coef * kl
        stats["kl"] = kl.item()
    mean_entropy = aggregate_loss(entropy, mask, cfg.algo.loss_agg)
    if cfg.algo.entropy_coef > 0:
        loss = loss - cfg.algo.entropy_coef * mean_entropy
    stats["entropy"] = mean_entropy.item()
    return loss


def reference_logprobs(policy: Policy, ref, prompts, completions, temperature) -> torch.Tensor:
    if ref == "adapter-off":  # LoRA: the reference is the base model with the adapters switched off
        with policy.model.disable_adapter():
            return policy.completion_logprobs(prompts, completions, temperature)[0]
    trained = policy.model
    policy.model = ref
    try:
        return policy.completion_logprobs(prompts, completions, temperature)[0]
    finally:
        policy.model = trained


def chunks(items: list, n: int) -> list[list]:
    bounds = np.linspace(0, len(items), n + 1).round().astype(int)
    return [items[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


# ---------------------------------------------------------------------------------------------- the loop
class Trainer:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        torch.set_num_threads(cfg.train.torch_threads)
        self.ctx = init_distributed(cfg.train.deepspeed)
        self.run_dir = run_directory(cfg)
        if self.ctx.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        self.ctx.barrier()
        self.resume_from = checkpoint.latest_checkpoint(self.run_dir)
        self.start_step = 0
        if self.resume_from is not None:
            self.start_step = torch.load(self.resume_from / "trainer_state.pt", weights_only=False)["step"]
        seed_everything(cfg.train.seed + self.ctx.rank)
        self.policy, self.base_path = build_policy(cfg, self.run_dir, self.resume_from, self.ctx)
        self.ref = self._reference_model()
        self.backend = backend = make_backend(cfg.rollout, self.policy, self.base_path, cfg.train.seed)
        self.runner = EpisodeRunner(EnvPool(cfg.envs), self.policy, backend, cfg.rollout)
        self.eval_runner = EpisodeRunner(EnvPool(cfg.envs, eval_mode=True), self.policy, backend, cfg.rollout)
        self.env_names = env_names(cfg.envs)
        samples_per_step = cfg.rollout.groups_per_step * cfg.rollout.group_size
        updates = cfg.train.total_steps * cfg.algo.ppo_epochs * math.ceil(samples_per_step / cfg.algo.minibatch_size)
        micro = max(1, cfg.algo.minibatch_size // cfg.optim.grad_accum_steps)
        self.updater = Updater(self.policy.model, cfg.optim, updates, micro, self.ctx, cfg.train.deepspeed,
                               sft_updates=cfg.train.sft_steps, sft_lr=cfg.train.sft_lr)
        if self.updater.zero_stage == 3 and self.ctx.world_size > 1 and isinstance(backend, HFBackend):
            backend.synced_gpus = True  # ranks whose generations stop early must keep joining the all-gathers
            backend.batch_size = 10**9  # one generate call per turn on every rank
            for runner in (self.runner, self.eval_runner):
                runner.sync_turns = self.ctx.max
        self.corrector = make_corrector(cfg.gtr, str(self.ctx.device), self.runner.pool.formats(), cfg.rollout)
        self.dagger = DAggerBuffer()
        self.logger = None
        if self.ctx.is_main:
            changes = self._keep_changed_config()
            save_config(cfg, self.run_dir / "config.yaml")
            resume_step = self.start_step if self.resume_from is not None else None
            self.logger = RunLogger(self.run_dir, resume_step, cfg.train.total_steps, cfg.train.progress)
            if changes:
                self._print("the config changed since this run was saved (old one kept as config.previous.yaml):\n  "
                            + "\n  ".join(changes))
        params = list(self.policy.model.parameters())
        size = sum(getattr(p, "ds_numel", p.numel()) for p in params) / 1e6  # ds_numel: ZeRO-3's partitioned size
        self._print(f"policy: {size:.2f}M parameters, {params[0].dtype}, on {params[0].device}; "
                    f"{self.ctx.world_size} process(es)"
                    + (f", DeepSpeed ZeRO-{self.updater.zero_stage}" if cfg.train.deepspeed else ""))
        if self.resume_from is not None:
            self.updater.load(self.resume_from)
            rng = torch.load(self.resume_from / f"rng_rank{self.ctx.rank}.pt", weights_only=False)
            checkpoint.set_rng_state(rng)
            self.dagger.load(self.resume_from / f"gtr_buffer_rank{self.ctx.rank}.pt")
            self._print(f"Resuming from {self.resume_from} (step {self.start_step} of {cfg.train.total_steps})")

    def _keep_changed_config(self) -> list[str]:
        """Resuming with a config that differs from the saved one: the differences (extending total_steps is
        common; an edited reward or model deserves a second look), with the old file kept as config.previous.yaml."""
        saved = self.run_dir / "config.yaml"
        if self.resume_from is None or not saved.is_file():
            return []
        old = yaml.safe_load(saved.read_text())
        now = yaml.safe_load(yaml.safe_dump(to_dict(self.cfg)))  # as saved: tuples become lists
        changes = changed_keys(old if isinstance(old, dict) else {}, now)
        if changes:
            saved.replace(self.run_dir / "config.previous.yaml")
        return changes

    def _reference_model(self):
        """The KL reference: the policy RL starts from, i.e. the warm-started model when there was a warm-start
        (saved to `<run>/warm_start`, so a resumed run finds it), else the initial weights. With LoRA it is the base
        model with the adapters switched off."""
        if self.cfg.algo.kl_coef <= 0:
            return None
        if self.cfg.model.lora.r > 0:
            return "adapter-off"
        warm = self.run_dir / WARM_START_DIR
        path = str(warm) if (warm / "config.json").is_file() else self.base_path
        ref = load_pretrained_policy(path, self.cfg.model).model.to(self.ctx.device).eval()
        return ref.requires_grad_(False)

    def _keep_warm_start(self) -> None:
        """Save the warm-started weights and make them the KL reference."""
        if not isinstance(self.ref, torch.nn.Module):
            return
        with self.updater.full_weights():
            if self.ctx.is_main:
                save_policy(self.policy, str(self.run_dir / WARM_START_DIR))
        self.ctx.barrier()
        self.ref = self._reference_model()

    def _print(self, message: str) -> None:
        if self.logger is not None:
            self.logger.print(message)

    # ------------------------------------------------------------------ one RL step
    def collect(self, step: int) -> tuple[list[Episode], list[Sample], dict[str, float]]:
        cfg = self.cfg
        requests = group_requests(cfg, step, self.ctx)
        params = SamplingParams(cfg.rollout.max_new_tokens, cfg.rollout.temperature, cfg.rollout.top_p,
                                seed=derive_seed(cfg.train.seed, step, self.ctx.rank))
        episodes = self.runner.run(requests, params)
        if cfg.algo.name == "ppo":
            return episodes, *self._ppo_samples(episodes)
        returns = torch.tensor([ep.total_reward for ep in episodes])  # (groups*G,)
        advantages = group_relative_advantages(returns, cfg.rollout.group_size, cfg.algo.advantage == "grpo")
        samples = [Sample(t.prompt, t.completion.token_ids, float(a))
                   for ep, a in zip(episodes, advantages) for t in ep.turns]
        stats = {"train/zero_adv_groups": zero_advantage_group_fraction(returns, cfg.rollout.group_size)}
        return episodes, samples, stats

    def _ppo_samples(self, episodes: list[Episode]) -> tuple[list[Sample], dict[str, float]]:
        """GTR's corrections (when a corrector is set), then per-step values, old log-probs and GAE."""
        cfg = self.cfg
        stats: dict[str, float] = {}
        if self.corrector is not None:
            result = guide(episodes, ask_corrector(self.corrector, episodes, cfg.gtr), self.policy, cfg.gtr)
            self.dagger.add(result.clones)
            stats |= result.stats | {"gtr/buffer_size": float(len(self.dagger))}
        turns = [t for ep in episodes for t in ep.turns]
        starts = [ep.response_format.action_token_start(t.completion.token_ids, self.policy.decode)
                  for ep in episodes for t in ep.turns]
        old_logprobs: list[list[float]] = []
        old_values: list[float] = []
        # One scoring forward per minibatch; every process runs as many (ZeRO-3 gathers weights in each).
        n_chunks = max(self.ctx.max(math.ceil(len(turns) / cfg.algo.minibatch_size)), 1)
        with torch.no_grad():
            for part in chunks(turns, n_chunks):
                rows = part or turns[-1:]
                scores = self.policy.score([t.prompt for t in rows], [t.completion.token_ids for t in rows],
                                           cfg.rollout.temperature, with_values=True)
                if part:
                    old_logprobs += [row[: len(t.completion.token_ids)] for row, t in
                                     zip(scores.logprobs.tolist(), part)]
                    old_values += scores.values.tolist()
        per_episode, at = [], 0
        for ep in episodes:
            per_episode.append(old_values[at : at + len(ep.turns)])
            at += len(ep.turns)
        advantages, targets = episode_gae(episodes, per_episode, cfg.algo.gamma, cfg.algo.gae_lambda)
        flat_adv = torch.tensor([a for row in advantages for a in row])
        if cfg.algo.normalize_advantages and len(flat_adv) > 1 and flat_adv.std() > 0:
            flat_adv = (flat_adv - flat_adv.mean()) / (flat_adv.std() + 1e-8)
        flat_targets = [r for row in targets for r in row]
        samples = [Sample(t.prompt, t.completion.token_ids, float(a), 1.0, start, lp, v, r)
                   for t, a, start, lp, v, r in zip(turns, flat_adv.tolist(), starts, old_logprobs, old_values,
                                                     flat_targets)]
        stats["train/value_mean"] = float(np.mean(old_values)) if old_values else 0.0
        thoughts = [ep.response_format.thought(t.completion.text) for ep in episodes if ep.response_format.has_thought
                    for t in ep.turns]
        stats |= {f"gtr/{k}": v for k, v in thought_diversity(thoughts).items()}
        return samples, stats

    def update(self, samples: list[Sample]) -> dict[str, float]:
        """`ppo_epochs` passes of clipped policy-gradient updates over minibatches of `samples`."""
        cfg = self.cfg
        # Every process must run the same number of backward passes (ZeRO reduces gradients in them).
        n_mini = max(self.ctx.max(math.ceil(len(samples) / cfg.algo.minibatch_size)), 1)
        n_micro = n_mini * cfg.optim.grad_accum_steps
        while len(samples) < n_micro:  # padding copies carry weight 0
            samples = samples + [dataclasses.replace(samples[-1], advantage=0.0, weight=0.0)]
        micro_batches = chunks(samples, n_micro)
        old = None
        ppo = cfg.algo.name == "ppo"
        gtr = ppo and self.corrector is not None
        clone_rng = np.random.default_rng(np.random.randint(2**31)) if gtr else None  # from the checkpointed RNG
        per_micro = max(1, cfg.gtr.buffer_batch // cfg.optim.grad_accum_steps)
        if not ppo and (cfg.algo.ppo_epochs > 1 or n_mini > 1):  # else on-policy: the ratio is exactly 1
            with torch.no_grad():
                old = [self.policy.completion_logprobs([s.prompt for s in mb], [s.completion for s in mb],
                                                       cfg.rollout.temperature)[0] for mb in micro_batches]
        totals: dict[str, float] = {}
        norms = []
        self.policy.model.train()
        for _ in range(cfg.algo.ppo_epochs):
            order = np.random.permutation(len(micro_batches)) if cfg.algo.ppo_epochs > 1 else range(len(micro_batches))
            for i in order:
                if ppo:
                    clones = self.dagger.sample(per_micro, clone_rng) if gtr else None
                    loss, stats = ppo_loss(self.policy, self.ref, micro_batches[i], clones, cfg)
                else:
                    loss, stats = policy_loss(self.policy, self.ref, micro_batches[i],
                                              None if old is None else old[i], cfg)
                norm = self.updater.micro_step(loss)
                if norm is not None:
                    norms.append(norm)
                for k, v in {"loss": loss.item(), **stats}.items():
                    totals[k] = totals.get(k, 0.0) + v / (len(micro_batches) * cfg.algo.ppo_epochs)
        totals["grad_norm"] = float(np.mean(norms)) if norms else 0.0
        return totals

    def sft_warm_start(self) -> None:
        """Supervised steps on the envs' expert actions (cold start), before any RL. Envs are drawn in the
        mixture's proportions, like RL's episodes."""
        cfg = self.cfg
        weights = np.array([s.weight for s in cfg.envs], dtype=float)
        share = None if np.all(weights == weights[0]) else weights / weights.sum()  # uniform: the old stream
        for step in range(cfg.train.sft_steps):
            rng = np.random.default_rng([cfg.train.seed, 10**6 + step, self.ctx.rank])
            requests = []
            for _ in range(cfg.train.sft_batch_size):
                env = rng.integers(len(weights)) if share is None else rng.choice(len(weights), p=share)
                requests.append(EpisodeRequest(int(env), int(rng.integers(cfg.eval.seed_offset))))
            pairs = self.runner.warm_start_pairs(requests, cfg.train.sft_target, rng)
            batch = [(p, self.policy.encode_completion(a)) for p, a in pairs]
            losses = []
            for mb in chunks(batch, cfg.optim.grad_accum_steps):
                logprobs, mask, _ = self.policy.completion_logprobs([p for p, _ in mb], [c for _, c in mb],
                                                                    cfg.rollout.temperature)
                loss = sft_loss(logprobs, mask)
                self.updater.micro_step(loss)
                losses.append(loss.item())
            if self.logger is not None and (step + 1) % 10 == 0:
                self._print(f"sft step {step + 1}/{cfg.train.sft_steps}: loss {np.mean(losses):.3f}")

    def evaluate(self, step: int) -> dict[str, float]:
        cfg = self.cfg
        return evaluate(self.eval_runner, self.env_names, cfg.eval, cfg.rollout.max_new_tokens, self.ctx,
                        seed=cfg.train.seed + step)

    def save(self, step: int) -> None:
        tmp = checkpoint.begin(self.run_dir, step) if self.ctx.is_main else checkpoint.temp_dir(self.run_dir, step)
        self.ctx.barrier()
        with self.updater.full_weights():
            if self.ctx.is_main:
                save_policy(self.policy, str(tmp))
        if self.ctx.is_main:
            torch.save({"step": step}, tmp / "trainer_state.pt")
        self.updater.save(tmp)
        torch.save(checkpoint.rng_state(), tmp / f"rng_rank{self.ctx.rank}.pt")
        if self.corrector is not None:
            self.dagger.save(tmp / f"gtr_buffer_rank{self.ctx.rank}.pt")
        self.ctx.barrier()
        if self.ctx.is_main:
            checkpoint.finish(self.run_dir, step, self.cfg.train.keep_checkpoints)
        self.ctx.barrier()

    def train(self) -> dict[str, float]:
        cfg = self.cfg
        every = lambda n, s: n > 0 and s % n == 0  # noqa: E731
        episodes: list[Episode] = []
        if self.start_step == 0:
            self._log(0, self.evaluate(0))
            if cfg.train.sft_steps > 0 and self.runner.labelled_envs(cfg.train.sft_target, self._print):
                self.sft_warm_start()
                self.backend.sync()
                self._keep_warm_start()
                after_sft = {f"sft/{k.split('/', 1)[1]}": v for k, v in self.evaluate(0).items()}
                self._log(0, after_sft)
                self._print(f"after SFT warm-start: eval/success_rate {after_sft['sft/success_rate']:.3f}")
        for step in range(self.start_step + 1, cfg.train.total_steps + 1):
            t0 = time.perf_counter()
            episodes, samples, stats = self.collect(step)
            t1 = time.perf_counter()
            losses = self.update(samples)
            if step % cfg.rollout.sync_every == 0 or every(cfg.train.eval_every, step) or step == cfg.train.total_steps:
                self.backend.sync()  # a separate generation engine (vLLM) takes the new weights
            t2 = time.perf_counter()
            metrics = self._train_metrics(episodes, stats, losses)
            metrics |= {"time/rollout_s": t1 - t0, "time/update_s": t2 - t1}
            if every(cfg.train.eval_every, step) or step == cfg.train.total_steps:
                metrics |= self.evaluate(step)
            self._log(step, metrics, episodes)
            if every(cfg.train.save_every, step) or step == cfg.train.total_steps:
                self.save(step)
        summary = {}
        if self.logger is not None:
            self.logger.close()
            plot_run(self.run_dir)
            summary = summarize_run(self.run_dir)
        if os.environ.get(DEBUG_DIGEST_ENV):
            self._write_debug_digest([ep.request.seed for ep in episodes])
        self.runner.close()
        self.eval_runner.close()
        if self.corrector is not None:
            self.corrector.close()
        self.ctx.barrier()
        self.backend.close()  # before the process group goes: vLLM tears down its groups (and the default one)
        self.ctx.close()
        return summary

    def _write_debug_digest(self, last_seeds: list[int]) -> None:
        """Test hook (tests/test_distributed.py), only when MMRL_DEBUG_DIGEST is set: every process writes
        `<run>/debug/rank<r>.json` with its rank, the env seeds of its last step and a digest of its final weights,
        so a test can check that processes drew different data yet ended with identical weights."""
        with self.updater.full_weights():
            digest = parameter_digest(self.policy.model)
        path = self.run_dir / "debug" / f"rank{self.ctx.rank}.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps({"rank": self.ctx.rank, "world_size": self.ctx.world_size,
                                    "zero_stage": self.updater.zero_stage, "last_step_seeds": last_seeds,
                                    "weights_sha256": digest}))

    # ------------------------------------------------------------------ logging
    def _train_metrics(self, episodes: list[Episode], stats: dict, losses: dict) -> dict[str, float]:
        turns = [t for ep in episodes for t in ep.turns]
        flags = [bool(t.info["format_error"]) for t in turns if "format_error" in t.info]
        sums = self.ctx.sum([
            sum(ep.total_reward for ep in episodes), sum(ep.success for ep in episodes), len(episodes),
            sum(len(t.completion.token_ids) for t in turns), len(turns), sum(flags), len(flags),
            sum(ep.error is not None for ep in episodes),
        ])
        reward, success, n_ep, tokens, n_turns, fmt_err, fmt_n, errors = sums
        # Losses and the collection stats are per-process means: average them over processes.
        local = {**{f"losses/{k}": v for k, v in losses.items()}, **stats}
        averaged = dict(zip(local, (v / self.ctx.world_size for v in self.ctx.sum(list(local.values())))))
        metrics = {
            "train/episodes": n_ep,
            "train/reward_mean": reward / n_ep,
            "train/success_rate": success / n_ep,
            "train/response_length": tokens / max(n_turns, 1),
            "train/format_error_rate": fmt_err / max(fmt_n, 1),
            "train/env_errors": errors,
            "train/lr": self.updater.lr,
        }
        metrics |= self._component_means(turns)
        if len(self.env_names) > 1:  # per-env reward and success, summed over processes (mixtures)
            per_env = []
            for index in range(len(self.env_names)):
                mine = [ep for ep in episodes if ep.request.env_index == index]
                per_env += [sum(ep.total_reward for ep in mine), sum(ep.success for ep in mine), len(mine)]
            totals = self.ctx.sum(per_env)
            for index, name in enumerate(self.env_names):
                reward, success, count = totals[3 * index : 3 * index + 3]
                if count:
                    metrics[f"train/{name}/reward_mean"] = reward / count
                    metrics[f"train/{name}/success_rate"] = success / count
        metrics |= averaged
        if self.corrector is not None:
            metrics["gtr/success_rate"] = metrics["train/success_rate"]
        return metrics

    def _component_means(self, turns) -> dict[str, float]:
        """Mean of each numeric `reward/<name>` info entry over the turns that report it, over all processes."""
        sums: dict[str, list[float]] = {}
        for t in turns:
            for k, v in t.info.items():
                if k.startswith("reward/") and isinstance(v, (int, float)) and not isinstance(v, bool):
                    entry = sums.setdefault(k, [0.0, 0.0])
                    entry[0] += float(v)
                    entry[1] += 1
        names = self.ctx.union(set(sums))
        totals = self.ctx.sum([x for name in names for x in sums.get(name, [0.0, 0.0])])
        return {f"train/{name}": totals[2 * i] / totals[2 * i + 1]
                for i, name in enumerate(names) if totals[2 * i + 1] > 0}

    def _log(self, step: int, metrics: dict[str, float], episodes: list[Episode] | None = None) -> None:
        if self.logger is None:
            return
        self.logger.log(step, metrics)
        if episodes:
            rows = []
            for ep in episodes[: self.cfg.train.log_samples]:
                rows.append({
                    "step": step, "env": self.env_names[ep.request.env_index], "seed": ep.request.seed,
                    "return": ep.total_reward, "success": ep.success, "error": ep.error,
                    "turns": [{"prompt": t.prompt.text, "response": t.completion.text, "reward": t.reward,
                               "info": t.info} for t in ep.turns],
                })
            self.logger.log_samples(rows)


def train(cfg: Config) -> dict[str, float]:
    """Train (or resume) the run described by `cfg`; returns a summary of start and end metrics."""
    return Trainer(cfg).train()
