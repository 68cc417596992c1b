"""ROVER's loss (mmrl.algos.losses.rover_loss) on numbers worked out by hand."""

from __future__ import annotations

import pytest
import torch

from mmrl.algos.losses import rover_loss


def test_rover_regresses_q_onto_reward_plus_the_next_states_vocabulary_mean():
    old = torch.tensor([[-1.0, -2.0, 0.0]])
    logprobs = (old + torch.tensor([[0.2, -0.1, 0.0]])).requires_grad_(True)  # Q = [0.2, -0.1]
    old_vm = torch.tensor([[-5.0, -5.0, 0.0]])
    vm = torch.tensor([[-4.0, -4.7, 0.0]])  # state values [1.0, 0.3]; the third column is padding
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    loss = rover_loss(logprobs, old, vm, old_vm, torch.tensor([1.0]), mask)
    # targets: y0 = 1 + V1 = 1.3, y1 = 1 + 0 (last token) -> errors -1.1 and -1.1 -> token-mean 1.21
    assert loss.item() == pytest.approx(1.21, abs=1e-6)
    loss.backward()
    assert logprobs.grad.tolist()[0] == pytest.approx([-1.1, -1.1, 0.0], abs=1e-6)  # 2 (Q - y) / 2 tokens


def test_rover_with_rho_and_importance_weights():
    old = torch.zeros(1, 2)
    logprobs = torch.tensor([[0.5, 0.5]], requires_grad=True)
    zeros = torch.zeros(1, 2)
    loss = rover_loss(logprobs, old, zeros, zeros, torch.tensor([0.0]), torch.ones(1, 2), rho=2.0,
                      is_weights=torch.tensor([[1.0, 0.5]]))
    # Q = 2 * 0.5 = 1 on both tokens, target 0: errors 1 and 1, weighted 1 and 0.5 -> mean 0.75
    assert loss.item() == pytest.approx(0.75)
