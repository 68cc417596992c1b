"""Divergences to the reference policy measured on the *reference's* own samples (DPH-RL: Li et al. 2025, "The
Choice of Divergence: A Neglected Key to Mitigating Diversity Collapse in Reinforcement Learning with Verifiable
Reward", arXiv:2509.07430). Pure tensor math.

On responses y ~ pi_0 (stored samples of the reference for prompts it already solves), with the per-token ratio
u = pi_theta(y_t) / pi_0(y_t):

- forward KL, KL(pi_0 || pi_theta) = E_{pi_0}[-log u], estimated as  mean(u - log u - 1)  (the (u - 1) term has mean
  0 under pi_0 and makes every token's estimate >= 0);
- Jensen-Shannon, the f-divergence E_{pi_0}[f(u)] with  f(u) = u log u - (u + 1) log((u + 1) / 2).

Both are "mass-covering": they pull probability back onto what the reference already solved, which keeps pass@k
from collapsing. The reverse KL on the policy's own samples stays `mmrl.algos.kl` (algo.kl_estimator).
"""

from __future__ import annotations

import math
import typing

import torch
from torch import Tensor

from mmrl.algos.losses import masked_mean
from mmrl.config import Divergence

DIVERGENCES = typing.get_args(Divergence)
_MAX_LOG_U = 20.0  # exp(20) ~ 4.9e8: keeps float32 finite


def _log_u(logprobs: Tensor, ref_logprobs: Tensor) -> Tensor:
    if logprobs.shape != ref_logprobs.shape:
        raise ValueError(f"logprobs {tuple(logprobs.shape)} and ref_logprobs {tuple(ref_logprobs.shape)} differ")
    return torch.clamp(logprobs.float() - ref_logprobs.float(), max=_MAX_LOG_U)  # (B, T)


def forward_kl_term(logprobs: Tensor, ref_logprobs: Tensor, mask: Tensor) -> Tensor:
    """Token-mean of u - log u - 1 over `mask` (B, T), u = exp(logprobs - ref_logprobs), on reference samples."""
    log_u = _log_u(logprobs, ref_logprobs)  # (B, T)
    return masked_mean(torch.expm1(log_u) - log_u, mask)  # ()


def js_term(logprobs: Tensor, ref_logprobs: Tensor, mask: Tensor) -> Tensor:
    """Token-mean of f(u) = u log u - (u + 1) log((u + 1) / 2) over `mask` (B, T), on reference samples."""
    log_u = _log_u(logprobs, ref_logprobs)  # (B, T)
    u = torch.exp(log_u)  # (B, T)
    f = u * log_u - (u + 1) * (torch.log1p(u) - math.log(2.0))  # (B, T)
    return masked_mean(f, mask)  # ()


def divergence_term(name: str, logprobs: Tensor, ref_logprobs: Tensor, mask: Tensor) -> Tensor:
    """'forward_kl' or 'js' on reference samples."""
    if name == "forward_kl":
        return forward_kl_term(logprobs, ref_logprobs, mask)
    if name == "js":
        return js_term(logprobs, ref_logprobs, mask)
    raise ValueError(f"algo.divergence: {name!r} is not computed on reference samples (forward_kl or js)")
