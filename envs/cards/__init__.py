"""gym-cards games (RL4VLM): NumberLine, EZPoints, Points24, Blackjack, drawn as card images."""

from mmrl.envs.cards.formula import evaluate, numbers_used, reaches_target
from mmrl.envs.cards.solver import is_solvable, solve

__all__ = ["evaluate", "is_solvable", "numbers_used", "reaches_target", "solve"]
