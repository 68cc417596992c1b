"""Find the mixture a fitted surrogate scores highest (MoDoMoDo, arXiv 2505.24871).

The quadratic surrogate need not be concave, so a single local solve can stop at a poor corner. We run
SLSQP (equality ``sum(w) = 1`` plus box bounds) from many feasible starts — the uniform point, every vertex,
and seeded Dirichlet draws, each projected onto the bounded simplex — and keep the best feasible result.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from scipy.optimize import minimize

from mmrl.mixtures.simplex import Bounds, check_bounds, in_bounds, project_to_simplex


class Predictor(Protocol):
    def predict(self, W: np.ndarray) -> np.ndarray: ...


def optimize_mixture(
    predictor: Predictor,
    n_domains: int,
    bounds: Bounds | None = None,
    n_starts: int = 32,
    seed: int = 0,
) -> np.ndarray:
    """The mixture (n_domains,) maximising ``predictor.predict`` over the (bounded) simplex.

    ``bounds``: optional per-domain ``(low, high)``. ``n_starts`` Dirichlet(1) starts (seeded by ``seed``) are
    added to the uniform point and the ``n_domains`` vertices. A predictor with ``evaluate(W)`` (the model off
    the simplex, unchecked) and ``gradient(w)`` methods, as both mmrl predictors have, is solved with exact
    gradients; any other object with ``predict`` is scored at projected points and differenced numerically.
    Every result is projected back onto the feasible set before it is scored, so the returned point is feasible
    to ~1e-12. Raises ``ValueError`` for empty bounds.
    """
    m = int(n_domains)
    if m < 1:
        raise ValueError(f"n_domains must be >= 1, got {n_domains}")
    B = check_bounds(bounds, m)
    if m == 1:
        return np.ones(1)
    rng = np.random.default_rng(seed)
    starts = np.vstack(
        [np.full((1, m), 1.0 / m), np.eye(m), rng.dirichlet(np.ones(m), size=max(0, n_starts))]
    )
    starts = np.array([project_to_simplex(s, B) for s in starts])

    def score(w: np.ndarray) -> float:
        return float(predictor.predict(w[None, :])[0])

    # Iterates of SLSQP may leave the simplex slightly; evaluate the polynomial there if the predictor can,
    # else score the nearest feasible point.
    evaluate = getattr(predictor, "evaluate", None)
    if callable(evaluate):

        def objective(w: np.ndarray) -> float:
            return -float(evaluate(w[None, :])[0])
    else:

        def objective(w: np.ndarray) -> float:
            return -score(project_to_simplex(w, B))

    grad = getattr(predictor, "gradient", None)
    jac = (lambda w: -np.asarray(grad(w), dtype=float)) if callable(grad) and callable(evaluate) else None
    constraint = {"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones_like(w)}

    best_w, best_val = None, -np.inf
    for w0 in starts:
        candidates = [w0]
        res = minimize(
            objective,
            w0,
            jac=jac,
            method="SLSQP",
            bounds=[tuple(b) for b in B],
            constraints=[constraint],
            options={"maxiter": 200, "ftol": 1e-12},
        )
        if np.all(np.isfinite(res.x)):
            candidates.append(project_to_simplex(res.x, B))
        for w in candidates:
            if not in_bounds(w, B)[0]:
                continue
            val = score(w)
            if val > best_val:
                best_w, best_val = w, val
    return best_w
