"""Policy, value and supervised losses on per-token tensors: pure tensor math, no model code.

Shapes: B sequences (samples) by T tokens, right- or left-padded; `mask` (B, T) is 1 on tokens that count
(the response's tokens) and 0 elsewhere (prompt, padding). A mask may also hold non-negative float weights
(e.g. a lambda-scaled thought span); the formulas below then weight tokens by it.

- PPO clipped surrogate: Schulman et al. 2017, "Proximal Policy Optimization Algorithms", arXiv:1707.06347,
  Eq. 7 (L^CLIP), with DAPO's decoupled clip range [1 - eps_low, 1 + eps_high] (Yu et al. 2025,
  arXiv:2503.14476, "Clip-Higher").
- Loss aggregation modes: token-level mean (DAPO, "Token-Level Policy Gradient Loss"), per-sequence mean
  then mean (the original GRPO objective, Shao et al. 2024, arXiv:2402.03300, Eq. 3), and per-sequence sum
  then mean (no length normalisation, Dr. GRPO, Liu et al. 2025, arXiv:2503.20783).
"""

from __future__ import annotations

import typing

import torch
from torch import Tensor

from mmrl.config import LossAgg

AGG_MODES = typing.get_args(LossAgg)


def _masked(x: Tensor, mask: Tensor) -> Tensor:
    """x * mask, with masked-out entries exactly 0 even where x holds inf or NaN (e.g. padding log-probs)."""
    return torch.where(mask != 0, x, torch.zeros_like(x)) * mask


def _safe_divide(num: Tensor, den: Tensor) -> Tensor:
    """num / den where den > 0, else 0; never NaN in the forward pass or the gradient."""
    positive = den > 0
    return torch.where(
        positive, num / torch.where(positive, den, torch.ones_like(den)), torch.zeros_like(num)
    )


def masked_mean(x: Tensor, mask: Tensor, dim: int | None = None) -> Tensor:
    """Mean of `x` over the entries where `mask` is non-zero: sum(x * mask) / sum(mask).

    With `dim`, reduces that dimension only. An all-zero mask gives 0 (not NaN), with a zero gradient.

    Args:
        x: any shape, e.g. (B, T).
        mask: same shape as x; bool, 0/1 or non-negative float weights.
        dim: dimension to reduce, or None for all.
    """
    mask = mask.to(x.dtype)
    if dim is None:
        return _safe_divide(_masked(x, mask).sum(), mask.sum())  # ()
    return _safe_divide(_masked(x, mask).sum(dim=dim), mask.sum(dim=dim))  # x.shape without dim


def aggregate_loss(loss_tokens: Tensor, mask: Tensor, mode: str) -> Tensor:
    """Reduce per-token losses to a scalar.

    Modes (w = mask, L = loss_tokens, S = sequences with at least one unmasked token):

    - 'token-mean':          sum_{i,t} w L / sum_{i,t} w           (every token weighs the same; DAPO)
    - 'seq-mean-token-mean': mean_{i in S} (sum_t w L / sum_t w)   (every sequence weighs the same; GRPO)
    - 'seq-mean-token-sum':  mean_{i in S} sum_t w L               (no length normalisation; Dr. GRPO-style)

    Sequences with no unmasked token are left out of the mean over sequences (they carry no loss). An all-zero
    mask gives 0.

    Args:
        loss_tokens: (B, T) loss of each token.
        mask: (B, T) which tokens count (bool, 0/1 or weights).
        mode: one of AGG_MODES.
    """
    if loss_tokens.dim() != 2 or mask.shape != loss_tokens.shape:
        raise ValueError(
            f"loss_tokens and mask must both be (B, T); got {tuple(loss_tokens.shape)} and "
            f"{tuple(mask.shape)}"
        )
    mask = mask.to(loss_tokens.dtype)
    if mode == "token-mean":
        return masked_mean(loss_tokens, mask)  # ()
    tokens_per_seq = mask.sum(dim=1)  # (B,)
    has_tokens = (tokens_per_seq > 0).to(loss_tokens.dtype)  # (B,)
    if mode == "seq-mean-token-mean":
        per_seq = masked_mean(loss_tokens, mask, dim=1)  # (B,)
    elif mode == "seq-mean-token-sum":
        per_seq = _masked(loss_tokens, mask).sum(dim=1)  # (B,)
    else:
        raise ValueError(f"unknown loss aggregation mode {mode!r}; expected one of {', '.join(AGG_MODES)}")
    return masked_mean(per_seq, has_tokens)  # ()


