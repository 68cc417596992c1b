"""``mmrl/SAT-v0``: find a truth assignment that satisfies a 3-CNF formula (a SynLogic-style boolean puzzle)."""

from __future__ import annotations

import re

import numpy as np

from mmrl.envs.checks import int_in_range
from mmrl.envs.text.base import Problem, TextTaskEnv

#: A literal: +i is x_i, -i is NOT x_i (1-based); a clause is a tuple of literals, true when one literal is.
Clause = tuple[int, ...]
_ITEM = re.compile(r"x(\d{1,2})\s*[=:]\s*(true|false|t|f|1|0)\b", re.IGNORECASE)


def satisfies(values: dict[int, bool], clauses: list[Clause]) -> bool:
    """Every clause has a literal made true by ``values`` (variable -> truth)."""
    return all(any(values[abs(lit)] == (lit > 0) for lit in clause) for clause in clauses)


def generate_cnf(rng: np.random.Generator, variables: int, clauses: int) -> tuple[list[Clause], list[bool]]:
    """``clauses`` random 3-literal clauses (distinct variables each) that a hidden random assignment satisfies:
    a clause that it falsifies gets one literal flipped."""
    hidden = [bool(x) for x in rng.integers(0, 2, size=variables)]
    out: list[Clause] = []
    for _ in range(clauses):
        chosen = rng.choice(variables, size=min(3, variables), replace=False) + 1
        literals = [int(v) * (1 if rng.random() < 0.5 else -1) for v in chosen]
        if not any(hidden[abs(lit) - 1] == (lit > 0) for lit in literals):
            literals[0] = -literals[0]
        out.append(tuple(literals))
    return out, hidden


def parse_values(text: str, variables: int) -> dict[int, bool] | None:
    """``{i: truth}`` from ``x1=true, x2=0, x3: F``; ``None`` unless every variable appears with one value."""
    found: dict[int, bool] = {}
    for match in _ITEM.finditer(text):
        index, value = int(match.group(1)), match.group(2).lower() in ("true", "t", "1")
        if not 1 <= index <= variables or found.get(index, value) != value:
            return None
        found[index] = value
    return found if len(found) == variables else None


def show_clause(clause: Clause) -> str:
    return "(" + " OR ".join(f"x{lit}" if lit > 0 else f"NOT x{-lit}" for lit in clause) + ")"


class SATEnv(TextTaskEnv):
    """Give values to boolean variables so that every clause of a 3-CNF formula holds (a SynLogic-style task).

    ## Description
    ``variables`` variables and ``clauses`` clauses of three literals each, generated so that a hidden assignment
    satisfies them; the verifier accepts any satisfying assignment.

    ## Action Space
    ``text_space(8192)``: ``<answer>x1=true, x2=false, ...</answer>`` (true/false, T/F or 1/0); a missing or
    contradictory variable is a format error.

    ## Observation Space
    ``Dict(text=Text)``: the clauses, one per line.

    ## Rewards
    1.0 iff every clause has a true literal under the assignment, else 0.0.

    ## Episode End
    After the first step. ``reset`` info: ``answer``, ``expert_action``, ``expert_thought``; ``step`` info:
    ``success``, ``format_error``, ``answer``, ``reward/*``.

    ## Arguments
    ``variables`` (3-12, default 4) and ``clauses`` (1-40, default 8): the difficulty.

    ## Version History
    * v0: initial version.
    """

    max_question_length = 2500

    def __init__(self, variables: int = 4, clauses: int = 8, reward_weights: dict[str, float] | None = None) -> None:
        int_in_range("variables", variables, 3, 12)
        int_in_range("clauses", clauses, 1, 40)
        self.variables, self.clauses = variables, clauses
        super().__init__(reward_weights)

    def generate(self, rng: np.random.Generator) -> Problem:
        cnf, hidden = generate_cnf(rng, self.variables, self.clauses)
        answer = ", ".join(f"x{i + 1}={'true' if v else 'false'}" for i, v in enumerate(hidden))
        question = (f"Find true/false values for x1..x{self.variables} that make every clause true (a clause is "
                    "true when at least one of its parts is):\n" + "\n".join(show_clause(c) for c in cnf)
                    + "\nAnswer like: x1=true, x2=false, ...")
        return Problem(question=question, answer=answer, expert_answer=answer,
                       expert_thought="Each clause has a literal made true by these values.",
                       data=[list(c) for c in cnf])

    def check(self, answer: str, problem: Problem) -> bool | None:
        values = parse_values(answer, self.variables)
        if values is None:
            return None
        return satisfies(values, [tuple(c) for c in problem.data])
