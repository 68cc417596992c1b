"""`ppo`: RL4VLM's PPO for multi-step agents (Zhai et al. 2024, arXiv:2405.10292): a value head, per-step GAE over
each episode, and the clipped loss on the lambda-scaled thought log-prob (pure math in `ppo_terms.py`)."""

from __future__ import annotations

import numpy as np
import torch

from mmrl.algos.base import Algorithm, Sample, padded
from mmrl.algos.ppo_terms import episode_gae, explained_variance, ppo_terms, thought_weights
from mmrl.algos.tis import sequence_is_weights


class PPO(Algorithm):
    name = "ppo"
    guided_by_corrector = True
    value_head = True
    needs_old_logprobs = True
    splits_thought = True

    def advantages(self, episodes, samples: list[Sample]) -> dict[str, float]:
        algo = self.cfg.algo
        values: list[list[float]] = [[] for _ in episodes]
        for s in samples:
            values[s.episode].append(s.old_value)
        rewards = [[t.reward for t in ep.turns] for ep in episodes]
        advantages, targets = episode_gae(rewards, values, algo.gamma, algo.gae_lambda)
        flat_adv = torch.tensor([advantages[s.episode][s.turn] for s in samples])  # (N,)
        if algo.normalize_advantages and len(flat_adv) > 1 and flat_adv.std() > 0:
            flat_adv = (flat_adv - flat_adv.mean()) / (flat_adv.std() + 1e-8)
        for s, a in zip(samples, flat_adv.tolist()):
            s.advantage = float(a)
            s.extra["value_target"] = targets[s.episode][s.turn]
        old_values = [s.old_value for s in samples]
        targets = torch.tensor([s.extra["value_target"] for s in samples])  # (N,)
        return {"train/value_mean": float(np.mean(old_values)) if old_values else 0.0,
                "train/explained_variance": explained_variance(torch.tensor(old_values), targets)}

    def loss(self, policy, batch: list[Sample], reference) -> tuple[torch.Tensor, dict[str, float]]:
        """Clipped loss on the lambda-scaled log-prob (one ratio per response or per token, as `algo.ratio_level`
        says) + value loss (+ KL, entropy)."""
        algo = self.cfg.algo
        scores = self.score(policy, batch, with_values=True)
        device = scores.mask.device
        column = lambda values: torch.tensor(values, device=device)  # noqa: E731
        weight = self.sample_weights(batch, device)  # (B,)
        starts = [s.action_start for s in batch]
        old = self.old_logprobs(batch, scores)  # (B, T)
        is_weights = self.is_weights(batch, old)  # (B, T) or None
        if is_weights is not None and algo.ratio_level == "sequence":  # one weight per response, like its ratio
            rollout = padded([s.rollout_logprobs for s in batch], old.shape[1], device)  # (B, T)
            token_w = thought_weights(starts, scores.mask, algo.thought_coef)  # (B, T)
            is_weights = sequence_is_weights(old, rollout, token_w, self.cfg.rollout.tis_cap)  # (B, 1)
        pg, vf, stats = ppo_terms(scores.logprobs, scores.mask, starts, old,
                                  column([s.advantage for s in batch]), scores.values,
                                  column([s.old_value for s in batch]),
                                  column([s.extra["value_target"] for s in batch]), weight, algo.thought_coef,
                                  self.clip_low, self.clip_high, algo.value_clip, algo.ratio_level, is_weights)
        stats |= {"policy_loss": pg.item(), "value_loss": vf.item()}
        loss = pg + algo.value_coef * vf
        mask = scores.mask * weight.unsqueeze(1)  # (B, T)
        return self.regularised(loss, stats, policy, batch, reference, scores.logprobs, mask, scores.entropy), stats
