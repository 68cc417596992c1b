"""Image classification as one-step RL (``mmrl/Classification-v0``)."""

from mmrl.envs.classification.env import ClassificationEnv

__all__ = ["ClassificationEnv"]
