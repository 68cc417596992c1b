"""Group-relative advantages (GRPO / Dr. GRPO), the collapse indicator, and GAE."""

import math

import pytest
import torch

from mmrl.algos import gae_advantages, group_relative_advantages, zero_advantage_group_fraction


def test_grpo_known_values():
    rewards = torch.tensor([1.0, 0.0, 1.0, 0.0, 3.0, 1.0])  # two groups of 3
    adv = group_relative_advantages(rewards, group_size=3, eps=0.0)
    # group 1: mean 2/3, population std sqrt(2/9)
    m, s = 2 / 3, math.sqrt(2 / 9)
    # group 2: values 0, 3, 1: mean 4/3, population std sqrt(((16 + 25 + 1) / 9) / 3) = sqrt(42/27)
    m2, s2 = 4 / 3, math.sqrt(42 / 27)
    expected = torch.tensor(
        [(1 - m) / s, (0 - m) / s, (1 - m) / s, (0 - m2) / s2, (3 - m2) / s2, (1 - m2) / s2]
    )
    torch.testing.assert_close(adv, expected)


def test_grpo_eps_and_unbiased_std():
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0])
    # squared deviations sum to 0.75: population std sqrt(0.75/4) = sqrt(3)/4; Bessel std sqrt(0.75/3) = 0.5
    pop = group_relative_advantages(rewards, 4, eps=0.1)
    torch.testing.assert_close(pop, (rewards - 0.25) / (math.sqrt(3) / 4 + 0.1))
    bessel = group_relative_advantages(rewards, 4, eps=0.0, unbiased_std=True)
    torch.testing.assert_close(bessel, (rewards - 0.25) / 0.5)
    torch.testing.assert_close(bessel, rewards.sub(0.25).div(rewards.std()))  # torch.std default == TRL/verl


def test_normalized_groups_have_zero_mean_unit_variance():
    rewards = torch.randn(8 * 5, generator=torch.Generator().manual_seed(0))
    adv = group_relative_advantages(rewards, 8, eps=0.0).view(5, 8)
    torch.testing.assert_close(adv.mean(dim=1), torch.zeros(5), atol=1e-6, rtol=0)
    torch.testing.assert_close(adv.var(dim=1, unbiased=False), torch.ones(5))


def test_drgrpo_is_mean_centering_only():
    rewards = torch.tensor([2.0, 0.0, 5.0, 5.0, 1.0, 3.0])
    adv = group_relative_advantages(rewards, 2, normalize_std=False)
    torch.testing.assert_close(adv, torch.tensor([1.0, -1.0, 0.0, 0.0, -1.0, 1.0]))


@pytest.mark.parametrize("normalize_std", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64])
def test_zero_variance_group_gives_exact_zero(normalize_std, dtype):
    # 0.1 is not representable: a naive (r - mean) / (std + eps) leaves rounding noise / eps
    rewards = torch.tensor([0.1, 0.1, 0.1, 0.7, 0.7, 0.7, 1.0, 0.0, 0.5], dtype=dtype)
    adv = group_relative_advantages(rewards, 3, normalize_std=normalize_std)
    assert torch.isfinite(adv).all()
    assert (adv[:6] == 0).all()
    assert adv[6] > 0 > adv[7]
    assert adv.dtype == dtype


def test_group_size_one_gives_zero():
    assert (group_relative_advantages(torch.tensor([1.0, 0.0, 3.0]), 1) == 0).all()
    with pytest.raises(ValueError, match="group_size >= 2"):
        group_relative_advantages(torch.tensor([1.0, 0.0]), 1, unbiased_std=True)


def test_integer_rewards_are_promoted():
    adv = group_relative_advantages(torch.tensor([1, 0]), 2, normalize_std=False)
    torch.testing.assert_close(adv, torch.tensor([0.5, -0.5]))


def test_bad_n_and_shape_errors():
    with pytest.raises(ValueError, match=r"number of rewards \(5\) must be a multiple of group_size \(2\)"):
        group_relative_advantages(torch.zeros(5), 2)
    with pytest.raises(ValueError, match="1-D"):
        group_relative_advantages(torch.zeros(2, 2), 2)
    with pytest.raises(ValueError, match="group_size must be >= 1"):
        group_relative_advantages(torch.zeros(2), 0)
    with pytest.raises(ValueError, match="multiple of group_size"):
        zero_advantage_group_fraction(torch.zeros(3), 2)


