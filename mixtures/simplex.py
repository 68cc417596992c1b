"""Checks and projections for mixture weights on the (bounded) probability simplex.

A mixture over ``m`` domains is a vector ``w`` with ``w_i >= 0`` and ``sum(w) == 1``. Per-domain bounds
``(low_i, high_i)`` cut a convex polytope out of that simplex; it is non-empty iff
``sum(low) <= 1 <= sum(high)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SIMPLEX_ATOL = 1e-6
"""Tolerance for "on the simplex": rows may sum to 1 +- this and dip this far below 0."""

Bounds = Sequence[tuple[float, float]]


def check_weights(W: np.ndarray, n_domains: int | None = None, name: str = "W") -> np.ndarray:
    """Return ``W`` as a float array of shape (k, m) after checking every row lies on the simplex.

    Raises ``ValueError`` naming the first offending row (negative entry, row sum != 1, non-finite) or a
    column count different from ``n_domains``.
    """
    W = np.asarray(W, dtype=float)
    if W.ndim != 2 or W.shape[0] == 0 or W.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (n_mixtures, n_domains), got shape {W.shape}")
    if n_domains is not None and W.shape[1] != n_domains:
        raise ValueError(f"{name} has {W.shape[1]} domains (columns), expected {n_domains}")
    if not np.all(np.isfinite(W)):
        raise ValueError(f"{name} contains non-finite values")
    bad_neg = np.flatnonzero(W.min(axis=1) < -SIMPLEX_ATOL)
    if bad_neg.size:
        i = int(bad_neg[0])
        raise ValueError(f"{name} row {i} is not on the simplex: negative weight {W[i].min():.3g}")
    sums = W.sum(axis=1)
    bad_sum = np.flatnonzero(np.abs(sums - 1.0) > SIMPLEX_ATOL)
    if bad_sum.size:
        i = int(bad_sum[0])
        raise ValueError(f"{name} row {i} is not on the simplex: weights sum to {sums[i]:.10g}, expected 1")
    return W


def check_bounds(bounds: Bounds | None, n_domains: int) -> np.ndarray:
    """Return bounds as an array (m, 2) of [low, high]; ``None`` means [0, 1] for every domain.

    Raises ``ValueError`` when the bounded simplex is empty or a bound lies outside [0, 1].
    """
    if bounds is None:
        return np.tile([0.0, 1.0], (n_domains, 1))
    B = np.asarray(bounds, dtype=float)
    if B.shape != (n_domains, 2):
        raise ValueError(f"bounds must be {n_domains} (low, high) pairs, got shape {B.shape}")
    low, high = B[:, 0], B[:, 1]
    if np.any(low < 0) or np.any(high > 1) or np.any(low > high):
        raise ValueError(f"each bound must satisfy 0 <= low <= high <= 1, got {B.tolist()}")
    if low.sum() > 1 + SIMPLEX_ATOL or high.sum() < 1 - SIMPLEX_ATOL:
        raise ValueError(
            f"bounds leave no mixture on the simplex: sum(low)={low.sum():.4g} must be <= 1 <= "
            f"sum(high)={high.sum():.4g}"
        )
    return B


def in_bounds(W: np.ndarray, bounds: np.ndarray, atol: float = SIMPLEX_ATOL) -> np.ndarray:
    """Boolean mask (k,) of rows of ``W`` (k, m) inside the per-domain ``bounds`` (m, 2)."""
    W = np.atleast_2d(W)
    return np.all((W >= bounds[:, 0] - atol) & (W <= bounds[:, 1] + atol), axis=1)


def project_to_simplex(v: np.ndarray, bounds: np.ndarray | None = None) -> np.ndarray:
    """Euclidean projection of ``v`` (m,) onto {w : sum(w) = 1, low <= w <= high}.

    The projection is ``clip(v - tau, low, high)`` for the scalar ``tau`` that makes it sum to 1; the sum is
    monotone in ``tau``, so ``tau`` is found by bisection.
    """
    v = np.asarray(v, dtype=float)
    B = check_bounds(None if bounds is None else bounds, v.shape[0])
    low, high = B[:, 0], B[:, 1]

    def total(tau: float) -> float:
        return float(np.clip(v - tau, low, high).sum())

    lo_tau, hi_tau = float(np.min(v - high)) - 1.0, float(np.max(v - low)) + 1.0  # total(lo)>=1>=total(hi)
    for _ in range(200):
        mid = 0.5 * (lo_tau + hi_tau)
        if total(mid) > 1.0:
            lo_tau = mid
        else:
            hi_tau = mid
        if hi_tau - lo_tau < 1e-15:
            break
    w = np.clip(v - 0.5 * (lo_tau + hi_tau), low, high)
    # Spread the tiny bisection residual over the coordinates that still have room.
    free = (w > low) & (w < high)
    if free.any():
        w[free] += (1.0 - w.sum()) / free.sum()
        w = np.clip(w, low, high)
    return w