def clipped_policy_loss(
    logprobs: Tensor,
    old_logprobs: Tensor,
    advantages: Tensor,
    mask: Tensor,
    clip_low: float,
    clip_high: float,
    agg_mode: str,
    is_weights: Tensor | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """PPO clipped surrogate loss with an asymmetric clip range (PPO Eq. 7; DAPO "Clip-Higher").

    Per token, with ratio = exp(logprobs - old_logprobs) and the sequence's advantage A broadcast to its
    tokens:

        loss_t = max(-A * ratio, -A * clip(ratio, 1 - clip_low, 1 + clip_high))

    i.e. the negated min of PPO's objective. A token whose ratio is already beyond the clip range in the
    direction its advantage pushes (ratio > 1 + clip_high with A > 0, ratio < 1 - clip_low with A < 0) takes
    the constant branch and gets no gradient. Per-token losses are reduced by `aggregate_loss(.., agg_mode)`.

    Args:
        logprobs: (B, T) log-probs of the sampled tokens under the policy being trained (requires grad).
        old_logprobs: (B, T) log-probs under the policy that sampled them (no grad).
        advantages: (B,) one advantage per sequence (GRPO), or (B, T) per token (e.g. GAE).
        mask: (B, T) tokens that count.
        clip_low: eps_low; the ratio is clipped below at 1 - clip_low.
        clip_high: eps_high; the ratio is clipped above at 1 + clip_high (DAPO uses 0.28).
        agg_mode: 'token-mean', 'seq-mean-token-mean' or 'seq-mean-token-sum'.
        is_weights: optional (B, T) or (B, 1) detached weights multiplying each token's loss: the truncated
            importance weights min(pi_old / pi_rollout, cap) of `mmrl.algos.tis`, when a separate engine sampled.

    Returns:
        (loss, stats): the scalar loss, and detached scalar tensors over the unmasked tokens (call `.item()`
        when logging): 'clip_frac' (fraction of tokens on the clipped, gradient-free branch), 'ratio_mean',
        and 'approx_kl' (k3 estimate of KL(old || new), (ratio - 1) - log ratio, Schulman 2020).
    """
    if logprobs.shape != old_logprobs.shape or logprobs.shape != mask.shape:
        raise ValueError(
            f"logprobs {tuple(logprobs.shape)}, old_logprobs {tuple(old_logprobs.shape)} and mask "
            f"{tuple(mask.shape)} must have the same (B, T) shape"
        )
    if advantages.dim() == 1:
        advantages = advantages.unsqueeze(1)  # (B, 1), broadcast over T
    if advantages.shape[0] != logprobs.shape[0]:
        raise ValueError(
            f"advantages {tuple(advantages.shape)} do not match logprobs {tuple(logprobs.shape)}"
        )
    advantages = advantages.to(logprobs.dtype)
    log_ratio = logprobs - old_logprobs  # (B, T)
    ratio = torch.exp(log_ratio)  # (B, T)
    unclipped = -advantages * ratio  # (B, T)
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high)  # (B, T)
    loss_tokens = torch.maximum(unclipped, clipped)  # (B, T)
    if is_weights is not None:
        loss_tokens = loss_tokens * is_weights.detach().to(loss_tokens.dtype)  # (B, T)
    loss = aggregate_loss(loss_tokens, mask, agg_mode)  # ()
    with torch.no_grad():
        stats = {
            "clip_frac": masked_mean((clipped > unclipped).to(logprobs.dtype), mask),
            "ratio_mean": masked_mean(ratio, mask),
            "approx_kl": masked_mean((ratio - 1.0) - log_ratio, mask),
        }
    return loss, stats


