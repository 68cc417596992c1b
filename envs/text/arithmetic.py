"""``mmrl/Arithmetic-v0``: evaluate an arithmetic expression exactly."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from mmrl.envs.checks import int_in_range
from mmrl.envs.text.base import Problem, TextTaskEnv
from mmrl.envs.text.expression import evaluate, format_number, parse_number


def random_expression(rng: np.random.Generator, operations: int, max_literal: int) -> str:
    """A random expression with ``operations`` binary operators over integers in ``[1, max_literal]``; every
    operand of ``/`` is nonzero by construction (divisors are re-drawn until they evaluate to nonzero)."""
    if operations == 0:
        return str(int(rng.integers(1, max_literal + 1)))
    left_ops = int(rng.integers(0, operations))
    left = random_expression(rng, left_ops, max_literal)
    op = "+-*/"[int(rng.integers(4))]
    while True:
        right = random_expression(rng, operations - 1 - left_ops, max_literal)
        right_value = evaluate(right)
        if op != "/" or (right_value is not None and right_value.value != 0):
            break
    return f"{_bracket(left)} {op} {_bracket(right)}"


def _bracket(text: str) -> str:
    return text if text.isdigit() else f"({text})"


class ArithmeticEnv(TextTaskEnv):
    """Compute the exact value of an arithmetic expression.

    ## Description
    Each episode shows a random fully bracketed expression over ``+ - * /`` with ``difficulty`` operators and
    integer literals up to ``5 * difficulty``. The value is exact (a :class:`fractions.Fraction`).

    ## Action Space
    ``text_space(8192)``: ``<think>...</think><answer>VALUE</answer>``, VALUE an integer (``-12``), a decimal
    (``0.75``) or a fraction (``3/4``); an expression (``1+2``) is a format error, not an answer.

    ## Observation Space
    ``Dict(text=Text)``: ``Compute the exact value of (7 * 3) - (8 / 4). ...`` and the shared instruction.

    ## Rewards
    1.0 iff the value equals the expression's exact value (``0.5``, ``1/2`` and ``2/4`` are all right for 1/2),
    else 0.0.

    ## Episode End
    After the first step. ``reset`` info: ``answer`` (an integer or reduced fraction), ``expert_action``,
    ``expert_thought``. ``step`` info: ``success``, ``format_error``, ``answer``, ``reward/accuracy`` (and every other reward component).

    ## Arguments
    ``difficulty`` (operators per expression, 1-10, default 3).

    ## Version History
    * v0: initial version.
    """

    max_question_length = 600

    def __init__(self, difficulty: int = 3, reward_weights: dict[str, float] | None = None) -> None:
        int_in_range("difficulty", difficulty, 1, 10)
        self.difficulty = difficulty
        super().__init__(reward_weights)

    def generate(self, rng: np.random.Generator) -> Problem:
        expression = random_expression(rng, self.difficulty, 5 * self.difficulty)
        evaluation = evaluate(expression)
        assert evaluation is not None  # the generator only builds valid expressions
        value = format_number(evaluation.value)
        return Problem(
            question=f"Compute the exact value of {expression}. Give an integer or a reduced fraction.",
            answer=value,
            expert_answer=value,
            expert_thought=f"{expression} = {value}",
            data=value,
        )

    def check(self, answer: str, problem: Problem) -> bool | None:
        given = parse_number(answer)
        if given is None:
            return None
        return given == Fraction(problem.data)
