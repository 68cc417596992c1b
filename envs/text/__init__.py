"""Text-only tasks for text LLMs: Countdown, Arithmetic, ten SynLogic-style logic families, MathQA, instruction
following (RAIF) and safety refusal (AlphaAlign).

Every task is a one-step :class:`~mmrl.envs.text.base.TextTaskEnv`: the observation is ``{"text": question}``, the
action is the model's whole response with its answer inside ``<answer>...</answer>`` (an optional ``<think>`` part
before), and a pure rule verifier scores it. Nothing a model writes is ever executed.
"""

from mmrl.envs.text.arithmetic import ArithmeticEnv
from mmrl.envs.text.base import Problem, TextTaskEnv
from mmrl.envs.text.countdown import CountdownEnv
from mmrl.envs.text.knights_knaves import KnightsKnavesEnv
from mmrl.envs.text.math_qa import MathQAEnv
from mmrl.envs.text.maze import MazeEnv
from mmrl.envs.text.sudoku import SudokuEnv

__all__ = [
    "ArithmeticEnv",
    "CountdownEnv",
    "KnightsKnavesEnv",
    "MathQAEnv",
    "MazeEnv",
    "Problem",
    "SudokuEnv",
    "TextTaskEnv",
]