def value_loss(
    values: Tensor,
    old_values: Tensor,
    returns: Tensor,
    mask: Tensor,
    clip: float | None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """PPO clipped value loss (as in the PPO2 reference implementation and CleanRL's ppo.py).

        v_clipped = old_values + clamp(values - old_values, -clip, clip)
        loss      = 0.5 * masked_mean(max((values - returns)^2, (v_clipped - returns)^2))

    `clip=None` gives the plain squared error 0.5 * masked_mean((values - returns)^2).

    Args:
        values: value predictions being trained, any shape, e.g. (B, T) per token or (B,) per step.
        old_values: the predictions made when the rollouts were collected (no grad), same shape.
        returns: value targets (e.g. GAE returns), same shape.
        mask: same shape; which entries count.
        clip: how far a prediction may move from old_values before its loss stops improving; None disables.

    Returns:
        (loss, stats) with 'clip_frac': fraction of entries where the clipped error is larger (no gradient).
    """
    if not (values.shape == old_values.shape == returns.shape == mask.shape):
        raise ValueError(
            f"values {tuple(values.shape)}, old_values {tuple(old_values.shape)}, returns "
            f"{tuple(returns.shape)} and mask {tuple(mask.shape)} must have the same shape"
        )
    error = (values - returns) ** 2  # (B, T)
    if clip is None:
        return 0.5 * masked_mean(error, mask), {"clip_frac": torch.zeros((), device=values.device)}
    v_clipped = old_values + torch.clamp(values - old_values, -clip, clip)  # (B, T)
    error_clipped = (v_clipped - returns) ** 2  # (B, T)
    loss = 0.5 * masked_mean(torch.maximum(error, error_clipped), mask)  # ()
    with torch.no_grad():
        clip_frac = masked_mean((error_clipped > error).to(values.dtype), mask)
    return loss, {"clip_frac": clip_frac}


def sft_loss(logprobs: Tensor, mask: Tensor) -> Tensor:
    """Supervised (behaviour cloning) loss: the negative mean log-likelihood of the unmasked tokens.

        loss = -sum(mask * logprobs) / sum(mask)    (token-mean; 0 for an all-zero mask)

    Args:
        logprobs: (B, T) log-probs of the target tokens (requires grad).
        mask: (B, T) target tokens to learn (e.g. the expert action, or only its thought span for GTR).
    """
    return -masked_mean(logprobs, mask)  # ()


def rover_loss(
    logprobs: Tensor,
    old_logprobs: Tensor,
    vocab_mean: Tensor,
    old_vocab_mean: Tensor,
    rewards: Tensor,
    mask: Tensor,
    rho: float = 1.0,
    is_weights: Tensor | None = None,
) -> Tensor:
    """ROVER's loss (He et al. 2025, "Random Policy Valuation is Enough for LLM Reasoning with Verifiable Rewards",
    arXiv:2509.24981): the Q-value of a token is read from the policy's log-ratio to the rollout policy, and its
    target is the reward plus the value of the next state under the *uniform random* policy, i.e. the mean of the
    same log-ratio over the vocabulary there:

        Q_t = rho * (log pi(y_t | s_t) - log pi_old(y_t | s_t))
        V_t = rho * mean_v (log pi(v | s_t) - log pi_old(v | s_t))           (detached)
        y_t = r~ + V_{t+1}   (V after the last token = 0),   loss = token-mean (Q_t - y_t)^2

    with r~ the sample's group-normalised outcome reward, broadcast to its tokens.

    Args:
        logprobs, old_logprobs: (B, T) log-probs of the sampled tokens now (with grad) and at rollout.
        vocab_mean, old_vocab_mean: (B, T) mean over the vocabulary of log p at each position, now and at rollout.
        rewards: (B,) r~.
        mask: (B, T) real tokens (0/1, or sample weights).
        rho: the temperature-like scale of Q.
        is_weights: optional (B, T) truncated importance weights multiplying each token's squared error.
    """
    q = rho * (logprobs - old_logprobs)  # (B, T)
    state_value = (rho * (vocab_mean - old_vocab_mean)).detach() * (mask != 0)  # (B, T)
    next_value = torch.zeros_like(state_value)  # (B, T)
    next_value[:, :-1] = state_value[:, 1:]  # 0 after the last (and every padded) token
    target = (rewards.to(q.dtype).unsqueeze(1) + next_value).detach()  # (B, T)
    error = (q - target) ** 2  # (B, T)
    if is_weights is not None:
        error = error * is_weights.detach().to(error.dtype)  # (B, T)
    return aggregate_loss(error, mask, "token-mean")  # ()
