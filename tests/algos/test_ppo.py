"""PPO pieces (mmrl.algos.ppo_terms): per-episode GAE, lambda-scaled thought weights, and the loss terms."""

from __future__ import annotations

import pytest
import torch

from mmrl.algos.ppo_terms import episode_gae, ppo_terms, thought_weights


def test_episode_gae_matches_a_hand_computed_recursion():
    gamma, lam = 0.9, 0.8
    eps = [[0.0, 0.0, 1.0], [-1.0]]
    values = [[0.5, 0.2, 0.4], [0.3]]
    adv, ret = episode_gae(eps, values, gamma, lam)
    # Episode 1, backwards: the last step has no successor.
    d2 = 1.0 - 0.4
    d1 = 0.0 + gamma * 0.4 - 0.2
    d0 = 0.0 + gamma * 0.2 - 0.5
    a2 = d2
    a1 = d1 + gamma * lam * a2
    a0 = d0 + gamma * lam * a1
    assert adv[0] == pytest.approx([a0, a1, a2], abs=1e-6)
    assert ret[0] == pytest.approx([a0 + 0.5, a1 + 0.2, a2 + 0.4], abs=1e-6)
    assert adv[1] == pytest.approx([-1.3], abs=1e-6) and ret[1] == pytest.approx([-1.0], abs=1e-6)


def test_episode_gae_with_zero_values_and_lambda_one_gives_discounted_returns():
    adv, ret = episode_gae([[0.0, 0.0, 2.0]], [[0.0, 0.0, 0.0]], 0.5, 1.0)
    assert ret[0] == pytest.approx([0.5, 1.0, 2.0])
    assert adv[0] == pytest.approx([0.5, 1.0, 2.0])


def test_thought_weights_scale_thought_tokens_and_zero_padding():
    mask = torch.tensor([[1.0, 1, 1, 1, 0], [1, 1, 0, 0, 0]])
    w = thought_weights([3, 0], mask, 0.25)
    assert w.tolist() == [[0.25, 0.25, 0.25, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0, 0.0]]


def test_ppo_terms_push_the_scaled_sequence_logprob_along_the_advantage():
    logprobs = torch.full((2, 3), -1.0, requires_grad=True)
    mask = torch.ones(2, 3)
    old = logprobs.detach().clone()
    values = torch.tensor([0.0, 0.0], requires_grad=True)
    pg, vf, stats = ppo_terms(logprobs, mask, [1, 1], old, torch.tensor([1.0, -1.0]), values, torch.zeros(2),
                              torch.tensor([1.0, 2.0]), torch.ones(2), 0.5, 0.2, 0.2, None)
    assert stats["ratio_mean"] == pytest.approx(1.0)
    (pg + vf).backward()
    grad = logprobs.grad
    # Ascending the objective raises log p of the positive-advantage row and lowers the other's; the thought
    # token's gradient is scaled by lambda.
    assert (grad[0] < 0).all() and (grad[1] > 0).all()
    assert grad[0, 0] == pytest.approx(0.5 * grad[0, 1].item())
    assert vf.item() == pytest.approx(0.5 * (1.0 + 4.0) / 2)
    assert values.grad.tolist() == pytest.approx([-0.5, -1.0])


def test_padding_samples_do_not_contribute():
    logprobs = torch.zeros(2, 2, requires_grad=True)
    pg, vf, _ = ppo_terms(logprobs, torch.ones(2, 2), [0, 0], torch.zeros(2, 2), torch.tensor([1.0, 5.0]),
                          torch.zeros(2), torch.zeros(2), torch.tensor([1.0, 9.0]), torch.tensor([1.0, 0.0]),
                          1.0, 0.2, 0.2, None)
    (pg + vf).backward()
    assert logprobs.grad[1].abs().sum() == 0
    assert vf.item() == pytest.approx(0.5)


@pytest.mark.parametrize("level", ["sequence", "token"])
def test_both_ratio_levels_have_the_same_gradient_on_policy(level):
    torch.manual_seed(0)
    base = torch.randn(3, 4)
    mask = torch.tensor([[1.0, 1, 1, 1], [1, 1, 1, 0], [1, 1, 0, 0]])
    grads = {}
    for lv in ("sequence", "token"):
        logprobs = base.clone().requires_grad_(True)
        pg, _, _ = ppo_terms(logprobs, mask, [2, 1, 0], base.clone(), torch.tensor([1.0, -2.0, 0.5]), torch.zeros(3),
                             torch.zeros(3), torch.zeros(3), torch.ones(3), 0.3, 0.2, 0.2, None, lv)
        pg.backward()
        grads[lv] = logprobs.grad
    assert torch.allclose(grads["sequence"], grads["token"], atol=1e-6)
    # d loss / d logprob = -A * weight / B: thought tokens carry lambda (0.3), padding nothing
    assert grads[level][0].tolist() == pytest.approx([-0.1, -0.1, -1 / 3, -1 / 3], abs=1e-6)
    assert grads[level][2, 2:].abs().sum() == 0


def test_token_level_clipping_freezes_only_the_token_that_moved():
    old = torch.zeros(1, 3)
    logprobs = torch.tensor([[0.5, 0.0, 0.0]], requires_grad=True)  # token 0's ratio e^0.5 is past 1 + 0.2
    pg, _, stats = ppo_terms(logprobs, torch.ones(1, 3), [0], old, torch.tensor([1.0]), torch.zeros(1),
                             torch.zeros(1), torch.zeros(1), torch.ones(1), 1.0, 0.2, 0.2, None, "token")
    pg.backward()
    assert logprobs.grad[0, 0] == 0 and (logprobs.grad[0, 1:] < 0).all()
    assert stats["clip_frac"] == pytest.approx(1 / 3)


def test_explained_variance_by_hand():
    from mmrl.algos.ppo_terms import explained_variance

    # residuals [0, 0, 1]: variance 2/9; targets [1, 2, 4]: variance 14/9 -> 1 - 1/7
    assert explained_variance(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 2.0, 4.0])) == pytest.approx(6 / 7)
    assert explained_variance(torch.zeros(2), torch.ones(2)) == 0.0  # constant targets
