"""Masked means, loss aggregation modes, the clipped policy loss, value loss and SFT loss on tiny tensors."""

import pytest
import torch

from mmrl.algos import aggregate_loss, clipped_policy_loss, masked_mean, sft_loss, value_loss

LOSS = torch.tensor([[1.0, 2.0, 3.0, 99.0], [4.0, 99.0, 99.0, 99.0], [5.0, 6.0, 7.0, 8.0]])
MASK = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1]])


def test_masked_mean():
    torch.testing.assert_close(masked_mean(LOSS, MASK), torch.tensor(36.0 / 8))
    torch.testing.assert_close(masked_mean(LOSS, MASK.bool(), dim=1), torch.tensor([2.0, 4.0, 6.5]))
    torch.testing.assert_close(masked_mean(LOSS, MASK, dim=0), torch.tensor([10 / 3, 4.0, 5.0, 8.0]))


def test_masked_mean_empty_mask_is_zero_with_finite_grad():
    x = torch.tensor([[1.0, float("-inf")], [float("nan"), 2.0]], requires_grad=True)
    mask = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    per_row = masked_mean(x, mask, dim=1)
    torch.testing.assert_close(per_row.detach(), torch.tensor([1.0, 0.0]))  # inf/nan under the mask ignored
    per_row.sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
    assert masked_mean(torch.ones(3), torch.zeros(3)).item() == 0.0


def test_aggregate_token_mean():
    # (1+2+3+4+5+6+7+8) / 8 tokens
    torch.testing.assert_close(aggregate_loss(LOSS, MASK, "token-mean"), torch.tensor(4.5))


def test_aggregate_seq_mean_token_mean():
    # per sequence: 2, 4, 6.5 -> mean 12.5 / 3
    torch.testing.assert_close(aggregate_loss(LOSS, MASK, "seq-mean-token-mean"), torch.tensor(12.5 / 3))


def test_aggregate_seq_mean_token_sum():
    # per sequence: 6, 4, 26 -> mean 12
    torch.testing.assert_close(aggregate_loss(LOSS, MASK, "seq-mean-token-sum"), torch.tensor(12.0))


@pytest.mark.parametrize("mode", ["token-mean", "seq-mean-token-mean", "seq-mean-token-sum"])
def test_aggregate_skips_empty_sequences(mode):
    loss = torch.cat([LOSS, torch.full((1, 4), 50.0)])
    mask = torch.cat([MASK, torch.zeros(1, 4, dtype=MASK.dtype)])
    torch.testing.assert_close(aggregate_loss(loss, mask, mode), aggregate_loss(LOSS, MASK, mode))
    assert aggregate_loss(loss, torch.zeros_like(mask), mode).item() == 0.0


def test_aggregate_errors():
    with pytest.raises(ValueError, match="unknown loss aggregation mode 'mean'"):
        aggregate_loss(LOSS, MASK, "mean")
    with pytest.raises(ValueError, match=r"must both be \(B, T\)"):
        aggregate_loss(LOSS[0], MASK[0], "token-mean")


def policy_case(ratios, advantages, clip_low=0.2, clip_high=0.28, agg="token-mean", mask=None):
    ratios = torch.tensor(ratios)
    old = torch.full_like(ratios, -1.0)
    logprobs = (old + ratios.log()).requires_grad_(True)
    mask = torch.ones_like(ratios) if mask is None else torch.tensor(mask, dtype=torch.float32)
    loss, stats = clipped_policy_loss(logprobs, old, torch.tensor(advantages), mask, clip_low, clip_high, agg)
    loss.backward()
    return loss, stats, logprobs.grad


def test_clipped_loss_gradient_zero_exactly_where_clipped():
    # one sequence with A > 0, one with A < 0; ratios span below, inside and above [0.8, 1.28]
    ratios = [[0.5, 1.0, 1.2, 1.5], [0.5, 0.9, 1.0, 1.5]]
    loss, stats, grad = policy_case(ratios, [2.0, -1.0])
    # A > 0: ratio 1.5 > 1.28 is clipped (no grad); ratio 0.5 < 0.8 is NOT (min picks the lower unclipped term)
    # A < 0: ratio 0.5 < 0.8 is clipped (no grad); ratio 1.5 > 1.28 is NOT
    # d(-A * ratio)/d logp = -A * ratio, divided by 8 tokens (token-mean)
    expected = torch.tensor([[-2 * 0.5, -2 * 1.0, -2 * 1.2, 0.0], [0.0, 0.9, 1.0, 1.5]]) / 8
    torch.testing.assert_close(grad, expected)
    # loss by hand: A=2 row: -2 * [0.5, 1.0, 1.2, 1.28]; A=-1 row: [0.8, 0.9, 1.0, 1.5]
    by_hand = (-2 * (0.5 + 1.0 + 1.2 + 1.28) + (0.8 + 0.9 + 1.0 + 1.5)) / 8
    torch.testing.assert_close(loss.detach(), torch.tensor(by_hand))
    torch.testing.assert_close(stats["clip_frac"], torch.tensor(2 / 8))
    torch.testing.assert_close(stats["ratio_mean"], torch.tensor(sum(map(sum, ratios)) / 8))
    assert all(not v.requires_grad for v in stats.values())


