"""DPH-RL's divergences on reference samples, by hand."""

from __future__ import annotations

import math

import pytest
import torch

from mmrl.algos.divergences import divergence_term, forward_kl_term, js_term


def test_forward_kl_estimate_per_token_is_u_minus_log_u_minus_one():
    ref = torch.tensor([[math.log(0.5), math.log(0.2), 0.0]])
    logprobs = torch.tensor([[math.log(0.25), math.log(0.2), -3.0]])  # u = 0.5, 1; third column padding
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    # u = 0.5: 0.5 - ln 0.5 - 1 = ln 2 - 0.5; u = 1: 0
    assert forward_kl_term(logprobs, ref, mask).item() == pytest.approx((math.log(2) - 0.5) / 2, abs=1e-6)


def test_js_generator_is_zero_at_one_and_matches_the_formula():
    ref = torch.zeros(1, 2)
    logprobs = torch.tensor([[0.0, math.log(3.0)]])  # u = 1 and 3
    # f(1) = 0 - 2 ln 1 = 0; f(3) = 3 ln 3 - 4 ln 2
    expected = (0.0 + 3 * math.log(3) - 4 * math.log(2)) / 2
    assert js_term(logprobs, ref, torch.ones(1, 2)).item() == pytest.approx(expected, abs=1e-6)
    assert divergence_term("js", logprobs, ref, torch.ones(1, 2)).item() == pytest.approx(expected, abs=1e-6)


def test_forward_kl_gradient_pulls_up_tokens_the_policy_underweights():
    ref = torch.zeros(1, 1)
    logprobs = torch.tensor([[math.log(0.5)]], requires_grad=True)
    forward_kl_term(logprobs, ref, torch.ones(1, 1)).backward()
    assert logprobs.grad.item() == pytest.approx(0.5 - 1.0)  # d(u - log u)/dlog u = u - 1 < 0: raise log p
    with pytest.raises(ValueError, match="algo.divergence"):
        divergence_term("reverse_kl", ref, ref, ref)
