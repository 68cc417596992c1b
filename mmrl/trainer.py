"""The training loop, top to bottom: `__init__` (set-up) -> `train` -> `collect` (episodes -> samples with
advantages) -> `update` (policy-gradient steps), then log, evaluate, checkpoint.

The RL algorithm is one object chosen from `algo.name` (`mmrl.algos.registry`): it turns a step's samples into
advantages and a micro-batch into a loss; this file never branches on its name. Envs, rewards and correctors are
the other extension points, so nobody needs to edit this file to add a task or an algorithm.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import signal
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from mmrl import checkpoint
from mmrl.algos import sft_loss
from mmrl.algos.base import Sample, StepTools, padded
from mmrl.algos.divergences import divergence_term
from mmrl.algos.registry import make_algorithm
from mmrl.algos.tis import rollout_mismatch
from mmrl.config import Config, UserError, changed_keys, env_names, parse_yaml, save_config, to_dict
from mmrl.correctors import Clone, DAggerBuffer, make_corrector
from mmrl.correctors.guide import ask_corrector, guide
from mmrl.distributed import DistContext, Updater, init_distributed, parameter_digest
from mmrl.episode_metrics import episode_metrics
from mmrl.eval import evaluate
from mmrl.faults import NonFiniteGuard, RunHalted, StopSignals, drop_nonfinite_samples
from mmrl.judges import make_judge
from mmrl.logger import RunLogger, summarize_run
from mmrl.metrics import prompt_response_mutual_information, thought_diversity
from mmrl.models.loading import (
    base_model_path,
    build_tiny_policy,
    load_pretrained_policy,
    load_run_policy,
    save_policy,
)
from mmrl.models.policy import Policy, Prompt
from mmrl.models.reference import AdapterOff, FrozenModel, Reference, ReferenceSamples, SavedAdapter
from mmrl.models.value_head import attach_value_head
from mmrl.plotting import plot_run
from mmrl.rollout.backends import HFBackend, SamplingParams, derive_seed, make_backend
from mmrl.rollout.env_workers import make_env_pool
from mmrl.rollout.runner import Episode, EpisodeRequest, EpisodeRunner, Turn, prompt_corpus
from mmrl.rollout.spec_check import check_env_specs
from mmrl.samples import ImageStore, episode_rows, spread
from mmrl.warm_start import warm_start_source

__all__ = ["Sample", "Trainer", "train"]

WARM_START_DIR = "warm_start"
"""Where a run keeps its warm-started weights (the KL reference of the RL that follows)."""
REFERENCE_DIR = "reference"
"""Where a run keeps the policies its reference was reset to (ProRL), one folder per step."""
REFERENCE_SAMPLES_ROUND = 10**6
"""Round number of the groups played by the reference for DPH-RL's stored samples (seeds apart from training's)."""
EXTRA_SAMPLES_ROUND = 2 * 10**6
"""Round numbers from here seed an algorithm's own generations (`Algorithm.extra_samples`)."""
DEBUG_DIGEST_ENV = "MMRL_DEBUG_DIGEST"
"""When this environment variable is set, each process writes a weights digest at the end (see _write_debug_digest)."""


# ---------------------------------------------------------------------------------------------- set-up helpers
def run_directory(cfg: Config) -> Path:
    return Path(cfg.train.output_dir or Path("runs") / cfg.train.run_name)


