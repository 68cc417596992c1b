"""Gymnasium wrappers over mmrl envs."""

from mmrl.envs.wrappers.try_again import TryAgain, make_try_again

__all__ = ["TryAgain", "make_try_again"]
