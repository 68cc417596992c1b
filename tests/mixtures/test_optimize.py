"""Multi-start optimisation over the simplex, and end-to-end recovery of a known quadratic's optimum:
propose mixtures -> noisy scores -> fit the surrogate -> optimise it -> score the result on the true function."""

import itertools

import numpy as np
import pytest
from scipy.optimize import minimize

from mmrl.mixtures import LinearPredictor, QuadraticPredictor, optimize_mixture, propose_mixtures
from mmrl.mixtures.simplex import check_bounds, in_bounds

NOISE = 0.02  # std of the score noise; the true functions vary by ~0.3-1 over the simplex
SAMPLES = {3: 40, 6: 120}  # total proxy runs, seeds included


def _true_quadratic(m, concave, seed):
    """L(w) = b·w + wᵀCw with scores around 1: C negative semi-definite (concave) or indefinite."""
    rng = np.random.default_rng(seed)
    b = 1.0 + 0.3 * rng.normal(size=m)
    A = rng.normal(size=(m, m))
    C = -0.5 * A @ A.T / m if concave else 0.3 * (A + A.T)
    if not concave:
        assert np.linalg.eigvalsh(C).max() > 0  # really non-concave

    def f(W):
        W = np.atleast_2d(W)
        return W @ b + np.einsum("ki,ij,kj->k", W, C, W)

    return f


def _simplex_grid(m, n):
    """All mixtures with weights in multiples of 1/n."""
    rows = []
    for c in itertools.combinations_with_replacement(range(m), n):
        rows.append(np.bincount(c, minlength=m))
    return np.array(rows, dtype=float) / n


def _true_max(f, m, bounds=None):
    """Dense grid search, then SLSQP polish of the 10 best grid points: independent of optimize_mixture."""
    B = check_bounds(bounds, m)
    G = _simplex_grid(m, 90 if m == 3 else 15)
    G = G[in_bounds(G, B)]
    v = f(G)
    best = v.max()
    for w0 in G[np.argsort(v)[-10:]]:
        res = minimize(
            lambda w: -f(w)[0],
            w0,
            method="SLSQP",
            bounds=[tuple(b) for b in B],
            constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0}],
        )
        w = np.clip(res.x, B[:, 0], B[:, 1])
        if abs(w.sum() - 1) < 1e-6:
            best = max(best, f(w)[0])
    return best


def _recovery_gap(m, concave, seed):
    f = _true_quadratic(m, concave, seed=1000 + seed)
    n_seeds = len(propose_mixtures(m, 0))
    W = propose_mixtures(m, SAMPLES[m] - n_seeds, seed=seed)
    y = f(W) + NOISE * np.random.default_rng(seed).normal(size=len(W))
    w = optimize_mixture(QuadraticPredictor().fit(W, y), m, seed=seed)
    true_max = _true_max(f, m)
    return true_max - f(w)[0], true_max


@pytest.mark.parametrize("concave", [True, False], ids=["concave", "nonconcave"])
@pytest.mark.parametrize("m", [3, 6])
@pytest.mark.parametrize("seed", range(4))
def test_fitted_surrogate_recovers_the_true_optimum(m, concave, seed):
    gap, true_max = _recovery_gap(m, concave, seed)
    assert gap <= 0.02 * abs(true_max), f"gap {gap:.4f} vs true max {true_max:.4f}"


def test_quadratic_beats_linear_at_an_interior_optimum():
    # Strongly concave with an interior peak: a linear surrogate can only return a vertex.
    m = 3

    def f(W):
        return 1.0 - 4.0 * np.sum((np.atleast_2d(W) - np.array([0.5, 0.3, 0.2])) ** 2, axis=1)

    W = propose_mixtures(m, 37, seed=0)
    y = f(W) + NOISE * np.random.default_rng(0).normal(size=len(W))
    w_quad = optimize_mixture(QuadraticPredictor().fit(W, y), m)
    w_lin = optimize_mixture(LinearPredictor().fit(W, y), m)
    assert f(w_quad)[0] >= 0.98
    assert f(w_quad)[0] > f(w_lin)[0] + 0.1
    np.testing.assert_allclose(w_quad, [0.5, 0.3, 0.2], atol=0.05)


@pytest.mark.parametrize("concave", [True, False], ids=["concave", "nonconcave"])
def test_optimiser_respects_bounds_and_finds_the_bounded_maximum(concave):
    m = 3
    bounds = [(0.1, 0.5), (0.0, 0.3), (0.2, 0.9)]
    f = _true_quadratic(m, concave, seed=7)
    W = propose_mixtures(m, 30)
    p = QuadraticPredictor(ridge=0.0).fit(W, f(W))  # noiseless: the surrogate is f
    w = optimize_mixture(p, m, bounds=bounds)
    assert w.shape == (m,)
    assert abs(w.sum() - 1) < 1e-9
    assert in_bounds(w, check_bounds(bounds, m), atol=1e-12).all()
    assert f(w)[0] >= _true_max(f, m, bounds) - 1e-6


def test_linear_surrogate_under_bounds_fills_the_best_domain_first():
    # Known answer: lows first, then the remaining mass to the highest-scoring domain up to its cap, etc.
    p = LinearPredictor().fit(np.eye(3), np.array([0.2, 0.9, 0.5]))
    w = optimize_mixture(p, 3, bounds=[(0.1, 1.0), (0.0, 0.4), (0.0, 1.0)])
    np.testing.assert_allclose(w, [0.1, 0.4, 0.5], atol=1e-7)


def test_any_object_with_predict_can_be_optimised():
    class OnlyPredict:
        """Rejects off-simplex inputs, like a model that validates them."""

        def predict(self, W):
            W = np.atleast_2d(W)
            assert np.allclose(W.sum(axis=1), 1.0) and W.min() >= -1e-12
            return -np.sum((W - np.array([0.1, 0.2, 0.3, 0.4])) ** 2, axis=1)

    w = optimize_mixture(OnlyPredict(), 4, seed=0)
    np.testing.assert_allclose(w, [0.1, 0.2, 0.3, 0.4], atol=1e-4)


def test_optimiser_is_deterministic_and_handles_edge_cases():
    f = _true_quadratic(4, concave=False, seed=3)
    W = propose_mixtures(4, 30)
    p = QuadraticPredictor().fit(W, f(W))
    np.testing.assert_array_equal(optimize_mixture(p, 4, seed=5), optimize_mixture(p, 4, seed=5))
    np.testing.assert_array_equal(optimize_mixture(p, 1), [1.0])
    with pytest.raises(ValueError, match="no mixture"):
        optimize_mixture(p, 4, bounds=[(0.3, 1.0)] * 4)
