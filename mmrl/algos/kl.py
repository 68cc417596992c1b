"""Per-token estimators of KL(pi || pi_ref) from the sampled tokens' log-probs: pure tensor math.

J. Schulman, "Approximating KL Divergence" (blog post, 2020, http://joschu.net/blog/kl-approx.html).
With tokens sampled from pi and log r = log pi_ref(x) - log pi(x):

- k1 = -log r = logp - ref_logp              unbiased, high variance, can be negative
- k2 = 0.5 (log r)^2                         biased, low variance, >= 0
- k3 = (r - 1) - log r                       unbiased, low variance, >= 0 (GRPO's estimator: DeepSeekMath,
                                             Shao et al. 2024, arXiv:2402.03300, Eq. 4)
"""

from __future__ import annotations

import typing

import torch
from torch import Tensor

from mmrl.config import KLEstimator

KL_ESTIMATORS = typing.get_args(KLEstimator)

# exp(20) ~ 4.9e8: beyond this the penalty is already enormous; it keeps float32 far from overflow.
_K3_MAX_LOG_RATIO = 20.0


def kl_penalty(logprobs: Tensor, ref_logprobs: Tensor, estimator: str) -> Tensor:
    """Per-token KL estimate between the policy and the reference, for tokens sampled from the policy.

    k1 = logp - ref; k2 = 0.5 (logp - ref)^2; k3 = exp(ref - logp) - (ref - logp) - 1 (see the module
    docstring). For k3 the log ratio (ref - logp) is clamped to at most 20 before exp, so a token the
    reference finds far more likely than the policy gives a large finite penalty instead of inf; below the
    clamp the value is exact. Half-precision inputs are computed and returned in float32 (k3 would overflow float16).
    Reduce the result with the same mask as the policy loss (e.g. `masked_mean` or `aggregate_loss`).

    Args:
        logprobs: (B, T) log-probs of the sampled tokens under the policy (requires grad when used as a loss).
        ref_logprobs: (B, T) log-probs of the same tokens under the reference policy (no grad).
        estimator: 'k1', 'k2' or 'k3'.

    Returns:
        (B, T) per-token estimates, float32 or float64.
    """
    if logprobs.shape != ref_logprobs.shape:
        raise ValueError(
            f"logprobs {tuple(logprobs.shape)} and ref_logprobs {tuple(ref_logprobs.shape)} differ"
        )
    dtype = torch.promote_types(torch.promote_types(logprobs.dtype, ref_logprobs.dtype), torch.float32)
    log_ratio = logprobs.to(dtype) - ref_logprobs.to(dtype)  # (B, T) log pi - log pi_ref
    if estimator == "k1":
        return log_ratio  # (B, T)
    if estimator == "k2":
        return 0.5 * log_ratio**2  # (B, T)
    if estimator == "k3":
        log_r = torch.clamp(-log_ratio, max=_K3_MAX_LOG_RATIO)  # (B, T) log(pi_ref / pi)
        return torch.expm1(log_r) - log_r  # (B, T) expm1: no cancellation when pi ~ pi_ref
    raise ValueError(f"unknown KL estimator {estimator!r}; expected one of {', '.join(KL_ESTIMATORS)}")
