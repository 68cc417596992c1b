"""``mmrl/Ordering-v0``: seat people in a row from clues (a SynLogic-style arrangement puzzle)."""

from __future__ import annotations

import itertools
import re

import numpy as np

from mmrl.envs.checks import int_in_range
from mmrl.envs.text.base import Problem, TextTaskEnv

NAMES = ("Ann", "Ben", "Cid", "Dee", "Eli", "Fay", "Gus")
#: A clue: (kind, a, b) with a, b names (b unused by ``end``/``position``, which store their number in b).
Clue = tuple[str, str, str]
_TEMPLATES = {
    "left_of": "{a} sits somewhere to the left of {b}.",
    "next_to": "{a} sits next to {b}.",
    "not_next_to": "{a} does not sit next to {b}.",
    "directly_left": "{a} sits directly to the left of {b}.",
    "position": "{a} sits in seat {b}.",
    "end": "{a} sits at one end of the row.",
}


def clue_holds(clue: Clue, order: tuple[str, ...]) -> bool:
    """Whether ``clue`` is true of ``order`` (seats numbered 1.. from the left)."""
    kind, a, b = clue
    i = order.index(a)
    if kind == "position":
        return i + 1 == int(b)
    if kind == "end":
        return i in (0, len(order) - 1)
    j = order.index(b)
    return {"left_of": i < j, "next_to": abs(i - j) == 1, "not_next_to": abs(i - j) != 1,
            "directly_left": j == i + 1}[kind]


def orders_fitting(names: tuple[str, ...], clues: list[Clue]) -> list[tuple[str, ...]]:
    """Every seating of ``names`` that satisfies all ``clues`` (brute force over the permutations)."""
    return [p for p in itertools.permutations(names) if all(clue_holds(c, p) for c in clues)]


def generate_ordering(rng: np.random.Generator, people: int) -> tuple[list[Clue], tuple[str, ...]]:
    """``(clues, hidden order)``: random clues true of a hidden order, added until it is the only fitting one."""
    names = NAMES[:people]
    hidden = tuple(str(n) for n in rng.permutation(names))
    clues: list[Clue] = []
    kinds = list(_TEMPLATES)
    while len(orders_fitting(names, clues)) > 1:
        kind = kinds[int(rng.integers(len(kinds)))]
        a, b = (str(x) for x in rng.choice(names, size=2, replace=False))
        clue = (kind, a, str(hidden.index(a) + 1) if kind == "position" else b)
        if clue_holds(clue, hidden) and clue not in clues:
            clues.append(clue)
    return clues, hidden


def parse_order(text: str, names: tuple[str, ...]) -> tuple[str, ...] | None:
    """The names in the order written (``Ann, Ben, Cid``); ``None`` unless each name appears exactly once."""
    found = tuple(re.findall(r"[A-Za-z]+", text))
    return found if sorted(found) == sorted(names) else None


class OrderingEnv(TextTaskEnv):
    """Seat ``people`` people in a row so that every clue holds (a SynLogic-style task).

    ## Description
    A hidden seating; clues true of it (``Ann sits next to Ben.``, ``Cid sits in seat 2.``, ...) are drawn until
    it is the only seating that fits (checked by brute force). The verifier accepts any seating that fits.

    ## Action Space
    ``text_space(8192)``: ``<answer>Ben, Ann, Cid</answer>``, left to right; each name exactly once, else a
    format error.

    ## Observation Space
    ``Dict(text=Text)``: the names and the clues, one per line.

    ## Rewards
    1.0 iff the seating satisfies every clue, else 0.0.

    ## Episode End
    After the first step. ``reset`` info: ``answer``, ``expert_action``, ``expert_thought``; ``step`` info:
    ``success``, ``format_error``, ``answer``, ``reward/*``.

    ## Arguments
    ``people`` (3-7, default 4): the difficulty.

    ## Version History
    * v0: initial version.
    """

    max_question_length = 2000

    def __init__(self, people: int = 4, reward_weights: dict[str, float] | None = None) -> None:
        int_in_range("people", people, 3, len(NAMES))
        self.people = people
        super().__init__(reward_weights)

    def generate(self, rng: np.random.Generator) -> Problem:
        clues, hidden = generate_ordering(rng, self.people)
        names = NAMES[: self.people]
        question = (f"{', '.join(names)} sit in a row of {self.people} seats, numbered 1 to {self.people} from "
                    "the left.\n" + "\n".join(_TEMPLATES[k].format(a=a, b=b) for k, a, b in clues)
                    + "\nWho sits where? Answer with the names from left to right, like: "
                    + ", ".join(names) + ".")
        answer = ", ".join(hidden)
        return Problem(question=question, answer=answer, expert_answer=answer,
                       expert_thought="This is the only seating that satisfies every clue.",
                       data=[list(c) for c in clues])

    def check(self, answer: str, problem: Problem) -> bool | None:
        order = parse_order(answer, NAMES[: self.people])
        if order is None:
            return None
        return all(clue_holds(tuple(c), order) for c in problem.data)
