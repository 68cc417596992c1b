"""RL-PLUS: external demonstrations inside the policy-gradient update (Dong et al. 2025, "RL-PLUS: Countering
Capability Boundary Collapse of LLMs in Reinforcement Learning with Hybrid-policy Optimization"; from its abstract
and the project's paper notes).

Each step, every group of G rollouts gets one demonstration for its prompt (`expert_demonstrations`: the env's
`expert_action` at that reset seed; a file of demonstrations can stand behind the same function). The demonstration
joins its group for the advantage (G + 1 returns; a demonstration counts as solved, return `DEMO_RETURN`), and its
tokens enter the loss with

- multiple importance sampling against the mixture of the rollout policy and the demonstrator,
      r_t = pi_theta(e_t) / (w * pi_old(e_t) + (1 - w) * pi_demo(e_t)),   w = algo.demo_mix,
  where the expert is deterministic (pi_demo = 1 on its own tokens), so r_t stays bounded where pi_old is tiny;
- the exploration-based advantage A_t = A * (1 - pi_theta(e_t))^gamma (detached; gamma = algo.explore_exponent)
  on demonstrations with a positive advantage: correct tokens the policy finds unlikely weigh most.

Per token the demonstration loss is -r_t * A_t (not clipped); the rollouts keep GRPO's clipped loss, and the two are
averaged as one loss over all tokens (or sequences) of the micro-batch.

Simplified: pi_demo is taken as 1 (an exact expert); the paper estimates the external policy's probabilities.
"""

from __future__ import annotations

import dataclasses

import torch

from mmrl.algos.advantages import group_relative_advantages
from mmrl.algos.base import Sample, StepTools
from mmrl.algos.grpo import GRPO, healthy
from mmrl.algos.losses import aggregate_loss, clipped_policy_loss, masked_mean
from mmrl.rollout.runner import EpisodeRequest

DEMO_RETURN = 1.0
"""Return of a demonstration in its group's advantage: the reward of a solved one-step task."""


def mixture_importance_ratio(logprobs: torch.Tensor, old_logprobs: torch.Tensor, demo_logprobs: torch.Tensor,
                             mix: float) -> torch.Tensor:
    """(B, T) pi_theta / (mix * pi_old + (1 - mix) * pi_demo), from log-probs (old and demo detached)."""
    old = old_logprobs.detach().exp()
    demo = demo_logprobs.detach().exp()
    return logprobs.exp() / (mix * old + (1.0 - mix) * demo)


def exploration_factor(logprobs: torch.Tensor, gamma: float) -> torch.Tensor:
    """(B, T) (1 - pi_theta(token))^gamma, detached: near 1 for tokens the policy finds unlikely, near 0 for sure ones."""
    return (1.0 - logprobs.detach().exp()).clamp(min=0.0).pow(gamma)


def demo_loss_tokens(logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor, mix: float,
                     gamma: float, demo_logprobs: torch.Tensor | None = None) -> torch.Tensor:
    """(B, T) RL-PLUS's per-token loss on demonstrations: -r_t * A_t with the mixture ratio r_t and, where the
    sequence's advantage A (B,) is positive, A_t = A * (1 - p)^gamma (else A). `demo_logprobs` None: pi_demo = 1."""
    demo = torch.zeros_like(logprobs) if demo_logprobs is None else demo_logprobs
    ratio = mixture_importance_ratio(logprobs, old_logprobs, demo, mix)  # (B, T)
    adv = advantages.to(logprobs.dtype).unsqueeze(1).expand_as(logprobs)  # (B, T)
    adv = torch.where(adv > 0, adv * exploration_factor(logprobs, gamma), adv)
    return -ratio * adv


def expert_demonstrations(tools: StepTools, requests: list[EpisodeRequest]) -> list[tuple | None]:
    """One (prompt, response) demonstration per request, from the env's `expert_action` at that reset seed; None
    where the env gives none. The place a file of demonstrations would be read instead."""
    demos: list[tuple | None] = []
    for request in requests:
        try:
            pairs = tools.runner.warm_start_pairs([request], "expert", None)
        except ValueError:  # this env gives no expert action
            pairs = []
        demos.append(pairs[0] if pairs else None)
    return demos


