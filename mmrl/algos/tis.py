"""Truncated importance sampling (TIS) for a rollout engine that is not the trainer's own forward pass.

A separate generation engine (vLLM) samples with its own kernels, so its per-token log-probs differ slightly from
the trainer's, even for the same weights. Following Yao et al. 2025 ("Your Efficient RL Framework Secretly Brings
You Off-Policy RL Training", the fix adopted by verl and TRL), each token's policy-gradient term is weighted by

    w_t = min(pi_old(y_t) / pi_rollout(y_t), C) = min(exp(old_logprob_t - rollout_logprob_t), C)     (detached)

where pi_old is the trainer's forward pass of the weights that generated (the shared old log-prob pass) and C is
`rollout.tis_cap`. Pure tensor math.
"""

from __future__ import annotations

import torch
from torch import Tensor

from mmrl.algos.losses import masked_mean


def truncated_is_weights(old_logprobs: Tensor, rollout_logprobs: Tensor, cap: float) -> Tensor:
    """(B, T) detached weights min(exp(old - rollout), cap).

    Args:
        old_logprobs: (B, T) the trainer's log-probs of the sampled tokens before the update.
        rollout_logprobs: (B, T) the generation engine's log-probs of the same tokens.
        cap: C >= 1, the truncation.
    """
    if old_logprobs.shape != rollout_logprobs.shape:
        raise ValueError(f"old_logprobs {tuple(old_logprobs.shape)} and rollout_logprobs "
                         f"{tuple(rollout_logprobs.shape)} differ")
    log_ratio = (old_logprobs - rollout_logprobs).detach().float()  # (B, T)
    return torch.exp(torch.clamp(log_ratio, max=torch.log(torch.tensor(cap)).item()))  # (B, T) exp(min(.)) = min(exp)


def sequence_is_weights(old_logprobs: Tensor, rollout_logprobs: Tensor, token_weights: Tensor, cap: float) -> Tensor:
    """(B, 1) weights for a sequence-level ratio (RL4VLM's PPO): min(exp(sum_t w_t (old_t - rollout_t)), cap) with
    the same per-token weights `token_weights` (B, T) (lambda on thought tokens, 1 on action, 0 on padding)."""
    log_ratio = ((old_logprobs - rollout_logprobs).detach().float() * token_weights).sum(1, keepdim=True)  # (B, 1)
    return torch.exp(torch.clamp(log_ratio, max=torch.log(torch.tensor(cap)).item()))  # (B, 1)


def rollout_mismatch(old_logprobs: Tensor, rollout_logprobs: Tensor, mask: Tensor, cap: float | None
                     ) -> dict[str, float]:
    """Diagnostics of the rollout/training mismatch over the real tokens (`mask` (B, T)): 'logprob_gap' = mean
    |old - rollout|, and with a cap 'tis_clipped_frac' = share of tokens whose ratio reached the cap."""
    gap = masked_mean((old_logprobs - rollout_logprobs).abs(), mask)
    out = {"logprob_gap": float(gap)}
    if cap is not None:
        at_cap = (old_logprobs - rollout_logprobs >= torch.log(torch.tensor(cap)).item()).float()  # (B, T)
        out["tis_clipped_frac"] = float(masked_mean(at_cap, mask))
    return out
