"""``mmrl/MathQA-v0``: math word problems from a JSONL of ``{question, answer}``, checked with math-verify."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmrl.envs.text.base import Problem, TextTaskEnv
from mmrl.jsonl import jsonl_objects
from mmrl.rewards.math_answer import math_answers_match

#: The built-in problems, used when no ``path`` is given (answers as math-verify reads them).
DEFAULT_PROBLEMS: list[dict[str, str]] = [
    {"question": "What is 17 + 25?", "answer": "42"},
    {
        "question": "A shirt costs $20 and is discounted by 15%. What is the new price in dollars?",
        "answer": "17",
    },
    {
        "question": "What is the probability of getting two heads when flipping two fair coins?",
        "answer": "1/4",
    },
    {"question": "Solve for x: 3x - 7 = 11.", "answer": "6"},
    {"question": "What is the sum of the interior angles of a hexagon, in degrees?", "answer": "720"},
    {"question": "Simplify 6/8 to lowest terms.", "answer": "\\frac{3}{4}"},
    {"question": "What is the square root of 2 times the square root of 8?", "answer": "4"},
    {"question": "A train travels 180 km in 2.5 hours. What is its average speed in km/h?", "answer": "72"},
    {"question": "How many ways can 4 different books be arranged on a shelf?", "answer": "24"},
    {"question": "What is the least common multiple of 6 and 8?", "answer": "24"},
    {"question": "What is the value of 2^10?", "answer": "1024"},
    {"question": "Half of a number is 0.75. What is the number?", "answer": "\\frac{3}{2}"},
    {"question": "What is the positive solution of x^2 = 2?", "answer": "\\sqrt{2}"},
]


def load_problems(path: str | Path) -> list[dict[str, str]]:
    """The ``{question, answer}`` records of a JSONL file (blank lines skipped; answers turned into text)."""
    problems = []
    for where, record in jsonl_objects(path, "problems"):
        if "question" not in record or "answer" not in record:
            raise ValueError(f"{where}: each line must be an object with 'question' and 'answer'")
        problems.append({"question": str(record["question"]), "answer": str(record["answer"])})
    return problems


class MathQAEnv(TextTaskEnv):
    """Answer a math question; the answer is checked for mathematical equality with math-verify.

    ## Description
    Each episode shows one problem drawn uniformly from a JSONL file of ``{"question": ..., "answer": ...}`` lines
    (``path``) or, without a file, from :data:`DEFAULT_PROBLEMS` (13 small problems). Answers are compared by
    :func:`mmrl.rewards.math_answer.math_answers_match` (HuggingFace ``math-verify``), so ``1/2``, ``0.5`` and
    ``\\frac{1}{2}`` are all right for ``1/2``; answers over 300 characters or with giant powers are refused.

    ## Action Space
    ``text_space(8192)``: ``<think>...</think><answer>ANSWER</answer>``, ANSWER a number, fraction or LaTeX.

    ## Observation Space
    ``Dict(text=Text)``: the question and the shared instruction (characters of the file's questions outside
    the default charset are added to the space).

    ## Rewards
    1.0 iff the answer equals the reference by math-verify, else 0.0.

    ## Episode End
    After the first step. ``reset`` info: ``answer`` (the reference), ``expert_action``, ``expert_thought``.
    ``step`` info: ``success``, ``format_error`` (no ``<answer>`` tag, or an empty one), ``answer``,
    ``reward/accuracy`` (and every other reward component).

    ## Arguments
    ``path`` (a JSONL file; None = the built-in problems).

    ## Version History
    * v0: initial version.
    """

    def __init__(self, path: str | None = None, reward_weights: dict[str, float] | None = None) -> None:
        self.path = path
        self.problems = list(DEFAULT_PROBLEMS) if path is None else load_problems(path)
        self.max_question_length = max(len(p["question"]) for p in self.problems)
        self.question_chars = "".join(sorted({char for p in self.problems for char in p["question"]}))
        super().__init__(reward_weights)

    def generate(self, rng: np.random.Generator) -> Problem:
        record = self.problems[int(rng.integers(len(self.problems)))]
        return Problem(
            question=record["question"],
            answer=record["answer"],
            expert_answer=record["answer"],
            expert_thought=f"The answer is {record['answer']}.",
            data=record["answer"],
        )

    def check(self, answer: str, problem: Problem) -> bool | None:
        if not answer:
            return None
        return math_answers_match(answer, problem.data)
