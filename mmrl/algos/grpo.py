"""The group-relative family: one clipped policy-gradient loss, different advantages and defaults.

- `grpo`: GRPO (Shao et al. 2024, "DeepSeekMath", arXiv:2402.03300, Sec. 4.1.2): episode return minus the group
  mean, over the group std (`algo.advantage: drgrpo` drops the std, as before).
- `drgrpo`: Dr. GRPO (Liu et al. 2025, arXiv:2503.20783): mean-only advantage and 'seq-mean-token-sum' (no length
  normalisation).
- `rloo`: RLOO (Ahmadian et al. 2024, arXiv:2402.14740): leave-one-out baseline.
- `dapo`: DAPO (Yu et al. 2025, arXiv:2503.14476): clip-higher (0.2 / 0.28), dynamic sampling (the trainer drops
  groups whose rewards are all equal and samples more), overlong reward shaping, token-mean loss, no KL.
"""

from __future__ import annotations

import torch

from mmrl.algos.advantages import (
    group_relative_advantages,
    leave_one_out_advantages,
    zero_advantage_group_fraction,
)
from mmrl.algos.base import Algorithm, Sample
from mmrl.algos.losses import clipped_policy_loss
from mmrl.algos.shaping import overlong_penalty


class GRPO(Algorithm):
    name = "grpo"
    group_baseline = True

    def episode_returns(self, episodes) -> tuple[torch.Tensor, dict[str, float]]:
        """(N,) each episode's return, with DAPO's overlong shaping of every turn when `overlong_buffer` > 0."""
        returns = torch.tensor([ep.total_reward for ep in episodes])  # (N,)
        if self.overlong_buffer <= 0:
            return returns, {}
        max_len = self.cfg.rollout.max_new_tokens
        shaping = torch.tensor([sum(overlong_penalty(len(t.completion.token_ids), max_len, self.overlong_buffer)
                                    for t in ep.turns) for ep in episodes])  # (N,)
        return returns + shaping, {"train/overlong_penalty_mean": float(shaping.mean()) if len(shaping) else 0.0}

    def group_advantages(self, returns: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """(N,) advantages of (N,) returns in consecutive groups of G, with baselines from the `keep` ones."""
        return group_relative_advantages(returns, self.group_size, self.cfg.algo.advantage == "grpo", keep=keep)

    def advantages(self, episodes, samples: list[Sample]) -> dict[str, float]:
        returns, stats = self.episode_returns(episodes)
        # An episode whose env failed is out of the update (weight 0) and out of its group's baseline.
        per_episode = self.group_advantages(returns, healthy(episodes)).tolist()  # per episode, shared by its turns
        for s in samples:
            s.advantage = float(per_episode[s.episode])
        stats["train/zero_adv_groups"] = zero_advantage_group_fraction(returns, self.group_size)
        return stats

    def loss(self, policy, batch: list[Sample], reference) -> tuple[torch.Tensor, dict[str, float]]:
        """The clipped policy-gradient loss (plus the KL penalty and entropy bonus) on one micro-batch."""
        scores = self.score(policy, batch)
        mask = scores.mask * self.sample_weights(batch, scores.mask.device).unsqueeze(1)  # (B, T)
        advantages = torch.tensor([s.advantage for s in batch], device=mask.device)  # (B,)
        old = self.old_logprobs(batch, scores)  # (B, T)
        loss, stats = clipped_policy_loss(scores.logprobs, old, advantages, mask, self.clip_low, self.clip_high,
                                          self.loss_agg, self.is_weights(batch, old))
        stats = {k: float(v) for k, v in stats.items()}
        return self.regularised(loss, stats, policy, batch, reference, scores.logprobs, mask, scores.entropy), stats


def healthy(episodes) -> torch.Tensor:
    """(N,) bool: the episodes that ended without an env error."""
    return torch.tensor([ep.error is None for ep in episodes], dtype=torch.bool)


class DrGRPO(GRPO):
    name = "drgrpo"
    default_loss_agg = "seq-mean-token-sum"

    def group_advantages(self, returns: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        return group_relative_advantages(returns, self.group_size, normalize_std=False, keep=keep)


class RLOO(GRPO):
    name = "rloo"

    def group_advantages(self, returns: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        return leave_one_out_advantages(returns, self.group_size, keep)


class DAPO(GRPO):
    name = "dapo"
    default_clip_high = 0.28
    default_loss_agg = "token-mean"
    default_dynamic_sampling = True
    default_overlong_fraction = 0.25  # no KL: mmrl.config rejects algo.kl_coef > 0 with dapo

    def group_advantages(self, returns: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        return group_relative_advantages(returns, self.group_size, normalize_std=True, keep=keep)