class RLPlus(GRPO):
    name = "rlplus"

    def extra_samples(self, episodes, tools: StepTools) -> tuple[list[Sample], dict[str, float]]:
        g = self.group_size
        starts = list(range(0, len(episodes), g))
        demos = expert_demonstrations(tools, [episodes[i].request for i in starts])
        samples = []
        for start, demo in zip(starts, demos):
            if demo is not None:
                prompt, text = demo
                samples.append(Sample(prompt, tools.policy.encode_completion(text), start, 0,
                                      extra={"demo": True, "group_start": start}))
        return samples, {"rlplus/demos": float(len(samples))}

    def advantages(self, episodes, samples: list[Sample]) -> dict[str, float]:
        rollouts = [s for s in samples if "demo" not in s.extra]
        demos = {s.extra["group_start"]: s for s in samples if "demo" in s.extra}
        returns, stats = self.episode_returns(episodes)  # (N,)
        normalize = self.cfg.algo.advantage == "grpo"
        per_episode = torch.zeros_like(returns)
        ok = healthy(episodes)  # (N,) an episode whose env failed sets no baseline
        demo_adv = []
        for start in range(0, len(episodes), self.group_size):
            group, keep = returns[start : start + self.group_size], ok[start : start + self.group_size]
            if start in demos:
                adv = group_relative_advantages(torch.cat([group, torch.tensor([DEMO_RETURN])]), len(group) + 1,
                                                normalize, keep=torch.cat([keep, torch.tensor([True])]))  # (G + 1,)
                per_episode[start : start + len(group)] = adv[:-1]
                demos[start].advantage = float(adv[-1])
                demo_adv.append(float(adv[-1]))
            else:
                per_episode[start : start + len(group)] = group_relative_advantages(group, len(group), normalize,
                                                                                   keep=keep)
        for s in rollouts:
            s.advantage = float(per_episode[s.episode])
        if demo_adv:
            stats["rlplus/demo_advantage_mean"] = sum(demo_adv) / len(demo_adv)
        return stats

    def loss(self, policy, batch: list[Sample], reference) -> tuple[torch.Tensor, dict[str, float]]:
        scores = self.score(policy, batch)
        weights = self.sample_weights(batch, scores.mask.device)  # (B,)
        is_demo = torch.tensor([float("demo" in s.extra) for s in batch], device=weights.device)  # (B,)
        mask = scores.mask * weights.unsqueeze(1)  # (B, T)
        mask_demo, mask_roll = mask * is_demo.unsqueeze(1), mask * (1 - is_demo).unsqueeze(1)
        advantages = torch.tensor([s.advantage for s in batch], device=mask.device)  # (B,)
        old = self.old_logprobs(batch, scores)  # (B, T)
        # A demonstration has no sampler log-probs (vLLM): it stands in its old ones, weight 1 (its loss ignores it).
        rows = [dataclasses.replace(s, rollout_logprobs=s.old_logprobs) if "demo" in s.extra else s for s in batch]
        is_w = self.is_weights(rows, old)
        roll_loss, stats = clipped_policy_loss(scores.logprobs, old, advantages, mask_roll, self.clip_low,
                                               self.clip_high, self.loss_agg, is_w)
        stats = {k: float(v) for k, v in stats.items()}
        algo = self.cfg.algo
        tokens = demo_loss_tokens(scores.logprobs, old, advantages, algo.demo_mix, algo.explore_exponent)
        demo_loss = aggregate_loss(tokens, mask_demo, self.loss_agg)
        if self.loss_agg == "token-mean":
            n_roll, n_demo = mask_roll.sum(), mask_demo.sum()
        else:
            n_roll, n_demo = (mask_roll.sum(1) > 0).sum(), (mask_demo.sum(1) > 0).sum()
        total = (n_roll + n_demo).clamp(min=1)
        loss = (roll_loss * n_roll + demo_loss * n_demo) / total
        if n_demo > 0:
            with torch.no_grad():
                stats["demo_loss"] = float(demo_loss)
                stats["demo_token_prob"] = float(masked_mean(scores.logprobs.exp(), mask_demo))
                stats["demo_mis_ratio"] = float(masked_mean(
                    mixture_importance_ratio(scores.logprobs, old, torch.zeros_like(old), algo.demo_mix), mask_demo))
                stats["demo_explore_factor"] = float(masked_mean(
                    exploration_factor(scores.logprobs, algo.explore_exponent), mask_demo))
        return self.regularised(loss, stats, policy, batch, reference, scores.logprobs, mask, scores.entropy), stats