def test_zero_advantage_group_fraction():
    rewards = torch.tensor([1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.5, 0.5])
    assert zero_advantage_group_fraction(rewards, 2) == 0.75
    assert zero_advantage_group_fraction(rewards, 4) == 0.0
    assert zero_advantage_group_fraction(rewards, 1) == 1.0
    assert zero_advantage_group_fraction(torch.zeros(0), 4) == 0.0


def gae_loop(rewards, values, dones, gamma, lam):
    """Hand-unrolled GAE over a python list: values has T + 1 entries."""
    T = len(rewards)
    adv = [0.0] * T
    for t in range(T):
        total, discount = 0.0, 1.0
        for s in range(t, T):  # A_t = sum_s (gamma lam)^(s-t) delta_s, stopping after a terminal step
            nonterminal = 1.0 - dones[s]
            delta = rewards[s] + gamma * values[s + 1] * nonterminal - values[s]
            total += discount * delta
            if dones[s]:
                break
            discount *= gamma * lam
        adv[t] = total
    return adv, [a + v for a, v in zip(adv, values[:T])]


def test_gae_single_trajectory_matches_unrolled_loop():
    rewards = [0.0, 1.0, -0.5, 2.0]
    values = [0.3, -0.2, 0.8, 0.1, 0.6]  # last one bootstraps (truncated episode)
    dones = [0, 0, 0, 0]
    adv, ret = gae_advantages(
        torch.tensor(rewards), torch.tensor(values), torch.tensor(dones), gamma=0.9, lam=0.8
    )
    exp_adv, exp_ret = gae_loop(rewards, values, dones, 0.9, 0.8)
    torch.testing.assert_close(adv, torch.tensor(exp_adv))
    torch.testing.assert_close(ret, torch.tensor(exp_ret))


def test_gae_done_stops_bootstrapping_and_batch_rows_are_independent():
    rewards = torch.tensor([[1.0, 0.0, 2.0], [0.5, 0.5, 0.0]])
    values = torch.tensor([[0.2, 0.4, 0.1, 9.0], [0.0, 1.0, 0.0, 0.0]])
    dones = torch.tensor([[False, True, False], [False, False, True]])  # row 0: episode ends mid-row
    adv, ret = gae_advantages(rewards, values, dones, gamma=0.95, lam=0.9)
    for b in range(2):
        exp_adv, exp_ret = gae_loop(
            rewards[b].tolist(), values[b].tolist(), dones[b].float().tolist(), 0.95, 0.9
        )
        torch.testing.assert_close(adv[b], torch.tensor(exp_adv))
        torch.testing.assert_close(ret[b], torch.tensor(exp_ret))
    # by hand, row 0 step 1 (terminal): delta = 0 - 0.4; step 0: 1 + 0.95 * 0.4 - 0.2, plus 0.95 * 0.9 * A_1
    torch.testing.assert_close(adv[0, 1], torch.tensor(-0.4))
    torch.testing.assert_close(adv[0, 0], torch.tensor(1 + 0.95 * 0.4 - 0.2 + 0.95 * 0.9 * -0.4))


def test_gae_lambda_one_gamma_one_is_return_minus_value():
    rewards = torch.tensor([1.0, 2.0, 3.0])
    values = torch.tensor([0.5, 0.5, 0.5])
    adv, ret = gae_advantages(rewards, values, torch.tensor([0, 0, 1]), gamma=1.0, lam=1.0)
    torch.testing.assert_close(ret, torch.tensor([6.0, 5.0, 3.0]))
    torch.testing.assert_close(adv, torch.tensor([5.5, 4.5, 2.5]))


def test_gae_length_t_values_with_bootstrap():
    rewards = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    values = torch.tensor([[0.1, 0.2], [0.3, 0.4]])
    dones = torch.zeros(2, 2)
    bootstrap = torch.tensor([0.7, -0.3])
    adv, ret = gae_advantages(rewards, values, dones, gamma=0.9, lam=0.5, bootstrap_value=bootstrap)
    full = torch.cat([values, bootstrap[:, None]], dim=1)
    adv_full, ret_full = gae_advantages(rewards, full, dones, gamma=0.9, lam=0.5)
    torch.testing.assert_close(adv, adv_full)
    torch.testing.assert_close(ret, ret_full)
    # no bootstrap value means V(s_T) = 0
    adv0, _ = gae_advantages(rewards, values, dones, gamma=0.9, lam=0.5)
    adv0_full, _ = gae_advantages(
        rewards, torch.cat([values, torch.zeros(2, 1)], 1), dones, gamma=0.9, lam=0.5
    )
    torch.testing.assert_close(adv0, adv0_full)