def test_clipped_loss_asymmetric_range():
    # ratio 1.25 is clipped with symmetric 0.2 but not with DAPO's clip_high 0.28
    _, _, grad_sym = policy_case([[1.25]], [1.0], clip_low=0.2, clip_high=0.2)
    _, _, grad_dapo = policy_case([[1.25]], [1.0], clip_low=0.2, clip_high=0.28)
    assert grad_sym.item() == 0.0
    torch.testing.assert_close(grad_dapo, torch.tensor([[-1.25]]))


def test_clipped_loss_on_policy_equals_minus_advantage():
    # ratio 1 everywhere: loss = -mean advantage over tokens, approx_kl = 0
    loss, stats, _ = policy_case([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]], [1.5, -0.5], mask=[[1, 1, 0], [1, 1, 1]])
    torch.testing.assert_close(loss.detach(), torch.tensor((-1.5 * 2 + 0.5 * 3) / 5))
    torch.testing.assert_close(stats["approx_kl"], torch.tensor(0.0))
    torch.testing.assert_close(stats["clip_frac"], torch.tensor(0.0))


def test_clipped_loss_aggregation_and_per_token_advantages():
    ratios = torch.tensor([[1.0, 1.1, 0.9], [1.0, 1.0, 1.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    old = torch.zeros_like(ratios)
    adv_seq = torch.tensor([1.0, -2.0])
    adv_tok = adv_seq[:, None].expand(2, 3)
    for mode in ["token-mean", "seq-mean-token-mean", "seq-mean-token-sum"]:
        loss_seq, _ = clipped_policy_loss(ratios.log(), old, adv_seq, mask, 0.2, 0.2, mode)
        loss_tok, _ = clipped_policy_loss(ratios.log(), old, adv_tok, mask, 0.2, 0.2, mode)
        torch.testing.assert_close(loss_seq, loss_tok)
        torch.testing.assert_close(loss_seq, aggregate_loss(-adv_tok * ratios, mask, mode))


def test_clipped_loss_approx_kl_is_k3_of_old_vs_new():
    ratios = torch.tensor([[0.5, 2.0]])
    _, stats = clipped_policy_loss(
        ratios.log(), torch.zeros(1, 2), torch.tensor([0.0]), torch.ones(1, 2), 0.2, 0.2, "token-mean"
    )
    expected = ((ratios - 1) - ratios.log()).mean()
    torch.testing.assert_close(stats["approx_kl"], expected)


def test_clipped_loss_shape_errors():
    with pytest.raises(ValueError, match="same"):
        clipped_policy_loss(
            torch.zeros(2, 3), torch.zeros(2, 2), torch.zeros(2), torch.ones(2, 3), 0.2, 0.2, "token-mean"
        )
    with pytest.raises(ValueError, match="advantages"):
        clipped_policy_loss(
            torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(3), torch.ones(2, 3), 0.2, 0.2, "token-mean"
        )


def test_value_loss_clipping():
    old = torch.tensor([[1.0, 1.0, 1.0, 1.0]])
    values = torch.tensor([[1.5, 1.1, 0.5, 3.0]], requires_grad=True)
    returns = torch.tensor([[2.0, 0.0, 0.0, 9.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    loss, stats = value_loss(values, old, returns, mask, clip=0.2)
    # entry 0: v moved +0.5 toward the target; clipped v = 1.2, error 0.8^2 > 0.5^2 -> clipped branch, no grad
    # entry 1: v moved +0.1 (inside the clip range): both errors 1.1^2, gradient flows
    # entry 2: v moved -0.5 toward the target 0; clipped v = 0.8, error 0.64 > 0.25 -> clipped, no grad
    by_hand = 0.5 * (0.8**2 + 1.1**2 + 0.8**2) / 3
    torch.testing.assert_close(loss.detach(), torch.tensor(by_hand))
    loss.backward()
    torch.testing.assert_close(values.grad, torch.tensor([[0.0, 1.1 / 3, 0.0, 0.0]]))
    torch.testing.assert_close(stats["clip_frac"], torch.tensor(2 / 3))


def test_value_loss_moving_away_is_not_clipped():
    # a prediction moving away from the target keeps the (larger) unclipped error and its gradient
    values = torch.tensor([2.0], requires_grad=True)
    loss, stats = value_loss(values, torch.tensor([1.0]), torch.tensor([0.0]), torch.ones(1), clip=0.2)
    torch.testing.assert_close(loss.detach(), torch.tensor(0.5 * 4.0))
    loss.backward()
    torch.testing.assert_close(values.grad, torch.tensor([2.0]))
    assert stats["clip_frac"].item() == 0.0


def test_value_loss_unclipped():
    values = torch.tensor([1.5, 0.0])
    loss, stats = value_loss(values, torch.zeros(2), torch.tensor([0.5, 1.0]), torch.ones(2), clip=None)
    torch.testing.assert_close(loss, torch.tensor(0.5 * (1.0 + 1.0) / 2))
    assert stats["clip_frac"].item() == 0.0


def test_sft_loss():
    logprobs = torch.tensor([[-1.0, -2.0, float("-inf")], [-0.5, -0.5, -3.0]], requires_grad=True)
    mask = torch.tensor([[1, 1, 0], [0, 1, 1]])
    loss = sft_loss(logprobs, mask)
    torch.testing.assert_close(loss.detach(), torch.tensor((1 + 2 + 0.5 + 3) / 4))
    loss.backward()
    torch.testing.assert_close(logprobs.grad, -mask.float() / 4)
