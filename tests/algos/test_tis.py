"""Truncated importance sampling (mmrl.algos.tis) on numbers worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from mmrl.algos.losses import clipped_policy_loss
from mmrl.algos.tis import rollout_mismatch, sequence_is_weights, truncated_is_weights

LN = math.log


def test_weights_are_the_probability_ratio_truncated_at_the_cap():
    old = torch.tensor([[LN(0.5), LN(0.2), LN(0.3)]])
    rollout = torch.tensor([[LN(0.25), LN(0.4), LN(0.3)]])
    # ratios 0.5/0.25 = 2 (capped to 1.5), 0.2/0.4 = 0.5, 1
    assert truncated_is_weights(old, rollout, 1.5).tolist()[0] == pytest.approx([1.5, 0.5, 1.0], abs=1e-6)


def test_weights_multiply_each_tokens_policy_gradient_term():
    old = torch.tensor([[LN(0.5), LN(0.2)]])
    rollout = torch.tensor([[LN(0.25), LN(0.4)]])
    w = truncated_is_weights(old, rollout, 1.5)  # [1.5, 0.5]
    logprobs = old.clone().requires_grad_(True)  # on-policy: ratio 1
    loss, _ = clipped_policy_loss(logprobs, old, torch.tensor([1.0]), torch.ones(1, 2), 0.2, 0.2, "token-mean", w)
    assert loss.item() == pytest.approx(-(1.5 + 0.5) / 2)  # token-mean of -A * ratio * w
    loss.backward()
    assert logprobs.grad.tolist()[0] == pytest.approx([-0.75, -0.25])  # d/dlogp of -A*exp(logp-old)*w/2


def test_sequence_weight_uses_the_lambda_weighted_log_ratio():
    old = torch.tensor([[LN(0.5), LN(0.2)]])
    rollout = torch.tensor([[LN(0.25), LN(0.4)]])
    # 0.5 * ln 2 + 1 * ln 0.5 = -0.5 ln 2  -> 2^-0.5
    w = sequence_is_weights(old, rollout, torch.tensor([[0.5, 1.0]]), 2.0)
    assert w.shape == (1, 1) and w.item() == pytest.approx(2**-0.5, abs=1e-6)


def test_mismatch_reports_the_mean_absolute_gap_and_the_share_at_the_cap_over_real_tokens():
    old = torch.tensor([[LN(0.5), LN(0.2), 0.0]])
    rollout = torch.tensor([[LN(0.25), LN(0.4), -9.0]])  # the third column is padding
    out = rollout_mismatch(old, rollout, torch.tensor([[1.0, 1.0, 0.0]]), 1.5)
    assert out["logprob_gap"] == pytest.approx(LN(2))  # |ln 2| and |ln 0.5|
    assert out["tis_clipped_frac"] == pytest.approx(0.5)
    assert "tis_clipped_frac" not in rollout_mismatch(old, rollout, torch.ones(1, 3), None)
