"""The algorithm seam: what the trainer calls, the same way for every RL algorithm.

An algorithm object is chosen once from `algo.name` (`mmrl.algos.registry`). The trainer plays a step's episodes,
turns every turn into a `Sample`, runs the one shared old-log-prob pass when it is needed, and then asks the
algorithm for two things:

- `advantages(episodes, samples)`: fill each sample's advantage (and its own per-sample data in `extra`), and
  return diagnostics;
- `loss(policy, batch, reference)`: the loss of one micro-batch, plus diagnostics.

The math lives in pure functions beside this module (advantages.py, losses.py, kl.py, tis.py, ...); an algorithm
object only wires them to the policy's forward pass. Adding an algorithm = one module with a subclass of
`Algorithm`, one line in `registry.py`, and its config fields in `mmrl.config.AlgoConfig`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from mmrl.algos.kl import kl_penalty
from mmrl.algos.losses import aggregate_loss
from mmrl.algos.tis import truncated_is_weights

if TYPE_CHECKING:
    from mmrl.config import Config
    from mmrl.models.policy import Policy, Prompt, Scores
    from mmrl.models.reference import Reference
    from mmrl.rollout.backends import Completion
    from mmrl.rollout.runner import Episode, EpisodeRunner


@dataclass
class Sample:
    """One (prompt, completion) pair to train on: one turn of one episode. `weight` 0 marks padding copies."""

    prompt: Prompt
    completion: list[int]
    episode: int = 0
    """Index of its episode in the step's list of episodes."""
    turn: int = 0
    """Index of its turn in that episode."""
    advantage: float = 0.0
    weight: float = 1.0
    action_start: int = 0
    """First token of the action part (thought before it); 0 unless the algorithm splits responses."""
    rollout_logprobs: list[float] | None = None
    """The generation engine's per-token log-probs (vLLM), None when the trainer's own weights sampled (HF)."""
    old_logprobs: list[float] | None = None
    """The shared old-log-prob pass: per-token log-probs under the weights that generated, before the update."""
    old_value: float | None = None
    """V(prompt) from the same pass, for algorithms with a value head."""
    extra: dict[str, Any] = field(default_factory=dict)
    """The algorithm's own per-sample data (PPO: value_target)."""


@dataclass
class StepTools:
    """What an algorithm may use to add samples of its own to a step (RISE's verifications, RL-PLUS's
    demonstrations, SPARK's judgements): the policy (to encode prompts), generation under this step's seeds, and
    the training env runner (to read an env's expert labels at reset)."""

    policy: Policy
    generate: Callable[[list[Prompt], int], list[Completion]]
    """generate(prompts, round) -> one completion per prompt, sampled with the step's settings; `round` >= 1 keeps
    each use's seeds apart from the episodes' and from each other's."""
    runner: EpisodeRunner
    step: int


def padded(rows: list[list[float]], width: int, device: torch.device) -> torch.Tensor:
    """(B, width) float tensor of right-padded rows (cut or zero-filled to `width`)."""
    out = torch.zeros(len(rows), width)  # (B, T)
    for i, row in enumerate(rows):
        n = min(len(row), width)
        out[i, :n] = torch.tensor(row[:n], dtype=torch.float32)
    return out.to(device)


