"""Quadratic (Scheffé) and linear mixture surrogates: exact recovery, serialisation, CV, input checks."""

import json

import numpy as np
import pytest

from mmrl.mixtures import (
    LinearPredictor,
    QuadraticPredictor,
    cross_validate,
    predictor_from_dict,
    propose_mixtures,
    select_ridge,
)


def _quadratic(m, seed):
    """A random L(w) = a + b·w + wᵀCw in the paper's (non-identifiable) form, and its Scheffé coefficients."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(), rng.normal(size=m)
    A = rng.normal(size=(m, m))
    C = (A + A.T) / 2

    def f(W):
        W = np.atleast_2d(W)
        return a + W @ b + np.einsum("ki,ij,kj->k", W, C, W)

    # On the simplex a = a·sum(w) and w_i² = w_i - sum_{j≠i} w_i w_j, which gives:
    beta = a + b + np.diag(C)
    gamma = 2 * C - np.diag(C)[:, None] - np.diag(C)[None, :]
    np.fill_diagonal(gamma, 0.0)
    return f, beta, gamma


@pytest.mark.parametrize("m", [2, 3, 5])
def test_noiseless_fit_recovers_the_scheffe_coefficients(m):
    f, beta, gamma = _quadratic(m, seed=m)
    W = propose_mixtures(m, 40, seed=0)
    p = QuadraticPredictor(ridge=0.0).fit(W, f(W))
    np.testing.assert_allclose(p.linear, beta, atol=1e-8)
    np.testing.assert_allclose(p.interactions, gamma, atol=1e-8)
    W_new = propose_mixtures(m, 25, seed=1, include_seeds=False)
    np.testing.assert_allclose(p.predict(W_new), f(W_new), atol=1e-8)
    # The paper's (a, b, C) view evaluates to the same function.
    a, b, C = p.quadratic_form()
    np.testing.assert_allclose(a + W_new @ b + np.einsum("ki,ij,kj->k", W_new, C, W_new), f(W_new), atol=1e-8)


def test_gradient_matches_finite_differences():
    f, _, _ = _quadratic(4, seed=0)
    W = propose_mixtures(4, 30, seed=0)
    p = QuadraticPredictor(ridge=0.0).fit(W, f(W))
    w, h = np.array([0.1, 0.2, 0.3, 0.4]), 1e-6
    fd = [(p.evaluate(w + h * e)[0] - p.evaluate(w - h * e)[0]) / (2 * h) for e in np.eye(4)]
    np.testing.assert_allclose(p.gradient(w), fd, atol=1e-6)


def test_ridge_fits_with_fewer_runs_than_coefficients():
    f, _, _ = _quadratic(5, seed=1)
    W = propose_mixtures(5, 0)  # the 11 seeds; the quadratic has 15 coefficients
    p = QuadraticPredictor(ridge=1e-2).fit(W, f(W))
    assert np.all(np.isfinite(p.coef_))
    # Heavy ridge shrinks toward the constant mean score.
    flat = QuadraticPredictor(ridge=1e6).fit(W, f(W))
    np.testing.assert_allclose(flat.predict(W), f(W).mean(), atol=1e-3)


def test_terms_name_the_domains():
    names = ["coco", "lisa", "geoqa"]
    f, beta, gamma = _quadratic(3, seed=2)
    W = propose_mixtures(3, 20)
    p = QuadraticPredictor(ridge=0.0, domain_names=names).fit(W, f(W))
    terms = p.terms()
    assert list(terms["linear"]) == names
    assert set(terms["pairwise"]) == {("coco", "lisa"), ("coco", "geoqa"), ("lisa", "geoqa")}
    assert terms["pairwise"][("coco", "geoqa")] == pytest.approx(gamma[0, 2], abs=1e-8)
    assert terms["linear"]["lisa"] == pytest.approx(beta[1], abs=1e-8)
    lin = LinearPredictor().fit(W, f(W)).terms()
    assert list(lin["linear"]) == ["d0", "d1", "d2"] and lin["pairwise"] == {}


@pytest.mark.parametrize("cls", [QuadraticPredictor, LinearPredictor])
def test_round_trip_through_json(cls):
    f, _, _ = _quadratic(4, seed=3)
    W = propose_mixtures(4, 30)
    p = cls(ridge=1e-3, domain_names=["a", "b", "c", "d"]).fit(W, f(W))
    data = json.loads(json.dumps(p.to_dict()))
    q = cls.from_dict(data)
    r = predictor_from_dict(data)
    assert type(r) is cls and q.domain_names == ["a", "b", "c", "d"] and q.ridge == p.ridge
    np.testing.assert_array_equal(q.predict(W), p.predict(W))
    np.testing.assert_array_equal(r.predict(W), p.predict(W))
    with pytest.raises(ValueError, match="kind"):
        (LinearPredictor if cls is QuadraticPredictor else QuadraticPredictor).from_dict(data)
    with pytest.raises(ValueError, match="coef has"):
        cls.from_dict({**data, "coef": data["coef"][:-1]})


def test_cross_validation_prefers_the_quadratic_on_quadratic_data():
    f, _, _ = _quadratic(4, seed=4)
    rng = np.random.default_rng(0)
    W = propose_mixtures(4, 60, seed=0)
    y = f(W) + 0.01 * rng.normal(size=len(W))
    cv = cross_validate(W, y, k=5, seed=0)
    assert cv["k"] == 5 and cv["n"] == len(W) and len(cv["quadratic"]["fold_rmse"]) == 5
    assert cv["quadratic"]["rmse"] < 0.5 * cv["linear"]["rmse"]
    assert cv["quadratic"]["r2"] > 0.95 > cv["linear"]["r2"]
    assert cross_validate(W, y, k=5, seed=0) == cv  # deterministic folds


def test_select_ridge_picks_from_the_grid():
    f, _, _ = _quadratic(3, seed=5)
    W = propose_mixtures(3, 30)
    y = f(W) + 0.01 * np.random.default_rng(0).normal(size=len(W))
    grid = [1e-6, 1e-3, 1e3]
    r = select_ridge(W, y, ridges=grid)
    assert r in grid and r < 1e3  # a huge ridge flattens the fit


def test_bad_inputs_raise_clear_errors():
    W = propose_mixtures(3, 10)
    y = np.arange(len(W), dtype=float)
    p = QuadraticPredictor()
    with pytest.raises(RuntimeError, match="not fitted"):
        p.predict(W)
    with pytest.raises(ValueError, match="not on the simplex"):
        p.fit(W * 1.1, y)
    with pytest.raises(ValueError, match="negative"):
        p.fit(np.array([[1.2, -0.2, 0.0]] * 3), np.zeros(3))
    with pytest.raises(ValueError, match="y must have shape"):
        p.fit(W, y[:-1])
    with pytest.raises(ValueError, match="2-D"):
        p.fit(W[0], y[:1])
    with pytest.raises(ValueError, match="non-finite"):
        p.fit(W, np.where(y == 0, np.nan, y))
    with pytest.raises(ValueError, match="domain_names"):
        QuadraticPredictor(domain_names=["a", "b"]).fit(W, y)
    with pytest.raises(ValueError, match="ridge"):
        QuadraticPredictor(ridge=-1.0)
    p.fit(W, y)
    with pytest.raises(ValueError, match="expected 3"):
        p.predict(np.full((2, 4), 0.25))
    with pytest.raises(ValueError, match="y must have shape"):
        cross_validate(W, y[:-2])
    with pytest.raises(ValueError, match="too few"):
        cross_validate(W[:3], y[:3], k=5)
