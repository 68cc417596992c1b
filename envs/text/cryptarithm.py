"""``mmrl/Cryptarithm-v0``: replace letters by digits so that a word sum holds (SynLogic's cryptarithm)."""

from __future__ import annotations

import re

import numpy as np

from mmrl.envs.checks import int_in_range
from mmrl.envs.text.base import Problem, TextTaskEnv

LETTERS = "ABCDEFGHJKMNPQRSTUVWXYZ"
_NUMBERS = re.compile(r"^\s*(\d{1,8})\s*\+\s*(\d{1,8})\s*=\s*(\d{1,9})\s*$")


def consistent_with(words: list[str], numbers: list[str]) -> bool:
    """Each number spells its word under one letter -> digit map that is one-to-one (distinct letters, distinct
    digits), with no leading zero in a number of several digits."""
    mapping: dict[str, str] = {}
    for word, number in zip(words, numbers, strict=True):
        if len(word) != len(number) or (len(number) > 1 and number[0] == "0"):
            return False
        for letter, digit in zip(word, number, strict=True):
            if mapping.setdefault(letter, digit) != digit:
                return False
    return len(set(mapping.values())) == len(mapping)


def check_sum(words: list[str], answer: str) -> bool | None:
    """The rule verifier: ``answer`` must read ``123 + 456 = 579``, be a true sum and spell the words; ``None``
    when it is not of that form."""
    match = _NUMBERS.match(answer)
    if match is None:
        return None
    a, b, c = match.groups()
    return int(a) + int(b) == int(c) and consistent_with(words, [a, b, c])


def generate_cryptarithm(rng: np.random.Generator, digits: int) -> tuple[list[str], list[str]]:
    """``(words, numbers)``: two random ``digits``-digit numbers and their sum, the digits replaced by letters
    (one random letter per distinct digit)."""
    low, high = 10 ** (digits - 1), 10**digits
    a, b = (int(x) for x in rng.integers(low, high, size=2))
    numbers = [str(a), str(b), str(a + b)]
    letters = rng.permutation(list(LETTERS))[:10]
    words = ["".join(str(letters[int(d)]) for d in n) for n in numbers]
    return words, numbers


class CryptarithmEnv(TextTaskEnv):
    """Decode a word sum such as ``AB + CA = DBE`` into digits (a SynLogic-style task).

    ## Description
    Two random ``digits``-digit numbers and their sum with each distinct digit written as a letter. Different
    letters stand for different digits and no number of several digits starts with 0. The verifier accepts any
    decoding that satisfies these rules (a puzzle may have several).

    ## Action Space
    ``text_space(8192)``: ``<answer>12 + 31 = 43</answer>``; anything not of that form is a format error.

    ## Observation Space
    ``Dict(text=Text)``: the rules and the word sum.

    ## Rewards
    1.0 iff the sum is true and spells the words under a one-to-one letter-digit map without leading zeros.

    ## Episode End
    After the first step. ``reset`` info: ``answer``, ``expert_action``, ``expert_thought``; ``step`` info:
    ``success``, ``format_error``, ``answer``, ``reward/*``.

    ## Arguments
    ``digits`` (1-6, default 2): the difficulty.

    ## Version History
    * v0: initial version.
    """

    max_question_length = 400

    def __init__(self, digits: int = 2, reward_weights: dict[str, float] | None = None) -> None:
        int_in_range("digits", digits, 1, 6)
        self.digits = digits
        super().__init__(reward_weights)

    def generate(self, rng: np.random.Generator) -> Problem:
        words, numbers = generate_cryptarithm(rng, self.digits)
        answer = f"{numbers[0]} + {numbers[1]} = {numbers[2]}"
        question = (f"Solve the cryptarithm {words[0]} + {words[1]} = {words[2]}: each letter stands for one "
                    "digit, different letters for different digits, and no number of several digits starts with "
                    "0. Answer with the sum in digits, like 12 + 34 = 46.")
        return Problem(question=question, answer=answer, expert_answer=answer,
                       expert_thought="These digits make the sum true and spell the words.", data=words)

    def check(self, answer: str, problem: Problem) -> bool | None:
        return check_sum(problem.data, answer)