class Algorithm:
    """Base of every RL algorithm: its defaults, the shared pieces of a loss (old log-probs, truncated importance
    weights, KL penalty, entropy bonus), and the two methods subclasses implement."""

    name: ClassVar[str] = ""
    value_head: ClassVar[bool] = False
    """Attach a value head and compute V(s) in the old-log-prob pass."""
    needs_old_logprobs: ClassVar[bool] = False
    """Compute old log-probs even when the update is exactly on-policy."""
    vocab_mean: ClassVar[bool] = False
    """The old-log-prob pass also keeps the mean over the vocabulary of log p at each position (extra['old_vocab_mean'])."""
    guided_by_corrector: ClassVar[bool] = False
    """GTR: a configured `gtr.corrector` corrects this algorithm's rollouts (PPO); others may read it otherwise."""
    splits_thought: ClassVar[bool] = False
    """Find where each response's action starts (Sample.action_start)."""
    group_baseline: ClassVar[bool] = False
    """Advantages compare the episodes of a group (a group of one gives every episode advantage 0)."""
    default_clip_high: ClassVar[float] = 0.2
    default_loss_agg: ClassVar[str] = "token-mean"
    default_dynamic_sampling: ClassVar[bool] = False
    default_overlong_fraction: ClassVar[float] = 0.0
    """Share of rollout.max_new_tokens used as the overlong buffer when algo.overlong_buffer is None."""

    def __init__(self, cfg: Config):
        algo = cfg.algo
        self.cfg = cfg
        self.group_size = cfg.rollout.group_size
        self.temperature = cfg.rollout.temperature
        self.clip_low = algo.clip_low
        self.clip_high = self.default_clip_high if algo.clip_high is None else algo.clip_high
        self.loss_agg = self.default_loss_agg if algo.loss_agg is None else algo.loss_agg
        self.dynamic_sampling = self.default_dynamic_sampling if algo.dynamic_sampling is None \
            else algo.dynamic_sampling
        self.overlong_buffer = int(self.default_overlong_fraction * cfg.rollout.max_new_tokens) \
            if algo.overlong_buffer is None else algo.overlong_buffer

    # ------------------------------------------------------------------ the two methods of an algorithm
    def advantages(self, episodes: list[Episode], samples: list[Sample]) -> dict[str, float]:
        """Set every sample's `advantage` (and `extra`); return diagnostics (already namespaced, e.g. 'train/..')."""
        raise NotImplementedError

    def loss(self, policy: Policy, batch: list[Sample], reference: Reference | None
             ) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss of one micro-batch and its diagnostics (logged as losses/<key>)."""
        raise NotImplementedError

    def extra_samples(self, episodes: list[Episode], tools: StepTools) -> tuple[list[Sample], dict[str, float]]:
        """Samples beyond the episodes' own turns, added to the step before the old-log-prob pass and
        `advantages` (which must then fill their advantages too); none by default."""
        return [], {}

    # ------------------------------------------------------------------ shared pieces
    def score(self, policy: Policy, batch: list[Sample], with_values: bool = False) -> Scores:
        with_entropy = "grad" if self.cfg.algo.entropy_coef > 0 else True
        return policy.score([s.prompt for s in batch], [s.completion for s in batch], self.temperature,
                            with_entropy, with_values=with_values, value_trunk_grad=self.cfg.algo.value_trunk_grad)

    @staticmethod
    def sample_weights(batch: list[Sample], device: torch.device) -> torch.Tensor:
        return torch.tensor([s.weight for s in batch], device=device)  # (B,)

    @staticmethod
    def old_logprobs(batch: list[Sample], scores: Scores) -> torch.Tensor:
        """(B, Tc) the shared pass's old log-probs, or the current ones detached when the update is on-policy
        (then the ratio is exactly 1)."""
        if batch[0].old_logprobs is None:
            return scores.logprobs.detach()
        return padded([s.old_logprobs for s in batch], scores.mask.shape[1], scores.mask.device)

    def is_weights(self, batch: list[Sample], old: torch.Tensor) -> torch.Tensor | None:
        """(B, Tc) truncated importance weights when a separate engine sampled and rollout.tis_cap is set."""
        cap = self.cfg.rollout.tis_cap
        if cap is None or batch[0].rollout_logprobs is None:
            return None
        rollout = padded([s.rollout_logprobs for s in batch], old.shape[1], old.device)  # (B, Tc)
        return truncated_is_weights(old, rollout, cap)

    def regularised(self, loss: torch.Tensor, stats: dict[str, float], policy: Policy, batch: list[Sample],
                    reference: Reference | None, logprobs: torch.Tensor, mask: torch.Tensor,
                    entropy: torch.Tensor | None) -> torch.Tensor:
        """`loss` plus the KL penalty to the reference policy (algo.kl_coef, plus algo.divergence_coef for DPH-RL's
        'reverse_kl') and minus the entropy bonus (both token-level)."""
        algo = self.cfg.algo
        kl_coef = algo.kl_coef + (algo.divergence_coef if algo.divergence == "reverse_kl" else 0.0)
        if reference is not None and kl_coef > 0:
            with torch.no_grad():
                ref_logprobs = reference.logprobs(policy, [s.prompt for s in batch], [s.completion for s in batch],
                                                  self.temperature)
            kl = aggregate_loss(kl_penalty(logprobs, ref_logprobs, algo.kl_estimator), mask, self.loss_agg)
            loss = loss + kl_coef * kl
            stats["kl"] = kl.item()
        if entropy is not None:
            mean_entropy = aggregate_loss(entropy, mask, self.loss_agg)
            if algo.entropy_coef > 0:
                loss = loss - algo.entropy_coef * mean_entropy
            stats["entropy"] = mean_entropy.item()
        return loss
