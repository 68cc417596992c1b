"""Candidate data mixtures for the pilot (proxy) runs of MoDoMoDo (arXiv 2505.24871).

The paper's pilot set is 11 seed mixtures for 5 domains: uniform, each domain alone and each leave-one-out.
We keep those and add Dirichlet samples (our own choice) so the quadratic surrogate sees the interior.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mmrl.mixtures.simplex import Bounds, check_bounds, in_bounds, project_to_simplex


def seed_mixtures(n_domains: int) -> np.ndarray:
    """The paper's seed mixtures (k, m): uniform, each single domain, each leave-one-out (uniform over the
    other ``m - 1`` domains). Duplicates (which occur for ``m <= 2``) are dropped, first occurrence kept."""
    m = _check_n_domains(n_domains)
    rows = [np.full(m, 1.0 / m)]
    rows += list(np.eye(m))
    if m >= 2:
        rows += [(1.0 - np.eye(m)[i]) / (m - 1) for i in range(m)]
    return _dedupe(np.array(rows))


def propose_mixtures(
    n_domains: int,
    n_random: int,
    concentration: float | Sequence[float] = 1.0,
    seed: int = 0,
    include_seeds: bool = True,
    bounds: Bounds | None = None,
) -> np.ndarray:
    """Mixtures to run as proxy jobs, shape (k, n_domains), each row on the simplex.

    Rows are the seed mixtures (see :func:`seed_mixtures`, when ``include_seeds``) followed by ``n_random``
    draws from ``Dirichlet(concentration)``; ``concentration`` is a scalar (symmetric; < 1 favours sparse
    mixtures, > 1 favours near-uniform ones) or one value per domain. The output is a deterministic function of
    the arguments (``seed`` drives a private ``numpy.random.Generator``).

    ``bounds``: optional per-domain ``(low, high)``. Random draws are kept by **rejection** (so they follow the
    Dirichlet restricted to the bounded region); a ``ValueError`` is raised if under 1 in 10,000 draws is
    accepted. Seed mixtures are points, not samples, so each seed outside the bounds is replaced by its
    **Euclidean projection** onto the bounded simplex, then duplicates are dropped.
    """
    m = _check_n_domains(n_domains)
    if n_random < 0:
        raise ValueError(f"n_random must be >= 0, got {n_random}")
    alpha = np.broadcast_to(np.asarray(concentration, dtype=float), (m,)).copy()
    if np.any(~np.isfinite(alpha)) or np.any(alpha <= 0):
        raise ValueError(f"concentration must be positive, got {concentration}")
    B = check_bounds(bounds, m)
    rng = np.random.default_rng(seed)

    parts = []
    if include_seeds:
        seeds = seed_mixtures(m)
        if bounds is not None:
            seeds = np.array([w if in_bounds(w, B)[0] else project_to_simplex(w, B) for w in seeds])
            seeds = _dedupe(seeds)
        parts.append(seeds)
    if n_random > 0:
        parts.append(_dirichlet_in_bounds(rng, alpha, n_random, B if bounds is not None else None))
    if not parts:
        return np.empty((0, m))
    return np.concatenate(parts, axis=0)


def _dirichlet_in_bounds(
    rng: np.random.Generator, alpha: np.ndarray, n: int, bounds: np.ndarray | None
) -> np.ndarray:
    if alpha.shape[0] == 1:
        return np.ones((n, 1))
    if bounds is None:
        return rng.dirichlet(alpha, size=n)
    kept: list[np.ndarray] = []
    drawn, max_draws = 0, 10_000 * n
    batch = max(64, 4 * n)
    while sum(len(k) for k in kept) < n:
        if drawn >= max_draws:
            raise ValueError(
                f"bounds reject almost every Dirichlet({alpha.tolist()}) draw: accepted "
                f"{sum(len(k) for k in kept)} of {drawn}; widen the bounds or change the concentration"
            )
        W = rng.dirichlet(alpha, size=batch)
        drawn += batch
        kept.append(W[in_bounds(W, bounds, atol=0.0)])
    return np.concatenate(kept, axis=0)[:n]


def _dedupe(W: np.ndarray) -> np.ndarray:
    _, first = np.unique(np.round(W, 12), axis=0, return_index=True)
    return W[np.sort(first)]


def _check_n_domains(n_domains: int) -> int:
    if int(n_domains) != n_domains or n_domains < 1:
        raise ValueError(f"n_domains must be a positive integer, got {n_domains}")
    return int(n_domains)