def make_run_directory(run_dir: Path) -> None:
    """Create the run directory, or say in one line why it cannot be written."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".mmrl-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise UserError(f"train.output_dir: cannot write to {run_dir}: {err.strerror or err}") from None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def build_policy(cfg: Config, run_dir: Path, resume_from: Path | None, ctx: DistContext, value_head: bool = False
                 ) -> tuple[Policy, str]:
    """The policy to train and the path of its initial weights (the KL reference).

    A tiny model is built once and saved to `<run>/base_model`, then always loaded from disk, so the tiny default
    and a real `model.path` checkpoint go through the same loading code.
    """
    base = base_model_path(cfg.model, run_dir)
    if cfg.model.path is None:
        if ctx.is_main and not (run_dir / "base_model" / "config.json").is_file():
            save_policy(build_tiny_policy(cfg.model, prompt_corpus(cfg.envs, rollout=cfg.rollout)), base)
        ctx.barrier()
    policy = load_run_policy(cfg.model, base, resume_from)
    policy.model.to(ctx.device)
    if value_head:
        attach_value_head(policy.model, resume_from)
    return policy, base


def group_requests(cfg: Config, step: int, ctx: DistContext, round_: int = 0) -> list[EpisodeRequest]:
    """This step's groups for this process: env chosen in exact mixture proportions, seeds derived from
    (seed, step, rank) alone, so a resumed run draws exactly what the uninterrupted run drew. `round_` > 0 draws
    dynamic sampling's extra groups (their group ids follow the earlier rounds')."""
    rng = np.random.default_rng([cfg.train.seed, step, ctx.rank] + ([round_] if round_ else []))
    n_groups = cfg.rollout.groups_per_step
    counts = mixture_counts([s.weight for s in cfg.envs], n_groups)
    env_of_group = rng.permutation(np.repeat(np.arange(len(counts)), counts))
    seeds = rng.integers(0, cfg.eval.seed_offset, size=n_groups)
    requests = []
    for g in range(n_groups):
        group = round_ * n_groups + g
        requests += [EpisodeRequest(int(env_of_group[g]), int(seeds[g]), group)] * cfg.rollout.group_size
    return requests


def mixture_counts(weights: list[float], total: int) -> np.ndarray:
    """Exact per-env counts summing to `total`, proportional to `weights` (largest-remainder rounding)."""
    w = np.asarray(weights, dtype=float) / sum(weights)
    raw = w * total
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts), kind="stable")[: total - counts.sum()]:
        counts[i] += 1
    return counts


def chunks(items: list, n: int) -> list[list]:
    bounds = np.linspace(0, len(items), n + 1).round().astype(int)
    return [items[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


# ---------------------------------------------------------------------------------------------- the loop
class Trainer:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.algorithm = make_algorithm(cfg)
        self._open_run_directory()
        self._build_policy_and_reference()
        self._build_rollout()
        self._build_updater()
        self.corrector = make_corrector(cfg.gtr, str(self.ctx.device), self.runner.pool.formats(), cfg.rollout) \
            if self.algorithm.guided_by_corrector else None
        self.judge = make_judge(cfg.eval.cot_judge, cfg.gtr, str(self.ctx.device))
        self.dagger = DAggerBuffer()
        self.sft_data: list[tuple[Prompt, str]] | None = None
        """(prompt, response) pairs the warm-start trains on instead of the envs' expert actions (mmrl iterate)."""
        self.reference_samples = ReferenceSamples()
        self._open_logger()
        if self.resume_from is not None:
            self._restore()

    # ------------------------------------------------------------------ set-up steps
    def _open_run_directory(self) -> None:
        """Processes, the run directory, the checkpoint to resume from (if any), and the seeds."""
        cfg = self.cfg
        torch.set_num_threads(cfg.train.torch_threads)
        self.ctx = init_distributed(cfg.train.deepspeed)
        check_env_specs(cfg.envs)  # a wrong env id or kwarg fails here, before the run directory exists
        self.run_dir = run_directory(cfg)
        if self.ctx.is_main:
            make_run_directory(self.run_dir)
        self.ctx.barrier()
        say = print if self.ctx.is_main else (lambda line: None)
        self.resume_from = checkpoint.latest_usable(self.run_dir, self.ctx.rank, warn=say)
        if self.resume_from is None and checkpoint.complete_checkpoints(self.run_dir):
            say(f"warning: no usable checkpoint in {self.run_dir / 'checkpoints'}: the run starts again from step 0")
        self.start_step = 0
        self.reference_step = 0  # the RL step of the last reference reset (ProRL); 0: the RL starting point
        if self.resume_from is not None:
            state = torch.load(self.resume_from / "trainer_state.pt", weights_only=False)
            self.start_step, self.reference_step = state["step"], state.get("reference_step", 0)
        seed_everything(cfg.train.seed + self.ctx.rank)

    def _build_policy_and_reference(self) -> None:
        self.policy, self.base_path = build_policy(self.cfg, self.run_dir, self.resume_from, self.ctx,
                                                   self.algorithm.value_head)
        self.reference = self._reference()

    def _build_rollout(self) -> None:
        """The generation backend and the episode runners for training and held-out evaluation."""
        cfg = self.cfg
        self.backend = make_backend(cfg.rollout, self.policy, self.base_path, cfg.train.seed)
        self.runner = EpisodeRunner(make_env_pool(cfg.envs, cfg.rollout), self.policy, self.backend, cfg.rollout)
        self.eval_runner = EpisodeRunner(make_env_pool(cfg.envs, cfg.rollout, eval_mode=True), self.policy,
                                         self.backend, cfg.rollout)
        self.env_names = env_names(cfg.envs)

    def _build_updater(self) -> None:
        """The optimiser (a DeepSpeed engine when configured); its LR schedule runs over RL steps (`begin_step`
        announces each step's real number of optimiser updates)."""
        cfg = self.cfg
        micro = max(1, cfg.algo.minibatch_size // cfg.optim.grad_accum_steps)
        self.updater = Updater(self.policy.model, cfg.optim, cfg.train.total_steps, micro, self.ctx,
                               cfg.train.deepspeed, sft_updates=cfg.train.sft_steps, sft_lr=cfg.train.sft_lr)
        if self.updater.zero_stage == 3 and self.ctx.world_size > 1 and isinstance(self.backend, HFBackend):
            self.backend.synced_gpus = True  # ranks whose generations stop early must keep joining the all-gathers
            self.backend.batch_size = 10**9  # one generate call per turn on every rank
            for runner in (self.runner, self.eval_runner):
                runner.sync_turns = self.ctx.max

    def _open_logger(self) -> None:
        cfg = self.cfg
        self.logger = None
        if self.ctx.is_main:
            changes = self._keep_changed_config()
            save_config(cfg, self.run_dir / "config.yaml")
            resume_step = self.start_step if self.resume_from is not None else None
            self.logger = RunLogger(self.run_dir, resume_step, cfg.train.total_steps, cfg.train.progress,
                                    cfg.train.report_to, to_dict(cfg))
            self.images = ImageStore(self.run_dir, int(cfg.train.sample_images_max_mb * 2**20))
            if changes:
                self._print("the config changed since this run was saved (old one kept as config.previous.yaml):\n  "
                            + "\n  ".join(changes))
        params = list(self.policy.model.parameters())
        size = sum(getattr(p, "ds_numel", p.numel()) for p in params) / 1e6  # ds_numel: ZeRO-3's partitioned size
        self._print(f"policy: {size:.2f}M parameters, {params[0].dtype}, on {params[0].device}; "
                    f"{self.ctx.world_size} process(es)"
                    + (f", DeepSpeed ZeRO-{self.updater.zero_stage}" if cfg.train.deepspeed else "")
                    + f"; algorithm {cfg.algo.name}")
        if self.algorithm.group_baseline and cfg.rollout.group_size == 1:
            self._print(f"warning: rollout.group_size=1 under algo.name {cfg.algo.name}: a group of one episode has "
                        "nothing to compare with, so every group-relative advantage is 0 and the policy gradient "
                        "trains nothing; set rollout.group_size >= 2")

    def _restore(self) -> None:
        """Optimiser, RNG and DAgger buffer of the checkpoint being resumed (the weights were loaded with the policy)."""
        self.updater.load(self.resume_from)
        rng = torch.load(self.resume_from / f"rng_rank{self.ctx.rank}.pt", weights_only=False)
        checkpoint.set_rng_state(rng)
        self.dagger.load(self.resume_from / f"gtr_buffer_rank{self.ctx.rank}.pt")
        self.reference_samples.load(self.resume_from / f"reference_samples_rank{self.ctx.rank}.pt")
        self._print(f"Resuming from {self.resume_from} (step {self.start_step} of {self.cfg.train.total_steps})")

    def train(self) -> dict[str, float]:
        """Run the loop (see `_loop`); SIGTERM/SIGINT during it save a checkpoint and raise `RunHalted` with exit
        status 128 + the signal's number after the usual clean-up."""
        with StopSignals() as signals:
            halted = None
            try:
                episodes = self._loop(signals)
            except RunHalted as stop:
                halted, episodes = stop, []
            summary = self._finish(episodes)
        if halted is not None:
            raise halted
        return summary

    def _loop(self, signals: StopSignals) -> list[Episode]:
        cfg = self.cfg
        every = lambda n, s: n > 0 and s % n == 0  # noqa: E731
        episodes: list[Episode] = []
        guard = NonFiniteGuard(cfg.train.max_nonfinite_steps)
        if self.start_step == 0:
            self._log(0, self.evaluate(0))
            if cfg.train.sft_steps > 0 and (self.sft_data is not None or cfg.train.demos
                                            or self.runner.labelled_envs(cfg.train.sft_target, self._print)):
                self.sft_warm_start(self.sft_data)
                self.backend.sync()
                self._keep_warm_start()
                after_sft = {f"sft/{k.split('/', 1)[1]}": v
                             for k, v in self.evaluate(0, "eval_after_warm_start").items()} | self.sft_stats
                self._log(0, after_sft)
                self._print(f"after SFT warm-start: eval/success_rate {after_sft['sft/success_rate']:.3f}")
        for step in range(self.start_step + 1, cfg.train.total_steps + 1):
            if self.ctx.max(int(signals.received is not None)):  # arrived before the first step
                again = f"resumes from step_{self.start_step}" if self.start_step else "starts the run again"
                self._stop_on_signal(signals.received, f"before step {step}; the same command {again}")
            t0 = time.perf_counter()
            episodes, samples, stats = self.collect(step)
            self.backend.idle()  # e.g. vLLM's sleep mode frees the engine's GPU memory for the update
            t1 = time.perf_counter()
            losses = self.update(samples, step)
            if step % cfg.rollout.sync_every == 0 or every(cfg.train.eval_every, step) or step == cfg.train.total_steps:
                self.backend.sync()  # a separate generation engine (vLLM) takes the new weights
            t2 = time.perf_counter()
            metrics = self._train_metrics(episodes, stats, losses)
            metrics["train/skipped_nonfinite"] = float(self.skipped_updates)
            if every(cfg.algo.reference_reset_every, step):
                metrics |= self._reset_reference(step)
            metrics |= {"time/rollout_s": t1 - t0, "time/update_s": t2 - t1}
            if every(cfg.train.eval_every, step) or step == cfg.train.total_steps:
                metrics |= self.evaluate(step)
            self._log(step, metrics, episodes)
            guard.record(step, self.skipped_updates)
            stopping = self.ctx.max(int(signals.received is not None))
            if every(cfg.train.save_every, step) or step == cfg.train.total_steps or stopping:
                saved = self.save(step)
                if not saved and (step == cfg.train.total_steps or stopping):
                    raise RunHalted(f"step {step}: the run ended but its last checkpoint could not be written "
                                    "(see the warning above); once the storage is fixed, the same command redoes the "
                                    "steps since the latest checkpoint")
            if stopping:
                self._stop_on_signal(signals.received, f"after step {step}, checkpoint step_{step} saved; the "
                                                       "same command resumes from it")
        return episodes

    @staticmethod
    def _stop_on_signal(signum: int | None, where: str) -> None:
        signum = signum or signal.SIGTERM  # another process got it (multi-process runs stop together)
        raise RunHalted(f"stopped by {signal.Signals(signum).name} {where}", StopSignals.exit_code(signum))

    def _finish(self, episodes: list[Episode]) -> dict[str, float]:
        """Close the logger, plot, and release the envs, engines and process group."""
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
        if self.judge is not None:
            self.judge.close()
        self.ctx.barrier()
        self.backend.close()  # before the process group goes: vLLM tears down its groups (and the default one)
        self.ctx.close()
        return summary

    # ------------------------------------------------------------------ one RL step
    def collect(self, step: int) -> tuple[list[Episode], list[Sample], dict[str, float]]:
        """Play this step's episodes, apply GTR's corrections (when a corrector is set), turn every turn into a
        sample, compute old log-probs once (when needed), and let the algorithm set the advantages."""
        stats = self._store_reference_samples(step) if self.reference_samples_on and not self.reference_samples \
            else {}
        episodes, more = self._play(step)
        stats |= more
        if self.corrector is not None:
            result = guide(episodes, ask_corrector(self.corrector, episodes, self.cfg.gtr), self.policy, self.cfg.gtr)
            self.dagger.add(result.clones)
            stats |= result.stats | {"gtr/buffer_size": float(len(self.dagger))}
        samples = [self._sample(i, ep, t, turn) for i, ep in enumerate(episodes) for t, turn in enumerate(ep.turns)]
        extra, more = self.algorithm.extra_samples(episodes, self._step_tools(step))
        samples, stats = samples + extra, stats | more
        stats |= self._old_logprob_pass(samples)
        stats |= self.algorithm.advantages(episodes, samples)
        stats["train/nonfinite_samples"] = float(drop_nonfinite_samples(samples))
        turns = [t for ep in episodes for t in ep.turns]
        thoughts = [ep.response_format.thought(t.completion.text) for ep in episodes if ep.response_format.has_thought
                    for t in ep.turns]
        stats |= {f"gtr/{k}": v for k, v in thought_diversity(thoughts).items()}
        stats |= {f"train/{k}": v for k, v in prompt_response_mutual_information(
            [t.prompt.text for t in turns], [t.completion.text for t in turns]).items()}
        return episodes, samples, stats

    def update(self, samples: list[Sample], step: int) -> dict[str, float]:
        """`ppo_epochs` passes of the algorithm's loss over minibatches of `samples`."""
        cfg = self.cfg
        # Every process must run the same number of backward passes (ZeRO reduces gradients in them).
        n_mini = max(self.ctx.max(math.ceil(len(samples) / cfg.algo.minibatch_size)), 1)
        n_micro = n_mini * cfg.optim.grad_accum_steps
        while len(samples) < n_micro:  # padding copies carry weight 0
            samples = samples + [dataclasses.replace(samples[-1], advantage=0.0, weight=0.0)]
        micro_batches = chunks(samples, n_micro)
        self.updater.begin_step(step, n_mini * cfg.algo.ppo_epochs)
        cloning = self.corrector is not None
        clone_rng = np.random.default_rng(np.random.randint(2**31)) if cloning else None  # from the checkpointed RNG
        per_micro = max(1, cfg.gtr.buffer_batch // cfg.optim.grad_accum_steps)
        divergence = self.reference_samples_on and len(self.reference_samples) > 0
        ref_rng = np.random.default_rng(np.random.randint(2**31)) if divergence else None
        ref_per_micro = max(1, cfg.algo.divergence_batch // cfg.optim.grad_accum_steps)
        totals: dict[str, float] = {}
        norms = []
        self.policy.model.train()
        for _ in range(cfg.algo.ppo_epochs):
            order = np.random.permutation(len(micro_batches)) if cfg.algo.ppo_epochs > 1 else range(len(micro_batches))
            for i in order:
                loss, stats = self.algorithm.loss(self.policy, micro_batches[i], self.reference)
                if cloning:
                    loss = loss + self._cloning_loss(self.dagger.sample(per_micro, clone_rng), stats)
                if divergence:
                    loss = loss + self._divergence_loss(self.reference_samples.sample(ref_per_micro, ref_rng), stats)
                norm = self.updater.micro_step(loss)
                if norm is not None:
                    norms.append(norm)
                for k, v in {"loss": loss.item(), **stats}.items():
                    totals[k] = totals.get(k, 0.0) + v / (len(micro_batches) * cfg.algo.ppo_epochs)
        finite_norms = [n for n in norms if math.isfinite(n)]
        totals["grad_norm"] = float(np.mean(finite_norms)) if finite_norms else 0.0
        self.skipped_updates, self.updater.skipped_updates = self.updater.skipped_updates, 0
        return totals

    # ------------------------------------------------------------------ the pieces of a step
    def _play(self, step: int) -> tuple[list[Episode], dict[str, float]]:
        """This step's episodes. With dynamic sampling (DAPO), groups whose returns are all equal are dropped and
        further rounds of groups are played until `groups_per_step` remain, at most `algo.max_resample_rounds`
        extra rounds; if none remain, the first round is kept (its advantages are all 0)."""
        cfg = self.cfg
        episodes = self._play_round(step, 0)
        if not self.algorithm.dynamic_sampling:
            return episodes, {}
        size, wanted = cfg.rollout.group_size, cfg.rollout.groups_per_step
        first, kept, dropped, rounds = episodes, [], 0, 0
        while True:
            for g in range(0, len(episodes), size):
                group = episodes[g : g + size]
                if len({ep.total_reward for ep in group}) > 1:
                    kept.append(group)
                else:
                    dropped += 1
            # Every process plays the same number of rounds (ZeRO-3 generates in lock-step).
            if self.ctx.max(int(len(kept) < wanted)) == 0 or rounds == cfg.algo.max_resample_rounds:
                break
            rounds += 1
            episodes = self._play_round(step, rounds)
        chosen = [ep for group in kept[:wanted] for ep in group] or first
        return chosen, {"dynamic/dropped_groups": float(dropped), "dynamic/extra_rounds": float(rounds),
                        "dynamic/extra_groups": float(rounds * wanted), "dynamic/kept_groups": float(len(kept[:wanted]))}

    def _play_round(self, step: int, round_: int) -> list[Episode]:
        cfg = self.cfg
        seed = derive_seed(cfg.train.seed, step, self.ctx.rank, *([round_] if round_ else []))
        params = SamplingParams(cfg.rollout.max_new_tokens, cfg.rollout.temperature, cfg.rollout.top_p, seed=seed)
        return self.runner.run(group_requests(cfg, step, self.ctx, round_), params)

    def _step_tools(self, step: int) -> StepTools:
        """Policy, generation and env runner for an algorithm's own samples (`Algorithm.extra_samples`); its
        generations draw seeds from (seed, step, rank, EXTRA_SAMPLES_ROUND + round), apart from the episodes'."""
        cfg = self.cfg

        def generate(prompts, round_):
            seed = derive_seed(cfg.train.seed, step, self.ctx.rank, EXTRA_SAMPLES_ROUND + round_)
            params = SamplingParams(cfg.rollout.max_new_tokens, cfg.rollout.temperature, cfg.rollout.top_p, seed=seed)
            return self.backend.generate(prompts, params) if prompts else []

        return StepTools(self.policy, generate, self.runner, step)

    def _sample(self, index: int, episode: Episode, t: int, turn: Turn) -> Sample:
        """One turn as a training sample: the tokens, the generation engine's log-probs (if it gave them), and
        where the action starts (for algorithms that split thought from action: the env's response format says).
        An episode that failed (env error) is dropped from the update: its samples weigh 0."""
        ids = turn.completion.token_ids
        start = episode.response_format.action_token_start(ids, self.policy.decode) if self.algorithm.splits_thought \
            else 0
        return Sample(turn.prompt, ids, index, t, action_start=start, rollout_logprobs=turn.completion.logprobs,
                      weight=0.0 if episode.error is not None else 1.0)

    def _old_logprob_pass(self, samples: list[Sample]) -> dict[str, float]:
        """The one old-log-prob pass, the same for every algorithm: per-token log-probs (and V(s) for an algorithm
        with a value head) of the samples under the weights that generated them. Run when the update is not exactly
        on-policy (several minibatches or epochs), when the algorithm always needs them, or when a separate
        generation engine gave its own log-probs (then `rollout/logprob_gap` and the truncated importance weights
        compare the two); otherwise skipped, and the loss uses the current log-probs detached (ratio exactly 1)."""
        cfg = self.cfg
        n_chunks = max(self.ctx.max(math.ceil(len(samples) / cfg.algo.minibatch_size)), 1)
        engine_logprobs = any(s.rollout_logprobs is not None for s in samples)
        if not (self.algorithm.needs_old_logprobs or engine_logprobs or cfg.algo.ppo_epochs > 1 or n_chunks > 1):
            return {}
        # One scoring forward per minibatch; every process runs as many (ZeRO-3 gathers weights in each).
        with torch.no_grad():
            for part in chunks(samples, n_chunks):
                rows = part or samples[-1:]
                scores = self.policy.score([s.prompt for s in rows], [s.completion for s in rows],
                                           cfg.rollout.temperature, with_values=self.algorithm.value_head,
                                           with_vocab_mean=self.algorithm.vocab_mean)
                for i, s in enumerate(part):
                    s.old_logprobs = scores.logprobs[i, : len(s.completion)].tolist()
                    if scores.values is not None:
                        s.old_value = float(scores.values[i])
                    if scores.vocab_mean is not None:
                        s.extra["old_vocab_mean"] = scores.vocab_mean[i, : len(s.completion)].tolist()
        if not engine_logprobs:
            return {}
        width = max((len(s.completion) for s in samples), default=0)
        old = padded([s.old_logprobs for s in samples], width, torch.device("cpu"))  # (N, T)
        rollout = padded([s.rollout_logprobs or [] for s in samples], width, torch.device("cpu"))  # (N, T)
        mask = padded([[1.0] * len(s.completion) for s in samples], width, torch.device("cpu"))  # (N, T)
        return {f"rollout/{k}": v for k, v in rollout_mismatch(old, rollout, mask, cfg.rollout.tis_cap).items()}

    def _cloning_loss(self, clones: list[Clone], stats: dict[str, float]) -> torch.Tensor:
        """GTR's thought-cloning cross-entropy on corrected thoughts from the DAgger buffer (action tokens masked),
        weighted by `gtr.cloning_coef`."""
        cloning = torch.zeros((), device=self.policy.device)
        if clones:
            logprobs, mask, _ = self.policy.completion_logprobs([c.prompt for c in clones],
                                                                [c.completion for c in clones],
                                                                self.cfg.rollout.temperature)
            thought = torch.nn.utils.rnn.pad_sequence([torch.tensor(c.thought_mask) for c in clones],
                                                      batch_first=True).to(mask.device)  # (C, Tc)
            cloning = sft_loss(logprobs, mask * thought[:, : mask.shape[1]])
        stats["cloning_loss"] = cloning.item()
        return self.cfg.gtr.cloning_coef * cloning

    # ------------------------------------------------------------------ the reference policy
    @property
    def reference_samples_on(self) -> bool:
        """DPH-RL's forward KL / JS, computed on stored samples of the reference."""
        return self.cfg.algo.divergence in ("forward_kl", "js")

    def _reference(self) -> Reference | None:
        """The reference policy (KL penalty, DPH-RL divergences): the policy RL starts from, i.e. the warm-started
        one when there was a warm-start (saved to `<run>/warm_start`, so a resumed run finds it), else the initial
        weights; after a ProRL reset, the policy of that step (`<run>/reference/step_N`). With LoRA it is that
        adapter, or the base model with the adapters switched off when RL starts from the base model."""
        cfg = self.cfg
        if cfg.algo.kl_coef <= 0 and cfg.algo.divergence == "none":
            return None
        warm = self.run_dir / WARM_START_DIR
        if self.reference_step:
            warm = self.run_dir / REFERENCE_DIR / f"step_{self.reference_step}"
        if cfg.model.lora.r > 0:
            return SavedAdapter(self.policy, str(warm)) if (warm / "adapter_config.json").is_file() else AdapterOff()
        path = str(warm) if (warm / "config.json").is_file() else self.base_path
        return FrozenModel(load_pretrained_policy(path, cfg.model).model.to(self.ctx.device))

    def _keep_warm_start(self) -> None:
        """Save the warm-started weights and make them the reference."""
        if self.reference is None:
            return
        with self.updater.full_weights():
            if self.ctx.is_main:
                save_policy(self.policy, str(self.run_dir / WARM_START_DIR))
        self.ctx.barrier()
        self.reference = self._reference()

    def _reset_reference(self, step: int) -> dict[str, float]:
        """ProRL's hard reset: the current policy becomes the reference, the optimiser's moments are cleared, and
        DPH-RL's reference samples are drawn again from the new reference at the next step."""
        with self.updater.full_weights():
            if self.ctx.is_main:
                save_policy(self.policy, str(self.run_dir / REFERENCE_DIR / f"step_{step}"))
        self.ctx.barrier()
        self.reference_step = step
        self.reference = self._reference()
        self.updater.reset_moments()
        self.reference_samples = ReferenceSamples()
        self._print(f"step {step}: reference policy reset to the current policy (optimiser moments cleared)")
        return {"train/reference_reset": 1.0}

    def _store_reference_samples(self, step: int) -> dict[str, float]:
        """DPH-RL: play one step's worth of groups with the reference policy (the current policy, which equals it
        at RL start and right after a reset) and keep the turns of the episodes that succeeded, with the
        reference's log-probs. Runs under a forked RNG seeded from (seed, step, rank): training's stream is
        untouched."""
        cfg = self.cfg
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(cfg.train.seed, step, self.ctx.rank, REFERENCE_SAMPLES_ROUND))
            episodes = self._play_round(step, REFERENCE_SAMPLES_ROUND)
        turns = [t for ep in episodes if ep.success for t in ep.turns]
        n_chunks = max(self.ctx.max(math.ceil(len(turns) / cfg.algo.minibatch_size)), 1)
        for part in chunks(turns, n_chunks):
            rows = part or turns[-1:] or [episodes[0].turns[0]]  # every process runs as many forwards
            logprobs = self.reference.logprobs(self.policy, [t.prompt for t in rows],
                                               [t.completion.token_ids for t in rows], cfg.rollout.temperature)
            if part:
                self.reference_samples.add([t.prompt for t in part], [t.completion.token_ids for t in part], logprobs)
        solved = len({ep.request.group for ep in episodes if ep.success})
        return {"train/reference_samples": float(len(self.reference_samples)),
                "train/reference_solved_groups": float(solved)}

    def _divergence_loss(self, items, stats: dict[str, float]) -> torch.Tensor:
        """DPH-RL's forward-KL or JS term on reference samples, weighted by algo.divergence_coef."""
        logprobs, mask, _ = self.policy.completion_logprobs([p for p, _, _ in items], [c for _, c, _ in items],
                                                            self.cfg.rollout.temperature)
        ref = padded([r for _, _, r in items], mask.shape[1], mask.device)  # (R, Tc)
        term = divergence_term(self.cfg.algo.divergence, logprobs, ref, mask)
        stats["divergence"] = term.item()
        return self.cfg.algo.divergence_coef * term

    # ------------------------------------------------------------------ warm-start, evaluation, checkpoints
    def sft_warm_start(self, data: list[tuple[Prompt, str]] | None = None) -> None:
        """Supervised steps before any RL (cold start) on `train.sft_batch_size` (prompt, label) pairs each: whole
        expert rollouts of the envs, the demonstrations of `train.demos`, or the given `data` (`mmrl iterate`'s
        successful trajectories or search traces) (`mmrl/warm_start.py`)."""
        cfg = self.cfg
        source = warm_start_source(cfg, self.runner, self.ctx, data)
        for step in range(cfg.train.sft_steps):
            batch = [(p, self.policy.encode_completion(a)) for p, a in source.batch(step)]
            losses = []
            for mb in chunks(batch, cfg.optim.grad_accum_steps):
                logprobs, mask, _ = self.policy.completion_logprobs([p for p, _ in mb], [c for _, c in mb],
                                                                    cfg.rollout.temperature)
                loss = sft_loss(logprobs, mask)
                self.updater.micro_step(loss)
                losses.append(loss.item())
            if self.logger is not None and (step + 1) % 10 == 0:
                self._print(f"sft step {step + 1}/{cfg.train.sft_steps}: loss {np.mean(losses):.3f}")
        self.sft_stats = source.stats()

    def evaluate(self, step: int, kind: str = "eval") -> dict[str, float]:
        """Held-out metrics; a few of the episodes (the same positions every time) go to samples.jsonl as `kind`."""
        cfg = self.cfg
        keep = lambda eps: self._log_episodes(step, spread(eps, cfg.train.log_samples), kind)  # noqa: E731
        return evaluate(self.eval_runner, self.env_names, cfg.eval, cfg.rollout.max_new_tokens, self.ctx,
                        seed=cfg.train.seed + step, judge=self.judge, keep=keep)

    def save(self, step: int) -> bool:
        """Write checkpoint step_N (into step_N.tmp, renamed when complete); returns whether it was written.
        Weights holding NaN or inf are never written: the run stops (`RunHalted`). A write the storage refuses (full
        disk, read-only folder) is reported in plain words, its step_N.tmp removed, the previous checkpoint kept,
        and training goes on (the next save tries again)."""
        with self.updater.full_weights():
            finite = all(bool(torch.isfinite(p).all()) for p in self.policy.model.parameters())
        if self.ctx.max(int(not finite)):
            raise RunHalted(f"step {step}: the weights hold NaN or inf, so no checkpoint was written; the latest "
                            f"checkpoint ({checkpoint.latest_checkpoint(self.run_dir) or 'none'}) holds finite ones")
        tmp = checkpoint.temp_dir(self.run_dir, step)
        write = checkpoint.Writer(tmp)
        if self.ctx.is_main:
            write(lambda: checkpoint.begin(self.run_dir, step))
        self.ctx.barrier()
        with self.updater.full_weights():
            if self.ctx.is_main:
                write(lambda: save_policy(self.policy, str(tmp)))
        if self.ctx.is_main:
            write(lambda: torch.save({"step": step, "reference_step": self.reference_step}, tmp / "trainer_state.pt"))
        write(lambda: self.updater.save(tmp), collective=self.updater.engine is not None)
        write(lambda: torch.save(checkpoint.rng_state(), tmp / f"rng_rank{self.ctx.rank}.pt"))
        if self.corrector is not None:
            write(lambda: self.dagger.save(tmp / f"gtr_buffer_rank{self.ctx.rank}.pt"))
        if self.reference_samples_on:
            write(lambda: self.reference_samples.save(tmp / f"reference_samples_rank{self.ctx.rank}.pt"))
        failed = self.ctx.max(int(write.problem is not None))
        if not failed and self.ctx.is_main:
            write(lambda: checkpoint.finish(self.run_dir, step, self.cfg.train.keep_checkpoints))
        failed = self.ctx.max(int(write.problem is not None))
        if failed and self.ctx.is_main:
            checkpoint.abandon(self.run_dir, step)
            kept = checkpoint.latest_checkpoint(self.run_dir)
            self._print(f"warning: step {step}: checkpoint not written: {write.problem or 'another process failed'}; "
                        f"{tmp.name} removed, the latest checkpoint is still {kept or 'none'}; training goes on")
        self.ctx.barrier()
        return not failed

    def _keep_changed_config(self) -> list[str]:
        """Resuming with a config that differs from the saved one: the differences (extending total_steps is
        common; an edited reward or model deserves a second look), with the old file kept as config.previous.yaml."""
        saved = self.run_dir / "config.yaml"
        if self.resume_from is None or not saved.is_file():
            return []
        old = parse_yaml(saved.read_text())
        now = parse_yaml(yaml.safe_dump(to_dict(self.cfg)))  # as saved: tuples become lists
        changes = changed_keys(old if isinstance(old, dict) else {}, now)
        if changes:
            saved.replace(self.run_dir / "config.previous.yaml")
        return changes

    def _print(self, message: str) -> None:
        if self.logger is not None:
            self.logger.print(message)

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
        metrics = episode_metrics(episodes, self.env_names, self.ctx, "train") | {"train/lr": self.updater.lr}
        # Losses and the collection stats are per-process means: average them over processes.
        local = {**{f"losses/{k}": v for k, v in losses.items()}, **stats}
        names = self.ctx.union(set(local))
        sums = self.ctx.sum([local.get(k, 0.0) for k in names])
        metrics |= {k: v / self.ctx.world_size for k, v in zip(names, sums)}
        if self.corrector is not None:
            metrics["gtr/success_rate"] = metrics["train/success_rate"]
        return metrics

    def _log(self, step: int, metrics: dict[str, float], episodes: list[Episode] | None = None) -> None:
        if self.logger is None:
            return
        self.logger.log(step, metrics)
        if episodes:
            self._log_episodes(step, episodes[: self.cfg.train.log_samples], "train")

    def _log_episodes(self, step: int, episodes: list[Episode], kind: str) -> None:
        """samples.jsonl rows (mmrl/samples.py), the first few with their images saved under <run>/images/."""
        if self.logger is not None and episodes:
            self.logger.log_samples(episode_rows(episodes, self.env_names, step, kind, self.images,
                                                 self.cfg.train.sample_images_per_step))


def train(cfg: Config) -> dict[str, float]:
    """Train (or resume) the run described by `cfg`; returns a summary of start and end metrics."""
    return Trainer(cfg).train()
