"""KL estimators k1, k2, k3 (Schulman 2020) on hand values and Monte Carlo samples."""

import pytest
import torch

from mmrl.algos import kl_penalty


def test_hand_values():
    logp = torch.tensor([[-1.0, -2.0]])
    ref = torch.tensor([[-2.0, -1.0]])
    torch.testing.assert_close(kl_penalty(logp, ref, "k1"), torch.tensor([[1.0, -1.0]]))
    torch.testing.assert_close(kl_penalty(logp, ref, "k2"), torch.tensor([[0.5, 0.5]]))
    e = torch.exp(torch.tensor(1.0))
    torch.testing.assert_close(kl_penalty(logp, ref, "k3"), torch.tensor([[1 / e - (-1) - 1, e - 1 - 1]]))


def test_identical_policies_give_zero():
    x = torch.randn(4, 5)
    for est in ["k1", "k2", "k3"]:
        assert (kl_penalty(x, x, est) == 0).all()


def test_k3_nonnegative_and_finite():
    gen = torch.Generator().manual_seed(0)
    logp = torch.cat([torch.randn(1000, generator=gen) * s for s in (1e-6, 1e-3, 1.0, 30.0, 300.0)])
    ref = torch.cat([torch.randn(1000, generator=gen) * s for s in (1e-6, 1e-3, 1.0, 30.0, 300.0)])
    for dtype in (torch.float32, torch.bfloat16, torch.float16):
        k3 = kl_penalty(logp.to(dtype), ref.to(dtype), "k3")
        assert (k3 >= 0).all() and torch.isfinite(k3).all()


def test_estimators_match_true_kl_on_samples():
    """Tokens sampled from a small categorical pi: mean of k1 and k3 ~ KL(pi || pi_ref); k3 varies less."""
    gen = torch.Generator().manual_seed(0)
    pi = torch.tensor([0.5, 0.3, 0.15, 0.05])
    ref = torch.tensor([0.25, 0.25, 0.25, 0.25])
    true_kl = (pi * (pi / ref).log()).sum()
    tokens = torch.multinomial(pi, 200_000, replacement=True, generator=gen)  # (N,)
    logp, ref_logp = pi.log()[tokens], ref.log()[tokens]  # (N,)
    k1 = kl_penalty(logp, ref_logp, "k1")
    k2 = kl_penalty(logp, ref_logp, "k2")
    k3 = kl_penalty(logp, ref_logp, "k3")
    torch.testing.assert_close(k1.mean(), true_kl, atol=0.01, rtol=0)
    torch.testing.assert_close(k3.mean(), true_kl, atol=0.01, rtol=0)
    torch.testing.assert_close(k2.mean(), true_kl, atol=0.05, rtol=0)  # biased, but close for nearby policies
    assert k3.var() < k1.var()
    # exact expectations under pi, no sampling: E[k1] = E[k3] = KL exactly
    exact_k3 = (pi * kl_penalty(pi.log(), ref.log(), "k3")).sum()
    torch.testing.assert_close(exact_k3, true_kl)


def test_k3_gradient_matches_reverse_kl_direction():
    # d k3 / d logp = 1 - exp(ref - logp): pushes logp down where the policy exceeds the reference
    logp = torch.tensor([-0.5, -3.0], requires_grad=True)
    ref = torch.tensor([-1.0, -1.0])
    kl_penalty(logp, ref, "k3").sum().backward()
    torch.testing.assert_close(logp.grad, 1 - torch.exp(ref - logp.detach()))
    assert logp.grad[0] > 0 > logp.grad[1]


def test_errors():
    with pytest.raises(ValueError, match="unknown KL estimator 'k4'"):
        kl_penalty(torch.zeros(2), torch.zeros(2), "k4")
    with pytest.raises(ValueError, match="differ"):
        kl_penalty(torch.zeros(2), torch.zeros(3), "k1")
