"""Pure algorithm math on tensors: advantage estimators, policy/value/supervised losses, KL estimators,
divergences, truncated importance weights, reward shaping.

No model code lives in these functions. The algorithm objects that wire them to the policy's forward pass live
beside them (`base.py`: the seam; `grpo.py`, `ppo.py`, `gigpo.py`, `rover.py`), chosen once from `algo.name` by
`registry.py`.
"""

from mmrl.algos.advantages import gae_advantages, group_relative_advantages, zero_advantage_group_fraction
from mmrl.algos.kl import KL_ESTIMATORS, kl_penalty
from mmrl.algos.losses import (
    AGG_MODES,
    aggregate_loss,
    clipped_policy_loss,
    masked_mean,
    sft_loss,
    value_loss,
)

__all__ = [
    "AGG_MODES",
    "KL_ESTIMATORS",
    "aggregate_loss",
    "clipped_policy_loss",
    "gae_advantages",
    "group_relative_advantages",
    "kl_penalty",
    "masked_mean",
    "sft_loss",
    "value_loss",
    "zero_advantage_group_fraction",
]