def test_gae_zero_padding_gives_zero_advantage():
    rewards = torch.tensor([[1.0, 0.0, 0.0]])
    values = torch.tensor([[0.5, 0.0, 0.0, 0.0]])
    adv, _ = gae_advantages(rewards, values, torch.tensor([[1, 0, 0]]), gamma=0.99, lam=0.95)
    torch.testing.assert_close(adv, torch.tensor([[0.5, 0.0, 0.0]]))


def test_gae_shape_errors():
    with pytest.raises(ValueError, match="values must be shaped like rewards"):
        gae_advantages(torch.zeros(3), torch.zeros(5), torch.zeros(3), gamma=1.0, lam=1.0)
    with pytest.raises(ValueError, match="dones shape"):
        gae_advantages(torch.zeros(3), torch.zeros(4), torch.zeros(2), gamma=1.0, lam=1.0)
    with pytest.raises(ValueError, match="bootstrap_value is only used"):
        gae_advantages(
            torch.zeros(3), torch.zeros(4), torch.zeros(3), gamma=1.0, lam=1.0, bootstrap_value=1.0
        )


def test_leave_one_out_baseline_is_the_mean_of_the_other_samples():
    from mmrl.algos.advantages import leave_one_out_advantages

    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 2.0, 2.0])  # groups of 3
    # group 1: 1 - (0+0)/2 = 1, 0 - (1+0)/2 = -0.5 (twice); group 2: 1 - 2 = -1, 2 - 1.5 = 0.5 (twice)
    assert leave_one_out_advantages(rewards, 3).tolist() == pytest.approx([1.0, -0.5, -0.5, -1.0, 0.5, 0.5])
    assert leave_one_out_advantages(torch.tensor([3.0, 3.0]), 2).tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="group_size >= 2"):
        leave_one_out_advantages(rewards, 1)


def test_discounted_step_returns():
    from mmrl.algos.advantages import discounted_returns

    out = discounted_returns(torch.tensor([[0.0, 1.0, 2.0], [1.0, 0.0, 0.0]]), 0.5)
    # row 1: 0 + 0.5*1 + 0.25*2 = 1, 1 + 0.5*2 = 2, 2
    assert out.tolist() == [[1.0, 2.0, 2.0], [1.0, 0.0, 0.0]]


def test_anchor_groups_compare_each_step_with_its_state_group_and_singletons_get_zero():
    from mmrl.algos.advantages import anchor_group_advantages

    values = torch.tensor([1.0, 3.0, 5.0, 2.0, 4.0])
    ids = torch.tensor([7, 7, 9, 7, 2])  # group 7: {1, 3, 2} mean 2; groups 9 and 2 are singletons
    adv, sizes = anchor_group_advantages(values, ids)
    assert adv.tolist() == pytest.approx([-1.0, 1.0, 0.0, 0.0, 0.0])
    assert sizes.tolist() == [3.0, 3.0, 1.0, 3.0, 1.0]
    std_adv, _ = anchor_group_advantages(values, ids, normalize_std=True)
    # population std of {1, 3, 2} = sqrt(2/3)
    assert std_adv[0].item() == pytest.approx(-1.0 / (2 / 3) ** 0.5, rel=1e-5)


def test_kept_samples_alone_set_the_group_statistics():
    rewards = torch.tensor([1.0, 5.0, 0.0, 2.0, 3.0, 3.0])
    keep = torch.tensor([True, False, True, True, True, False])
    adv = group_relative_advantages(rewards, 3, keep=keep)
    # group 1 kept (1, 0): mean 0.5, std 0.5 -> +1, -1; group 2 kept (2, 3): +1, -1
    assert adv.tolist() == pytest.approx([1.0, 0.0, -1.0, -1.0, 1.0, 0.0], abs=1e-4)
    every = torch.ones(6, dtype=torch.bool)
    assert torch.equal(group_relative_advantages(rewards, 3, keep=every), group_relative_advantages(rewards, 3))
    assert group_relative_advantages(rewards, 3, keep=torch.zeros(6, dtype=torch.bool)).tolist() == [0.0] * 6
