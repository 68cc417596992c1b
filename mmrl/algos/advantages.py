"""Advantage estimators: pure tensor math, no model code.

- Group-relative advantages: GRPO (Shao et al. 2024, "DeepSeekMath", Sec. 4.1.2, outcome supervision) and
  Dr. GRPO (Liu et al. 2025, "Understanding R1-Zero-Like Training: A Critical Perspective", arXiv:2503.20783),
  which drops the division by the group's standard deviation.
- Generalized advantage estimation, GAE (Schulman et al. 2016, "High-Dimensional Continuous Control Using
  Generalized Advantage Estimation", arXiv:1506.02438, Eq. 16), per env step, for the PPO trainer.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _grouped(rewards: Tensor, group_size: int) -> Tensor:
    if rewards.dim() != 1:
        raise ValueError(f"rewards must be 1-D (N,), got shape {tuple(rewards.shape)}")
    if group_size < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size}")
    if rewards.numel() % group_size != 0:
        raise ValueError(
            f"the number of rewards ({rewards.numel()}) must be a multiple of group_size ({group_size}): "
            f"consecutive blocks of group_size rewards are the groups"
        )
    return rewards.reshape(-1, group_size)  # (N/G, G)


def group_relative_advantages(
    rewards: Tensor,
    group_size: int,
    normalize_std: bool = True,
    eps: float = 1e-6,
    unbiased_std: bool = False,
    keep: Tensor | None = None,
) -> Tensor:
    """Group-relative advantage of each sample's scalar reward.

    The N rewards are N/G groups of G = `group_size` consecutive samples (responses to the same prompt,
    or episodes from the same reset seed). With mean_g and std_g over the sample's group:

    - GRPO (DeepSeekMath, Sec. 4.1.2):   A_i = (r_i - mean_g) / (std_g + eps)    (normalize_std=True)
    - Dr. GRPO (Liu et al. 2025):        A_i = r_i - mean_g                      (normalize_std=False)

    std convention: the population standard deviation (divide by G, `unbiased=False`) by default, so a
    group of G = 1 is defined (advantage 0) and the normalised advantages of a group have unit variance.
    TRL and verl use the Bessel-corrected std (divide by G - 1), which makes their advantages smaller by
    sqrt((G-1)/G) (0.935 for G = 8); pass `unbiased_std=True` to match them exactly (then G must be >= 2).

    A group whose rewards are all equal gets advantage exactly 0 (not NaN, nor rounding noise divided by eps).

    Args:
        rewards: (N,) scalar reward per sample; N must be a multiple of group_size.
        group_size: G, samples per group.
        normalize_std: divide by std_g + eps (GRPO) or not (Dr. GRPO).
        eps: added to std_g before dividing.
        unbiased_std: use the Bessel-corrected std (TRL/verl) instead of the population std.
        keep: (N,) bool, optional: the group's statistics over its kept samples only (an episode whose env failed,
            or one PROF filtered out, must not move its group's baseline); dropped samples get advantage 0.

    Returns:
        (N,) advantages, floating point (rewards' dtype if floating, else float32).
    """
    if not rewards.is_floating_point():
        rewards = rewards.float()
    if keep is not None and not bool(keep.all()):
        return _kept_group_relative(rewards, keep, group_size, normalize_std, eps, unbiased_std)
    if unbiased_std and normalize_std and group_size < 2:
        raise ValueError(
            "unbiased_std=True needs group_size >= 2 (the Bessel-corrected std of one sample is undefined)"
        )
    grouped = _grouped(rewards, group_size)  # (N/G, G)
    mean = grouped.mean(dim=1, keepdim=True)  # (N/G, 1)
    centered = grouped - mean  # (N/G, G)
    # Identical rewards can leave a one-ulp residue after subtracting the mean; force those groups to 0.
    constant = (grouped == grouped[:, :1]).all(dim=1, keepdim=True)  # (N/G, 1)
    centered = torch.where(constant, torch.zeros_like(centered), centered)  # (N/G, G)
    if normalize_std:
        std = grouped.std(dim=1, keepdim=True, unbiased=unbiased_std)  # (N/G, 1)
        centered = centered / (std + eps)  # (N/G, G)
    return centered.reshape(-1)  # (N,)


def _kept_group_relative(rewards: Tensor, keep: Tensor, group_size: int, normalize_std: bool, eps: float,
                         unbiased_std: bool) -> Tensor:
    """`group_relative_advantages` over each group's kept samples (mean, and std with G replaced by the kept count);
    dropped samples, and groups whose kept rewards are all equal, get 0."""
    grouped = _grouped(rewards, group_size).double()  # (N/G, G)
    kept = _grouped(keep, group_size).double()  # (N/G, G)
    n = kept.sum(dim=1, keepdim=True)  # (N/G, 1)
    mean = (grouped * kept).sum(dim=1, keepdim=True) / n.clamp(min=1)  # (N/G, 1)
    centered = (grouped - mean) * kept  # (N/G, G)
    spread = centered.pow(2).sum(dim=1, keepdim=True)  # (N/G, 1)
    centered = torch.where(spread > 1e-24, centered, torch.zeros_like(centered))  # equal kept rewards: 0
    if normalize_std:
        std = (spread / (n - float(unbiased_std)).clamp(min=1)).sqrt()  # (N/G, 1)
        centered = centered / (std + eps)
    return centered.reshape(-1).to(rewards.dtype)  # (N,)


def zero_advantage_group_fraction(rewards: Tensor, group_size: int) -> float:
    """Fraction of groups whose rewards are all equal, so every advantage in them is 0 (no learning signal).

    A rising value means the policy's groups are collapsing to all-correct or all-wrong (DAPO, Yu et al. 2025,
    arXiv:2503.14476, "Dynamic Sampling", filters such groups out).

    Args:
        rewards: (N,) scalar reward per sample, consecutive blocks of group_size are groups.
        group_size: G.
    """
    grouped = _grouped(rewards, group_size)  # (N/G, G)
    if grouped.shape[0] == 0:
        return 0.0
    constant = (grouped == grouped[:, :1]).all(dim=1)  # (N/G,)
    return constant.float().mean().item()


def gae_advantages(
    rewards: Tensor,
    values: Tensor,
    dones: Tensor,
    gamma: float,
    lam: float,
    bootstrap_value: Tensor | float | None = None,
) -> tuple[Tensor, Tensor]:
    """Generalized advantage estimation per env step (Schulman et al. 2016, Eq. 16, by backward recursion).

    For t = T-1 down to 0, with nonterminal_t = 1 - dones_t:

        delta_t = r_t + gamma * V(s_{t+1}) * nonterminal_t - V(s_t)
        A_t     = delta_t + gamma * lam * nonterminal_t * A_{t+1}        (A_T = 0)
        R_t     = A_t + V(s_t)                                            (the value target, "returns")

    Layout: one trajectory per row, steps along the last dimension, either a single trajectory (T,) or a
    batch (B, T). `dones_t` = 1 means the episode *terminated* at step t (no bootstrapping from s_{t+1}); a
    truncated episode keeps dones_t = 0 and bootstraps from V(s_{t+1}). Rows of different lengths are
    right-padded: pad rewards and values with 0, set done = 1 at the last real step (or, for a truncated row,
    put its bootstrap value right after it in the (T+1) layout), and mask the padded steps out of the loss;
    padded steps then get advantage 0.

    Args:
        rewards: (T,) or (B, T) reward of each step.
        values: V(s_t) of each step, either (T+1,) / (B, T+1) including V(s_T) of the state after the last
            step, or (T,) / (B, T) with V(s_T) given by `bootstrap_value`.
        dones: (T,) or (B, T), bool or 0/1, whether the episode terminated at step t.
        gamma: discount factor.
        lam: GAE lambda (0: one-step TD, 1: Monte Carlo return minus baseline).
        bootstrap_value: V(s_T), a scalar or (B,); only with (T,)/(B, T) values; None means 0.

    Returns:
        (advantages, returns), each shaped like rewards.
    """
    if rewards.dim() not in (1, 2):
        raise ValueError(f"rewards must be (T,) or (B, T), got shape {tuple(rewards.shape)}")
    if dones.shape != rewards.shape:
        raise ValueError(f"dones shape {tuple(dones.shape)} must equal rewards shape {tuple(rewards.shape)}")
    T = rewards.shape[-1]
    if values.shape[:-1] != rewards.shape[:-1] or values.shape[-1] not in (T, T + 1):
        raise ValueError(
            f"values must be shaped like rewards {tuple(rewards.shape)} with last dimension T={T} or "
            f"T+1={T + 1}, got {tuple(values.shape)}"
        )
    dtype = torch.promote_types(rewards.dtype, values.dtype)
    if not dtype.is_floating_point:
        dtype = torch.float32
    rewards = rewards.to(dtype)
    values = values.to(dtype)
    if values.shape[-1] == T:
        if bootstrap_value is None:
            bootstrap_value = 0.0
        last = torch.as_tensor(bootstrap_value, dtype=dtype, device=values.device)
        last = last.expand(values.shape[:-1]).unsqueeze(-1)  # (B, 1) or (1,)
        values = torch.cat([values, last], dim=-1)  # (B, T+1)
    elif bootstrap_value is not None:
        raise ValueError(
            "bootstrap_value is only used with values of length T; values of length T+1 already hold V(s_T)"
        )
    nonterminal = 1.0 - dones.to(dtype)  # (B, T)

    deltas = rewards + gamma * values[..., 1:] * nonterminal - values[..., :-1]  # (B, T)
    steps = []
    advantage = torch.zeros_like(rewards[..., 0])  # (B,) A_T = 0
    for t in reversed(range(T)):
        advantage = deltas[..., t] + gamma * lam * nonterminal[..., t] * advantage  # (B,)
        steps.append(advantage)
    advantages = torch.stack(steps[::-1], dim=-1) if T > 0 else torch.zeros_like(rewards)  # (B, T)
    returns = advantages + values[..., :T]  # (B, T)
    return advantages, returns


def leave_one_out_advantages(rewards: Tensor, group_size: int, keep: Tensor | None = None) -> Tensor:
    """RLOO (Ahmadian et al. 2024, "Back to Basics: Revisiting REINFORCE Style Optimization for Learning from Human
    Feedback in LLMs", arXiv:2402.14740, Eq. 6): each sample's baseline is the mean reward of the *other* G - 1
    samples of its group,

        A_i = r_i - (sum_{j != i} r_j) / (G - 1) = G / (G - 1) * (r_i - mean_g).

    Args:
        rewards: (N,) scalar reward per sample; consecutive blocks of `group_size` are the groups.
        group_size: G >= 2.
        keep: (N,) bool, optional: baselines from the kept samples only (the other kept ones); dropped samples, and
            kept ones with no other kept sample in their group, get 0.

    Returns:
        (N,) advantages.
    """
    if group_size < 2:
        raise ValueError(f"leave-one-out advantages need group_size >= 2, got {group_size}")
    if not rewards.is_floating_point():
        rewards = rewards.float()
    if keep is not None and not bool(keep.all()):
        grouped, kept = _grouped(rewards, group_size), _grouped(keep, group_size).to(rewards.dtype)  # (N/G, G)
        others_n = kept.sum(dim=1, keepdim=True) - kept  # (N/G, G) kept samples besides each one
        others = ((grouped * kept).sum(dim=1, keepdim=True) - grouped * kept) / others_n.clamp(min=1)  # (N/G, G)
        usable = (kept > 0) & (others_n > 0)
        return torch.where(usable, grouped - others, torch.zeros_like(grouped)).reshape(-1)  # (N,)
    grouped = _grouped(rewards, group_size)  # (N/G, G)
    others = (grouped.sum(dim=1, keepdim=True) - grouped) / (group_size - 1)  # (N/G, G)
    constant = (grouped == grouped[:, :1]).all(dim=1, keepdim=True)  # (N/G, 1)
    return torch.where(constant, torch.zeros_like(grouped), grouped - others).reshape(-1)  # (N,)


def discounted_returns(rewards: Tensor, gamma: float) -> Tensor:
    """R_t = sum_k gamma^k r_{t+k} along the last dimension (one episode per row, right-padded with 0).

    Args:
        rewards: (T,) or (B, T).
        gamma: discount per step.
    """
    out = torch.zeros_like(rewards, dtype=torch.promote_types(rewards.dtype, torch.float32))  # (B, T)
    running = torch.zeros_like(out[..., 0])  # (B,)
    for t in reversed(range(rewards.shape[-1])):
        running = rewards[..., t] + gamma * running  # (B,)
        out[..., t] = running
    return out


def anchor_group_advantages(values: Tensor, group_ids: Tensor, normalize_std: bool = False,
                            eps: float = 1e-6) -> tuple[Tensor, Tensor]:
    """Advantage of each entry against the entries with the same group id (GiGPO's step-level advantage, Feng et
    al. 2025, "Group-in-Group Policy Optimization for LLM Agent Training", arXiv:2505.10978, Eq. 7-8):

        A_i = (x_i - mean_{j in g(i)} x_j)            ("mean_norm")
        A_i = (x_i - mean_{g(i)}) / (std_{g(i)} + eps) ("mean_std_norm", population std)

    A group of one entry gets A = 0. Groups need not be contiguous.

    Args:
        values: (N,) e.g. discounted step returns.
        group_ids: (N,) integer id of each entry's anchor-state group.
        normalize_std: divide by the group's std.

    Returns:
        (advantages (N,), group sizes (N,) as float: the size of each entry's group).
    """
    if values.shape != group_ids.shape or values.dim() != 1:
        raise ValueError(f"values {tuple(values.shape)} and group_ids {tuple(group_ids.shape)} must be equal (N,)")
    values = values.float()
    _, inverse = torch.unique(group_ids, return_inverse=True)  # (N,)
    n_groups = int(inverse.max()) + 1 if inverse.numel() else 0
    counts = torch.zeros(n_groups).index_add_(0, inverse, torch.ones_like(values))  # (K,)
    means = torch.zeros(n_groups).index_add_(0, inverse, values) / counts  # (K,)
    centered = values - means[inverse]  # (N,)
    if normalize_std:
        var = torch.zeros(n_groups).index_add_(0, inverse, centered**2) / counts  # (K,)
        centered = centered / (var.sqrt()[inverse] + eps)  # (N,)
    sizes = counts[inverse]  # (N,)
    return torch.where(sizes > 1, centered, torch.zeros_like(centered)), sizes
