"""``mmrl/Countdown-v0``: reach a target number with given numbers and ``+ - * /``."""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

import numpy as np

from mmrl.envs.checks import int_in_range
from mmrl.envs.text.base import Problem, TextTaskEnv
from mmrl.envs.text.expression import evaluate
from mmrl.envs.text.search_trace import numbers_search_trace

#: Largest intermediate value the generator allows (keeps targets readable).
MAX_INTERMEDIATE = 10_000
#: Targets below this are re-drawn (up to ``MAX_DRAWS`` times) as too easy.
MIN_TARGET = 10
MAX_DRAWS = 20


def check_countdown(expression: str, numbers: list[int], target: int) -> bool | None:
    """``True`` iff ``expression`` evaluates exactly to ``target`` using each of ``numbers`` at most once (as
    many times as it is given); ``False`` when it is an expression but wrong or uses other numbers; ``None`` when
    it is not an arithmetic expression. A pure function; never raises."""
    evaluation = evaluate(expression)
    if evaluation is None:
        return None
    available = Counter(Fraction(n) for n in numbers)
    used = Counter(evaluation.literals)
    if any(count > available[value] for value, count in used.items()):
        return False
    return evaluation.value == target


def generate_countdown(
    rng: np.random.Generator, count: int, low: int, high: int
) -> tuple[list[int], int, str]:
    """``(numbers, target, expression)``: ``count`` numbers drawn from ``[low, high]`` and a target built by
    combining all of them at random (``+``; ``*`` while below :data:`MAX_INTERMEDIATE`; ``-`` keeping positive;
    ``/`` only when exact), so the target is reachable by construction and ``expression`` reaches it. Targets
    below :data:`MIN_TARGET` are re-drawn a few times."""
    for _ in range(MAX_DRAWS):  # re-draw trivial targets (e.g. 1 = 13 - 12) while a few tries are left
        numbers, target, expression = _combine(rng, count, low, high)
        if target >= MIN_TARGET:
            break
    return numbers, target, expression


def _combine(rng: np.random.Generator, count: int, low: int, high: int) -> tuple[list[int], int, str]:
    numbers = [int(n) for n in rng.integers(low, high + 1, size=count)]
    terms: list[tuple[int, str]] = [(n, str(n)) for n in numbers]
    while len(terms) > 1:
        i, j = (int(k) for k in rng.choice(len(terms), size=2, replace=False))
        (a, a_text), (b, b_text) = terms[i], terms[j]
        if a < b:
            (a, a_text), (b, b_text) = (b, b_text), (a, a_text)
        options = [("+", a + b)]
        if a * b <= MAX_INTERMEDIATE:
            options.append(("*", a * b))
        if a > b:
            options.append(("-", a - b))
        if b > 1 and a % b == 0:
            options.append(("/", a // b))
        op, value = options[int(rng.integers(len(options)))]
        terms = [t for k, t in enumerate(terms) if k not in (i, j)]
        terms.append((value, f"({a_text} {op} {b_text})"))
    target, expression = terms[0]
    if expression.startswith("(") and expression.endswith(")") and count > 1:
        expression = expression[1:-1]
    return numbers, target, expression


class CountdownEnv(TextTaskEnv):
    """Combine the given numbers with ``+ - * /`` and brackets to reach a target (the TinyZero Countdown task).

    ## Description
    Each episode lists ``count`` numbers drawn uniformly from ``[low, high]`` and a target. The target is built by
    combining all the numbers at random with exact integer operations, so it is always reachable; the
    construction is the expert's answer. A solution may use each listed number at most once (a subset is fine).

    ## Action Space
    ``text_space(8192)``: the whole response, ``<think>...</think><answer>EXPRESSION</answer>`` with an arithmetic
    expression such as ``(25 - 5) * 3 + 7``. Expressions are parsed by a small exact parser
    (:func:`mmrl.envs.text.expression.evaluate`), never executed.

    ## Observation Space
    ``Dict(text=Text)``: ``Using the numbers [3, 7, 25, 5], create an equation that equals 67. ...`` followed by
    the shared answer-format instruction.

    ## Rewards
    1.0 iff the expression equals the target exactly and uses only listed numbers (each at most as often as
    listed), else 0.0.

    ## Episode End
    After the first step. ``reset`` info: ``answer`` (the target), ``numbers``, ``expert_action``,
    ``expert_thought``. ``step`` info: ``success``, ``format_error`` (no ``<answer>`` tag or not an expression),
    ``answer``, ``reward/accuracy`` (and every other reward component).

    ## Arguments
    ``count`` (numbers per puzzle, 2-8, default 4), ``low`` and ``high`` (the range of the numbers, default 1-25).

    ## Version History
    * v0: initial version.
    """

    max_question_length = 400

    def __init__(self, count: int = 4, low: int = 1, high: int = 25, reward_weights: dict[str, float] | None = None) -> None:
        int_in_range("count", count, 2, 8)
        if not (isinstance(low, int) and isinstance(high, int) and 1 <= low <= high <= 1000):
            raise ValueError(f"need ints 1 <= low <= high <= 1000, got low={low!r}, high={high!r}")
        self.count, self.low, self.high = count, low, high
        super().__init__(reward_weights)

    def generate(self, rng: np.random.Generator) -> Problem:
        numbers, target, expression = generate_countdown(rng, self.count, self.low, self.high)
        question = (
            f"Using the numbers {numbers}, create an equation that equals {target}. You can use basic arithmetic "
            "operations (+, -, *, /) and brackets, and each number can be used at most once. Answer with the "
            "expression only, e.g. <answer>(1 + 2) / 3</answer>."
        )
        return Problem(
            question=question,
            answer=str(target),
            expert_answer=expression,
            expert_thought=f"{expression} = {target}, using each number once.",
            data={"numbers": numbers, "target": target},
        )

    def check(self, answer: str, problem: Problem) -> bool | None:
        # Accept "expr = target" too: drop a trailing "= ..." that restates the target.
        if answer.count("=") == 1:
            answer = answer.split("=")[0]
        return check_countdown(answer, problem.data["numbers"], problem.data["target"])

    def search_trace(self, max_dead_ends: int = 3) -> tuple[str, str] | None:
        """A depth-first search for the current puzzle written as (thought, answer expression), with its dead ends
        and backtracking (ASTRO's round-0 data for `mmrl iterate --astro`); None before a reset or when the search
        finds no way."""
        if self._problem is None:
            return None
        return numbers_search_trace(self._problem.data["numbers"], self._problem.data["target"], max_dead_ends)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        observation, info = super().reset(seed=seed, options=options)
        assert self._problem is not None
        info["numbers"] = list(self._problem.data["numbers"])
        return observation, info
