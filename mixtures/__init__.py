"""Data-mixture optimisation after MoDoMoDo ("MoDoMoDo: Multi-Domain Data Mixtures for Multimodal
LLM Reinforcement Learning", arXiv 2505.24871).

Pipeline: :func:`propose_mixtures` picks mixtures for short proxy runs; :class:`QuadraticPredictor` fits the
surrogate ``L(w) = a + b·w + wᵀCw`` (in the identifiable Scheffé form) to their scores, checked against the
:class:`LinearPredictor` baseline by :func:`cross_validate`; :func:`optimize_mixture` returns the mixture the
surrogate scores highest.
"""

from mmrl.mixtures.optimize import optimize_mixture
from mmrl.mixtures.predictor import (
    LinearPredictor,
    QuadraticPredictor,
    cross_validate,
    predictor_from_dict,
    select_ridge,
)
from mmrl.mixtures.proposals import propose_mixtures, seed_mixtures

__all__ = [
    "LinearPredictor",
    "QuadraticPredictor",
    "cross_validate",
    "optimize_mixture",
    "predictor_from_dict",
    "propose_mixtures",
    "seed_mixtures",
    "select_ridge",
]
