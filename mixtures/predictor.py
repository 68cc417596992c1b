"""Surrogate models mapping a data mixture to the score of a proxy run (MoDoMoDo, arXiv 2505.24871).

The paper fits ``L(w) = a + b·w + wᵀCw`` by least squares. On the simplex that form is not identifiable:
``sum(w) = 1`` makes the intercept a copy of ``sum_i w_i`` and each square ``w_i**2`` a copy of
``w_i - sum_{j != i} w_i w_j``. We therefore fit the equivalent **Scheffé** mixture polynomial

    L(w) = sum_i beta_i w_i + sum_{i<j} gamma_ij w_i w_j

which has exactly one set of coefficients for each quadratic function on the simplex (``m + m(m-1)/2``
of them) and reads directly: ``beta_i`` is the predicted score of domain ``i`` alone, ``gamma_ij`` the
synergy of ``i`` and ``j`` (at a 50/50 blend the score is ``(beta_i + beta_j)/2 + gamma_ij/4``). In the paper's
notation it is ``a = 0``, ``b = beta``, ``C_ij = gamma_ij / 2`` (zero diagonal); see
:meth:`QuadraticPredictor.quadratic_form`.

Fitting is ridge regression, so a fit works with fewer runs than coefficients: features are scaled to unit
root-mean-square, ``y`` is centred (the mean score is representable exactly, ``beta_i += c`` for all ``i``, so
coefficients shrink toward "every mixture scores the mean" rather than toward 0), and ``ridge`` is the penalty
per sample on the scaled coefficients.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np

from mmrl.mixtures.simplex import check_weights

DEFAULT_RIDGE = 1e-3
_P = TypeVar("_P", bound="_MixturePredictor")
DEFAULT_RIDGE_GRID = tuple(float(r) for r in np.logspace(-6, 1, 15))


class _MixturePredictor:
    """Shared fitting machinery: subclasses define the features of a mixture."""

    kind = ""

    def __init__(self, ridge: float = DEFAULT_RIDGE, domain_names: Sequence[str] | None = None) -> None:
        if not np.isfinite(ridge) or ridge < 0:
            raise ValueError(f"ridge must be a finite number >= 0, got {ridge}")
        self.ridge = float(ridge)
        self.domain_names = None if domain_names is None else [str(n) for n in domain_names]
        self.coef_: np.ndarray | None = None
        self.n_domains: int | None = None

    # --- to override -----------------------------------------------------------------------------------
    def _features(self, W: np.ndarray) -> np.ndarray:  # (k, m) -> (k, p)
        raise NotImplementedError

    def _set_coef(self, coef: np.ndarray) -> None:
        self.coef_ = coef

    # --- public ------------------------------------------------------------------------------------------
    def fit(self: _P, W: np.ndarray, y: np.ndarray) -> _P:
        """Fit on mixtures ``W`` (k, m), rows on the simplex, and their scores ``y`` (k,). Returns ``self``."""
        W = check_weights(W, name="W")
        y = np.asarray(y, dtype=float)
        if y.ndim != 1 or y.shape[0] != W.shape[0]:
            raise ValueError(f"y must have shape ({W.shape[0]},) to match W {W.shape}, got {y.shape}")
        if not np.all(np.isfinite(y)):
            raise ValueError("y contains non-finite values")
        m = W.shape[1]
        if self.domain_names is not None and len(self.domain_names) != m:
            raise ValueError(f"{len(self.domain_names)} domain_names for {m} domains")
        self.n_domains = m
        X = self._features(W)  # (k, p)
        scale = np.sqrt(np.mean(X**2, axis=0))  # (p,)
        scale[scale == 0] = 1.0  # a feature never seen: its coefficient is left to the ridge (-> 0)
        Xs = X / scale
        y_mean = float(y.mean())
        n, p = Xs.shape
        # lstsq on the augmented system [Xs; sqrt(n*ridge) I] is the ridge solution, stable when ridge == 0.
        A = np.vstack([Xs, np.sqrt(n * self.ridge) * np.eye(p)])
        b = np.concatenate([y - y_mean, np.zeros(p)])
        theta = np.linalg.lstsq(A, b, rcond=None)[0] / scale
        theta[:m] += y_mean  # linear features sum to 1, so a constant shift lives in the linear block
        self._set_coef(theta)
        return self

    def predict(self, W: np.ndarray) -> np.ndarray:
        """Predicted scores (k,) for mixtures ``W`` (k, m); a single mixture (m,) gives shape (1,)."""
        self._check_fitted()
        W = check_weights(np.atleast_2d(W), n_domains=self.n_domains, name="W")
        return self._features(W) @ self.coef_

    def evaluate(self, W: np.ndarray) -> np.ndarray:
        """The fitted polynomial at any points ``W`` (k, m), on the simplex or not (no checks): optimisers
        call this at the slightly infeasible iterates of a constrained solve."""
        self._check_fitted()
        return self._features(np.atleast_2d(np.asarray(W, dtype=float))) @ self.coef_

    def names(self) -> list[str]:
        """Domain names: those given, else ``d0, d1, ...``."""
        self._check_fitted()
        return self.domain_names or [f"d{i}" for i in range(self.n_domains)]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description (for ``predictor.json``); inverse of :meth:`from_dict`."""
        self._check_fitted()
        return {
            "kind": self.kind,
            "n_domains": self.n_domains,
            "domain_names": self.names(),
            "ridge": self.ridge,
            "coef": [float(c) for c in self.coef_],
        }

    @classmethod
    def from_dict(cls: type[_P], data: dict[str, Any]) -> _P:
        """Rebuild a fitted predictor from :meth:`to_dict` output."""
        if data.get("kind") != cls.kind:
            raise ValueError(f"expected a {cls.kind!r} predictor, got kind={data.get('kind')!r}")
        obj = cls(ridge=data["ridge"], domain_names=data["domain_names"])
        obj.n_domains = int(data["n_domains"])
        coef = np.asarray(data["coef"], dtype=float)
        expected = obj._features(np.full((1, obj.n_domains), 1.0 / obj.n_domains)).shape[1]
        if coef.shape != (expected,):
            raise ValueError(f"coef has {coef.size} values, expected {expected} for {obj.n_domains} domains")
        obj._set_coef(coef)
        return obj

    def _check_fitted(self) -> None:
        if self.coef_ is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit(W, y) first")


