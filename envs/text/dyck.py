"""``mmrl/Dyck-v0``: close every open bracket of a bracket sequence, in the right order (SynLogic's dyck_language)."""

from __future__ import annotations

import numpy as np

from mmrl.envs.checks import int_in_range
from mmrl.envs.text.base import Problem, TextTaskEnv

PAIRS = {"(": ")", "[": "]", "{": "}", "<": ">"}
CLOSERS = "".join(PAIRS.values())


def open_stack(text: str) -> list[str] | None:
    """The brackets still open after reading ``text`` left to right, or ``None`` if a closer does not match."""
    stack: list[str] = []
    for char in text:
        if char in PAIRS:
            stack.append(char)
        elif char in CLOSERS:
            if not stack or PAIRS[stack.pop()] != char:
                return None
    return stack


def closing_sequence(prefix: str) -> str:
    """The shortest sequence that closes ``prefix`` (its open brackets' closers, innermost first)."""
    stack = open_stack(prefix)
    assert stack is not None
    return "".join(PAIRS[b] for b in reversed(stack))


def generate_prefix(rng: np.random.Generator, length: int, open_at_end: int) -> str:
    """A valid bracket prefix of ``length`` characters that leaves ``open_at_end`` brackets open (``length -
    open_at_end`` must be even and non-negative)."""

    def reachable(depth: int, remaining: int) -> bool:
        return abs(depth - open_at_end) <= remaining

    out: list[str] = []
    stack: list[str] = []
    openers = list(PAIRS)
    while len(out) < length:
        remaining = length - len(out) - 1
        can_close = bool(stack) and reachable(len(stack) - 1, remaining)
        can_open = reachable(len(stack) + 1, remaining)
        if can_close and (not can_open or rng.random() < 0.45):
            out.append(PAIRS[stack.pop()])
        else:
            opener = openers[int(rng.integers(len(openers)))]
            stack.append(opener)
            out.append(opener)
    return "".join(out)


class DyckEnv(TextTaskEnv):
    """Complete a bracket sequence so that every bracket is closed in order (a SynLogic-style task).

    ## Description
    A prefix over ``()[]{}<>`` of ``length`` characters in which every closer matches, leaving ``depth`` brackets
    open. The answer is the shortest continuation that closes them all.

    ## Action Space
    ``text_space(8192)``: ``<answer>`` holding the closing brackets (spaces ignored), e.g. ``] ) }``.

    ## Observation Space
    ``Dict(text=Text)``: the rules and the prefix.

    ## Rewards
    1.0 iff prefix + answer is a balanced sequence and the answer has exactly as many brackets as are open (the
    shortest), else 0.0. Any character other than closers and spaces is a format error.

    ## Episode End
    After the first step. ``reset`` info: ``answer``, ``expert_action``, ``expert_thought``; ``step`` info:
    ``success``, ``format_error``, ``answer``, ``reward/*``.

    ## Arguments
    ``length`` (4-60, default 12) and ``depth`` (1-20, default 4, at most ``length``, ``length - depth`` even): the difficulty.

    ## Version History
    * v0: initial version.
    """

    max_question_length = 400

    def __init__(self, length: int = 12, depth: int = 4, reward_weights: dict[str, float] | None = None) -> None:
        int_in_range("length", length, 4, 60)
        if not (isinstance(depth, int) and 1 <= depth <= min(20, length) and (length - depth) % 2 == 0):
            raise ValueError(f"depth must be an int in [1, min(20, length)] with length - depth even, got {depth!r}")
        self.length, self.depth = length, depth
        super().__init__(reward_weights)

    def generate(self, rng: np.random.Generator) -> Problem:
        prefix = generate_prefix(rng, self.length, self.depth)
        closing = closing_sequence(prefix)
        question = (f"Complete this bracket sequence so that every bracket is closed in the right order, using as "
                    f"few brackets as possible: {' '.join(prefix)}\nAnswer with the closing brackets only.")
        return Problem(question=question, answer=" ".join(closing), expert_answer=" ".join(closing),
                       expert_thought=f"The open brackets, innermost last, are {' '.join(open_stack(prefix) or [])}.",
                       data={"prefix": prefix})

    def check(self, answer: str, problem: Problem) -> bool | None:
        closers = answer.replace(" ", "")
        if not closers or any(char not in CLOSERS for char in closers):
            return None
        prefix = problem.data["prefix"]
        return open_stack(prefix + closers) == [] and len(closers) == len(open_stack(prefix) or [])
