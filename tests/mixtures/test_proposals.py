"""Seed and Dirichlet mixture proposals, and the simplex helpers they rest on."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmrl.mixtures import propose_mixtures, seed_mixtures
from mmrl.mixtures.simplex import check_bounds, check_weights, in_bounds, project_to_simplex


def _contains_row(W, row):
    return bool(np.any(np.all(np.isclose(W, row, atol=1e-12), axis=1)))


def test_seed_mixtures_match_the_paper_for_five_domains():
    S = seed_mixtures(5)
    assert S.shape == (11, 5)  # uniform + 5 single + 5 leave-one-out
    np.testing.assert_allclose(S[0], np.full(5, 0.2))
    np.testing.assert_allclose(S[1:6], np.eye(5))
    for i in range(5):
        loo = np.full(5, 0.25)
        loo[i] = 0.0
        np.testing.assert_allclose(S[6 + i], loo)


@pytest.mark.parametrize(("m", "expected"), [(1, [[1.0]]), (2, [[0.5, 0.5], [1.0, 0.0], [0.0, 1.0]])])
def test_seeds_are_deduplicated_for_small_m(m, expected):
    np.testing.assert_allclose(seed_mixtures(m), expected)


@pytest.mark.parametrize("m", [1, 2, 3, 6])
def test_proposals_contain_the_seeds_then_random_rows_on_the_simplex(m):
    W = propose_mixtures(m, n_random=20, seed=3)
    seeds = seed_mixtures(m)
    assert W.shape == (len(seeds) + 20, m)
    np.testing.assert_array_equal(W[: len(seeds)], seeds)
    check_weights(W)  # raises if any row is off the simplex


def test_proposals_are_deterministic_in_the_seed():
    a = propose_mixtures(4, 30, concentration=0.5, seed=7)
    b = propose_mixtures(4, 30, concentration=0.5, seed=7)
    c = propose_mixtures(4, 30, concentration=0.5, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a[-30:], c[-30:])


def test_include_seeds_false_gives_only_random_rows():
    W = propose_mixtures(3, 10, seed=0, include_seeds=False)
    assert W.shape == (10, 3)
    assert propose_mixtures(3, 0, include_seeds=False).shape == (0, 3)


def test_concentration_controls_sparsity():
    sparse = propose_mixtures(5, 2000, concentration=0.1, include_seeds=False)
    dense = propose_mixtures(5, 2000, concentration=10.0, include_seeds=False)
    assert sparse.max(axis=1).mean() > 0.7
    assert dense.max(axis=1).mean() < 0.4
    # One value per domain: the mean of Dirichlet(alpha) is alpha / sum(alpha).
    W = propose_mixtures(3, 4000, concentration=[1.0, 2.0, 5.0], include_seeds=False)
    np.testing.assert_allclose(W.mean(axis=0), [0.125, 0.25, 0.625], atol=0.02)


def test_bounds_are_respected_by_rejection_and_seeds_projected():
    bounds = [(0.1, 0.6), (0.0, 0.5), (0.2, 1.0)]
    W = propose_mixtures(3, 50, seed=1, bounds=bounds)
    B = check_bounds(bounds, 3)
    check_weights(W)
    assert in_bounds(W, B).all()
    assert len(W) >= 50  # seeds may merge after projection, random rows never do
    # The uniform seed is inside the bounds, so it is kept unchanged.
    assert _contains_row(W, np.full(3, 1 / 3))


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="no mixture"):
        propose_mixtures(3, 5, bounds=[(0.5, 1.0), (0.5, 1.0), (0.5, 1.0)])
    with pytest.raises(ValueError, match="reject almost every"):
        propose_mixtures(3, 5, bounds=[(0.0, 1.0), (0.0, 1.0), (0.99, 1.0)], concentration=10.0)
    with pytest.raises(ValueError, match="concentration"):
        propose_mixtures(3, 5, concentration=0.0)
    with pytest.raises(ValueError, match="n_domains"):
        propose_mixtures(0, 5)
    with pytest.raises(ValueError, match="bounds must be 3"):
        propose_mixtures(3, 5, bounds=[(0.0, 1.0)])


def test_check_weights_names_the_bad_row():
    with pytest.raises(ValueError, match="row 1 .*sum to 1.1"):
        check_weights(np.array([[0.5, 0.5], [0.6, 0.5]]))
    with pytest.raises(ValueError, match="row 0 .*negative"):
        check_weights(np.array([[1.5, -0.5]]))
    with pytest.raises(ValueError, match="2-D"):
        check_weights(np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="expected 3"):
        check_weights(np.array([[0.5, 0.5]]), n_domains=3)


@settings(max_examples=60, deadline=None)
@given(
    v=st.lists(st.floats(-3, 3), min_size=4, max_size=4),
    lows=st.lists(st.floats(0, 0.2), min_size=4, max_size=4),
    widths=st.lists(st.floats(0.05, 1), min_size=4, max_size=4),
)
def test_projection_lands_in_the_bounded_simplex(v, lows, widths):
    B = np.column_stack([lows, np.minimum(np.add(lows, widths), 1.0)])
    if B[:, 1].sum() < 1:
        return  # empty region: check_bounds raises, covered above
    w = project_to_simplex(np.array(v), B)
    assert abs(w.sum() - 1) < 1e-9
    assert in_bounds(w, B, atol=1e-12).all()
    np.testing.assert_allclose(project_to_simplex(w, B), w, atol=1e-9)  # idempotent
