"""Where the supervised warm-start's (prompt, label) pairs come from, `train.sft_batch_size` per step.

- `ExpertRollouts`: whole episodes of the envs' experts (`EpisodeRunner.warm_start_pairs`): every visited state
  labelled with its ``info['expert_action']``, with the prompt (history included) the policy sees in RL; with
  `train.sft_beta` < 1 the policy acts at some steps (DAgger's mixture) and the expert labels the states it reaches.
  Envs are drawn in the mixture's proportions, like RL's episodes. A round of `sft_batch_size` episodes gives at
  least that many pairs; what a step does not use waits for the next one (one-step envs: one round per step).
- `GivenPairs`: fixed pairs in shuffled passes: the turns of a demonstrations file (`train.demos`, :mod:`mmrl.demos`;
  `demo_file`), or the pairs a caller gives (`mmrl iterate`'s successful trajectories and search traces).
"""

from __future__ import annotations

import numpy as np

from mmrl.config import Config, UserError
from mmrl.demos import demo_inputs, read_demos
from mmrl.distributed import DistContext
from mmrl.models.policy import Prompt
from mmrl.rollout.backends import SamplingParams, derive_seed
from mmrl.rollout.runner import EpisodeRequest, EpisodeRunner

SFT_ROUND = 10**6
"""Offset of the warm-start's step numbers in its seeds (apart from RL's steps)."""


class ExpertRollouts:
    def __init__(self, cfg: Config, runner: EpisodeRunner, ctx: DistContext):
        self.cfg, self.runner, self.ctx, self.rank = cfg, runner, ctx, ctx.rank
        self.buffer: list[tuple[Prompt, str]] = []
        self.episodes = self.pairs = 0

    def stats(self) -> dict[str, float]:
        """Episodes rolled and labelled states per episode (whole trajectories: more than 1 in multi-turn envs)."""
        return {"sft/warm_start_episodes": float(self.episodes), "sft/labels_per_episode": self.pairs / max(self.episodes, 1)}

    def batch(self, step: int) -> list[tuple[Prompt, str]]:
        cfg = self.cfg
        size = cfg.train.sft_batch_size
        round_ = 0
        # Every process plays as many rounds (ZeRO-3 generates and syncs in lock-step).
        while self.ctx.max(int(len(self.buffer) < size)):
            rng = np.random.default_rng([cfg.train.seed, SFT_ROUND + step, self.rank] + ([round_] if round_ else []))
            weights = np.array([s.weight for s in cfg.envs], dtype=float)
            share = None if np.all(weights == weights[0]) else weights / weights.sum()  # uniform: the old stream
            requests = []
            for _ in range(size):
                env = rng.integers(len(weights)) if share is None else rng.choice(len(weights), p=share)
                requests.append(EpisodeRequest(int(env), int(rng.integers(cfg.eval.seed_offset))))
            if cfg.train.sft_beta < 1.0:  # the policy acts at some steps: a separate engine (vLLM) takes its weights
                self.runner.backend.sync()
            params = SamplingParams(cfg.rollout.max_new_tokens, cfg.rollout.temperature, cfg.rollout.top_p,
                                    seed=derive_seed(cfg.train.seed, SFT_ROUND + step, self.rank, round_))
            pairs = self.runner.warm_start_pairs(requests, cfg.train.sft_target, rng, params, cfg.train.sft_beta)
            self.buffer += pairs
            self.pairs += len(pairs)
            self.episodes += len(requests)
            round_ += 1
        out, self.buffer = self.buffer[:size], self.buffer[size:]
        return out


class GivenPairs:
    def __init__(self, cfg: Config, ctx: DistContext, prompts: list[Prompt], labels: list[str], episodes: int):
        if not labels:
            raise UserError("the warm-start was given no (prompt, label) pairs")
        self.cfg, self.prompts, self.labels, self.episodes = cfg, prompts, labels, episodes
        self.rng = np.random.default_rng([cfg.train.seed, SFT_ROUND, ctx.rank])
        self.order: list[int] = []

    def stats(self) -> dict[str, float]:
        return {"sft/warm_start_episodes": float(self.episodes),
                "sft/labels_per_episode": len(self.labels) / max(self.episodes, 1)}

    def batch(self, step: int) -> list[tuple[Prompt, str]]:
        out = []
        while len(out) < self.cfg.train.sft_batch_size:
            if not self.order:
                self.order = list(self.rng.permutation(len(self.labels)))
            i = self.order.pop()
            out.append((self.prompts[i], self.labels[i]))
        return out


def demo_file(cfg: Config, runner: EpisodeRunner, ctx: DistContext) -> GivenPairs:
    """The turns of the demonstrations file `train.demos`, with the prompts RL would build for them."""
    demos = read_demos(cfg.train.demos)
    inputs, labels = demo_inputs(demos, cfg.rollout.history_turns, cfg.rollout.system_prompt)
    return GivenPairs(cfg, ctx, runner.policy.encode_many(inputs), labels, len(demos))


def warm_start_source(cfg: Config, runner: EpisodeRunner, ctx: DistContext,
                      data: list[tuple[Prompt, str]] | None = None) -> ExpertRollouts | GivenPairs:
    """The warm-start's pairs: `data` when given, else the demonstrations file when `train.demos` is set, else
    expert rollouts."""
    if data is not None:
        return GivenPairs(cfg, ctx, [p for p, _ in data], [a for _, a in data], len(data))
    return demo_file(cfg, runner, ctx) if cfg.train.demos else ExpertRollouts(cfg, runner, ctx)