class LinearPredictor(_MixturePredictor):
    """Baseline surrogate ``L(w) = sum_i beta_i w_i`` (the intercept is absorbed: ``sum(w) = 1``)."""

    kind = "linear"

    def _features(self, W: np.ndarray) -> np.ndarray:
        return W

    @property
    def linear(self) -> np.ndarray:
        """``beta`` (m,): the predicted score of each domain alone."""
        self._check_fitted()
        return self.coef_

    def gradient(self, w: np.ndarray) -> np.ndarray:
        """d L / d w at one mixture ``w`` (m,)."""
        self._check_fitted()
        return self.coef_.copy()

    def terms(self) -> dict[str, dict]:
        """``{"linear": {name: beta}, "pairwise": {}}``."""
        return {"linear": dict(zip(self.names(), map(float, self.linear))), "pairwise": {}}


class QuadraticPredictor(_MixturePredictor):
    """Quadratic surrogate in Scheffé form, ``L(w) = sum_i beta_i w_i + sum_{i<j} gamma_ij w_i w_j``.

    See the module docstring for why this form and how ``ridge`` is applied.
    """

    kind = "quadratic"

    def _pairs(self) -> tuple[np.ndarray, np.ndarray]:
        return np.triu_indices(self.n_domains, k=1)

    def _features(self, W: np.ndarray) -> np.ndarray:
        iu, ju = self._pairs()
        return np.concatenate([W, W[:, iu] * W[:, ju]], axis=1)  # (k, m + m(m-1)/2)

    @property
    def linear(self) -> np.ndarray:
        """``beta`` (m,): the predicted score of each domain alone."""
        self._check_fitted()
        return self.coef_[: self.n_domains]

    @property
    def interactions(self) -> np.ndarray:
        """``gamma`` as a symmetric (m, m) matrix with zero diagonal."""
        self._check_fitted()
        G = np.zeros((self.n_domains, self.n_domains))
        iu, ju = self._pairs()
        G[iu, ju] = self.coef_[self.n_domains :]
        return G + G.T

    def quadratic_form(self) -> tuple[float, np.ndarray, np.ndarray]:
        """The paper's parametrisation ``(a, b, C)`` with ``L(w) = a + b·w + wᵀCw``: ``(0, beta, gamma/2)``."""
        return 0.0, self.linear.copy(), self.interactions / 2.0

    def gradient(self, w: np.ndarray) -> np.ndarray:
        """d L / d w at one mixture ``w`` (m,): ``beta + gamma @ w``."""
        return self.linear + self.interactions @ np.asarray(w, dtype=float)

    def terms(self) -> dict[str, dict]:
        """``{"linear": {name: beta_i}, "pairwise": {(name_i, name_j): gamma_ij}}`` for ``i < j``."""
        names = self.names()
        G = self.interactions
        iu, ju = self._pairs()
        return {
            "linear": dict(zip(names, map(float, self.linear))),
            "pairwise": {(names[i], names[j]): float(G[i, j]) for i, j in zip(iu, ju)},
        }


