"""PPO's pure pieces (RL4VLM's recipe for multi-step agents): per-step GAE over episodes, and the loss with a value
head and the lambda-scaled thought log-prob.

RL4VLM (Zhai et al. 2024, arXiv:2405.10292) scores a response as
    log pi(response) = lambda * log p(thought tokens) + log p(action tokens),
because a long chain of thought would otherwise dominate the log-prob of the few action tokens; RL4VLM takes the PPO
ratio on that sequence-level log-prob (`ratio_level="sequence"`), and `ratio_level="token"` clips each token's ratio
with the same lambda weights. The value V(s) is read from the policy's last hidden state at the end of the prompt.
"""

from __future__ import annotations

import torch

from mmrl.algos.advantages import gae_advantages
from mmrl.algos.losses import clipped_policy_loss, value_loss


def episode_gae(rewards: list[list[float]], values: list[list[float]], gamma: float, lam: float
                ) -> tuple[list[list[float]], list[list[float]]]:
    """Per-turn GAE advantages and value targets of each episode (`rewards[i]`, `values[i]`: one entry per turn).

    Every episode ends at its last turn: a terminated episode has nothing after it, and a truncated one is not
    bootstrapped (the state after the last step is never encoded), as in RL4VLM's on-policy buffer.
    """
    lengths = [len(r) for r in rewards]
    width = max(lengths, default=0)
    if width == 0:
        return [[] for _ in rewards], [[] for _ in rewards]
    reward_t = torch.zeros(len(rewards), width)  # (B, T)
    value_t = torch.zeros(len(rewards), width)  # (B, T)
    dones = torch.zeros(len(rewards), width)  # (B, T)
    for i, (r, v) in enumerate(zip(rewards, values)):
        n = lengths[i]
        if n:
            reward_t[i, :n] = torch.tensor(r, dtype=torch.float32)
            value_t[i, :n] = torch.tensor(v, dtype=torch.float32)
            dones[i, n - 1] = 1.0
    advantages, returns = gae_advantages(reward_t, value_t, dones, gamma, lam)  # (B, T) each
    return ([advantages[i, :n].tolist() for i, n in enumerate(lengths)],
            [returns[i, :n].tolist() for i, n in enumerate(lengths)])


def thought_weights(action_starts: list[int], mask: torch.Tensor, thought_coef: float) -> torch.Tensor:
    """(B, Tc) per-token weights: `thought_coef` on thought tokens (before each row's action start), 1 on action
    tokens, 0 on padding."""
    columns = torch.arange(mask.shape[1], device=mask.device)  # (Tc,)
    starts = torch.tensor(action_starts, device=mask.device).unsqueeze(1)  # (B, 1)
    weights = torch.where(columns < starts, thought_coef, 1.0)  # (B, Tc)
    return weights * mask


def ppo_terms(logprobs: torch.Tensor, mask: torch.Tensor, action_starts: list[int], old_logprobs: torch.Tensor,
              advantages: torch.Tensor, values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor,
              sample_weight: torch.Tensor, thought_coef: float, clip_low: float, clip_high: float,
              value_clip: float | None, ratio_level: str = "sequence", is_weights: torch.Tensor | None = None,
              ) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
    """(policy loss, value loss, stats) on one micro-batch.

    `ratio_level` 'sequence' is RL4VLM's: one ratio per response, exp of the change in its lambda-scaled log-prob,
    clipped as a whole. 'token' clips each token's ratio and sums the lambda-weighted token losses of a response;
    at ratio 1 both have the same gradient, but per-token clipping stops any single token (a format token, say)
    from moving far in one update, which keeps small models from breaking their answer format.

    Args:
        logprobs, mask: (B, Tc) per-token log-probs under the policy being trained, and real-token mask.
        action_starts: first action token of each row.
        old_logprobs: (B, Tc) the rollout policy's per-token log-probs.
        advantages, old_values, returns: (B,) per-step GAE advantage, rollout value, value target.
        values: (B,) the value head's current predictions.
        sample_weight: (B,) 1 for real samples, 0 for padding copies.
        is_weights: optional detached truncated importance weights for a separate generation engine: (B, Tc) per
            token with ratio_level 'token', (B, 1) per response with 'sequence' (see `mmrl.algos.tis`).
    """
    weights = thought_weights(action_starts, mask, thought_coef)  # (B, Tc)
    if ratio_level == "sequence":
        seq = (logprobs * weights).sum(1, keepdim=True)  # (B, 1)
        old_seq = (old_logprobs * weights).sum(1, keepdim=True)  # (B, 1)
        pg, stats = clipped_policy_loss(seq, old_seq, advantages, sample_weight.unsqueeze(1), clip_low, clip_high,
                                        "token-mean", is_weights)
    else:
        pg, stats = clipped_policy_loss(logprobs, old_logprobs, advantages, weights * sample_weight.unsqueeze(1),
                                        clip_low, clip_high, "seq-mean-token-sum", is_weights)
    vf, vstats = value_loss(values, old_values, returns, sample_weight, value_clip)
    out = {k: float(v) for k, v in stats.items()} | {"value_clip_frac": float(vstats["clip_frac"])}
    return pg, vf, out


def explained_variance(values: torch.Tensor, targets: torch.Tensor) -> float:
    """1 - Var(targets - values) / Var(targets) (population variances): 1 for a perfect critic, 0 for one that
    predicts a constant, negative for one worse than that; 0 when the targets do not vary. A standard PPO
    diagnostic (as logged by CleanRL's ppo.py)."""
    var = targets.var(unbiased=False)
    if targets.numel() == 0 or var == 0:
        return 0.0
    return float(1.0 - (targets - values).var(unbiased=False) / var)