_KINDS = {"quadratic": QuadraticPredictor, "linear": LinearPredictor}


def predictor_from_dict(data: dict[str, Any]) -> _MixturePredictor:
    """Rebuild whichever predictor ``data["kind"]`` names."""
    if data.get("kind") not in _KINDS:
        raise ValueError(f"unknown predictor kind {data.get('kind')!r}; expected one of {sorted(_KINDS)}")
    return _KINDS[data["kind"]].from_dict(data)


def _kfold_predictions(
    make: type[_MixturePredictor], ridge: float, W: np.ndarray, y: np.ndarray, folds: list[np.ndarray]
) -> np.ndarray:
    pred = np.empty_like(y)
    for test in folds:
        train = np.setdiff1d(np.arange(len(y)), test)
        pred[test] = make(ridge=ridge).fit(W[train], y[train]).predict(W[test])
    return pred


def _folds(n: int, k: int, seed: int) -> list[np.ndarray]:
    if int(k) != k or k < 2:
        raise ValueError(f"k must be an integer >= 2, got {k}")
    if n < k:
        raise ValueError(f"{n} samples are too few for {k}-fold cross-validation")
    return np.array_split(np.random.default_rng(seed).permutation(n), k)


def _scores(y: np.ndarray, pred: np.ndarray, folds: list[np.ndarray]) -> dict[str, Any]:
    resid = y - pred
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return {
        "rmse": float(np.sqrt(np.mean(resid**2))),
        "r2": float(1.0 - np.sum(resid**2) / ss_tot) if ss_tot > 0 else float("nan"),
        "fold_rmse": [float(np.sqrt(np.mean(resid[f] ** 2))) for f in folds],
    }


def cross_validate(
    W: np.ndarray, y: np.ndarray, k: int = 5, seed: int = 0, ridge: float = DEFAULT_RIDGE
) -> dict[str, Any]:
    """k-fold cross-validation of the quadratic surrogate and the linear baseline on the same folds.

    Returns ``{"k", "n", "quadratic": {"rmse", "r2", "fold_rmse"}, "linear": {...}}``: ``rmse`` and ``r2`` are
    computed on the pooled out-of-fold predictions (every sample predicted once, by a model that did not see
    it); ``fold_rmse`` lists each fold's RMSE. The folds are a seeded random partition.
    """
    W = check_weights(W, name="W")
    y = np.asarray(y, dtype=float)
    if y.ndim != 1 or y.shape[0] != W.shape[0]:
        raise ValueError(f"y must have shape ({W.shape[0]},) to match W {W.shape}, got {y.shape}")
    folds = _folds(len(y), k, seed)
    out: dict[str, Any] = {"k": int(k), "n": len(y)}
    for name, make in _KINDS.items():
        out[name] = _scores(y, _kfold_predictions(make, ridge, W, y, folds), folds)
    return out


def select_ridge(
    W: np.ndarray,
    y: np.ndarray,
    ridges: Sequence[float] = DEFAULT_RIDGE_GRID,
    k: int = 5,
    seed: int = 0,
    kind: str = "quadratic",
) -> float:
    """The ridge from ``ridges`` with the lowest k-fold out-of-fold RMSE (ties: the larger ridge)."""
    W = check_weights(W, name="W")
    y = np.asarray(y, dtype=float)
    if y.ndim != 1 or y.shape[0] != W.shape[0]:
        raise ValueError(f"y must have shape ({W.shape[0]},) to match W {W.shape}, got {y.shape}")
    folds = _folds(len(y), k, seed)
    best, best_rmse = None, np.inf
    for r in sorted(ridges, reverse=True):
        rmse = _scores(y, _kfold_predictions(_KINDS[kind], r, W, y, folds), folds)["rmse"]
        if rmse < best_rmse - 1e-12:
            best, best_rmse = float(r), rmse
    return best
