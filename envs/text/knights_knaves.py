"""``mmrl/KnightsKnaves-v0``: who is a knight (always truthful) and who a knave (always lying)?"""

from __future__ import annotations

import itertools
import re

import numpy as np

from mmrl.envs.checks import int_in_range
from mmrl.envs.text.base import Problem, TextTaskEnv

NAMES = ("Alice", "Bob", "Carol", "Dave", "Eve", "Frank", "Grace", "Heidi")
#: A statement: (kind, people) with kind one of the keys of ``_TEMPLATES``; people are indices into the names.
Statement = tuple[str, tuple[int, ...]]

_TEMPLATES = {
    "is_knight": "{0} is a knight.",
    "is_knave": "{0} is a knave.",
    "both_knights": "{0} and {1} are both knights.",
    "either_knave": "{0} is a knave or {1} is a knave.",
    "same": "{0} and {1} are the same kind.",
    "different": "{0} and {1} are of different kinds.",
    "if_knave_then_knight": "If {0} is a knave, then {1} is a knight.",
}
_ARITY = {kind: template.count("{") for kind, template in _TEMPLATES.items()}
_ANSWER_ITEM = re.compile(r"([A-Za-z]+)\W{0,5}(?:is\s+)?(?:an?\s+)?(knight|knave)", re.IGNORECASE)


def statement_holds(statement: Statement, knights: tuple[bool, ...]) -> bool:
    """Truth of ``statement`` when person ``i`` is a knight iff ``knights[i]``."""
    kind, people = statement
    a = knights[people[0]]
    b = knights[people[1]] if len(people) > 1 else False
    return {
        "is_knight": a,
        "is_knave": not a,
        "both_knights": a and b,
        "either_knave": not a or not b,
        "same": a == b,
        "different": a != b,
        "if_knave_then_knight": a or b,
    }[kind]


def consistent(knights: tuple[bool, ...], statements: list[Statement]) -> bool:
    """Every speaker's statement is true iff the speaker is a knight (statement ``i`` is person ``i``'s)."""
    return all(statement_holds(s, knights) == knights[i] for i, s in enumerate(statements))


def solutions(statements: list[Statement]) -> list[tuple[bool, ...]]:
    """All assignments consistent with the statements (brute force over 2**n)."""
    n = len(statements)
    return [k for k in itertools.product((True, False), repeat=n) if consistent(k, statements)]


def generate_knights_knaves(
    rng: np.random.Generator, people: int, attempts: int = 200
) -> tuple[list[Statement], tuple[bool, ...]]:
    """``(statements, knights)``: one statement per person, true exactly for the knights of a random hidden
    assignment (so that assignment is always a solution); re-drawn up to ``attempts`` times until it is the only
    solution. The verifier accepts any consistent assignment, so a rare non-unique puzzle is still fair."""
    kinds = list(_TEMPLATES)
    best: tuple[list[Statement], tuple[bool, ...]] | None = None
    for _ in range(attempts):
        knights = tuple(bool(x) for x in rng.integers(0, 2, size=people))
        statements: list[Statement] = []
        for speaker in range(people):
            while True:
                kind = kinds[int(rng.integers(len(kinds)))]
                others = [p for p in range(people) if p != speaker]
                chosen = rng.choice(others, size=min(_ARITY[kind], len(others)), replace=False)
                statement = (kind, tuple(int(p) for p in chosen))
                if (
                    len(statement[1]) == _ARITY[kind]
                    and statement_holds(statement, knights) == knights[speaker]
                ):
                    break
            statements.append(statement)
        best = (statements, knights)
        if len(solutions(statements)) == 1:
            break
    assert best is not None
    return best


def parse_assignment(text: str, names: list[str]) -> dict[str, bool] | None:
    """``{name: is_knight}`` from text such as ``Alice: knight, Bob: knave`` or ``Alice is a knight. Bob is a
    knave.``; ``None`` unless every name appears with exactly one (possibly repeated) role. Never raises."""
    found: dict[str, bool] = {}
    lowered = {name.lower(): name for name in names}
    for match in _ANSWER_ITEM.finditer(text):
        name = lowered.get(match.group(1).lower())
        if name is None:
            continue
        role = match.group(2).lower() == "knight"
        if found.get(name, role) != role:
            return None
        found[name] = role
    return found if len(found) == len(names) else None


class KnightsKnavesEnv(TextTaskEnv):
    """Decide who is a knight and who is a knave from what each person says (a SynLogic-style task).

    ## Description
    ``people`` inhabitants of an island each make one statement about the others (``Bob is a knave.``, ``Carol
    and Dave are the same kind.``, ``If Alice is a knave, then Eve is a knight.``, ...). Knights always tell the
    truth, knaves always lie. Statements are generated from a hidden assignment so it is always consistent, and
    re-drawn until it is the unique one. The rule verifier accepts any consistent assignment.

    ## Action Space
    ``text_space(8192)``: ``<answer>`` naming every person with a role, e.g. ``Alice: knight, Bob: knave, Carol:
    knight`` (``Alice is a knight. Bob is a knave.`` works too; case-insensitive). Missing or contradictory names
    are a format error.

    ## Observation Space
    ``Dict(text=Text)``: the rules, then one line per person: ``Alice says: "Bob is a knave."``.

    ## Rewards
    1.0 iff the assignment makes every knight's statement true and every knave's false, else 0.0.

    ## Episode End
    After the first step. ``reset`` info: ``answer`` (the hidden assignment as text), ``expert_action``,
    ``expert_thought``. ``step`` info: ``success``, ``format_error``, ``answer``, ``reward/accuracy`` (and every other reward component).

    ## Arguments
    ``people`` (2-8, default 3): the difficulty.

    ## Version History
    * v0: initial version.
    """

    max_question_length = 1200

    def __init__(self, people: int = 3, reward_weights: dict[str, float] | None = None) -> None:
        int_in_range("people", people, 2, len(NAMES))
        self.people = people
        super().__init__(reward_weights)

    def generate(self, rng: np.random.Generator) -> Problem:
        statements, knights = generate_knights_knaves(rng, self.people)
        names = list(NAMES[: self.people])
        lines = [
            f'{names[i]} says: "{_TEMPLATES[kind].format(*(names[p] for p in who))}"'
            for i, (kind, who) in enumerate(statements)
        ]
        question = (
            "On an island every inhabitant is either a knight, who always tells the truth, or a knave, who always "
            f"lies. You meet {self.people}: {', '.join(names)}.\n"
            + "\n".join(lines)
            + "\nWho is a knight and who is a knave? Answer like: Alice: knight, Bob: knave."
        )
        answer = ", ".join(
            f"{name}: {'knight' if k else 'knave'}" for name, k in zip(names, knights, strict=True)
        )
        return Problem(
            question=question,
            answer=answer,
            expert_answer=answer,
            expert_thought="Only this assignment makes every knight's statement true and every knave's false.",
            data=[[kind, list(who)] for kind, who in statements],
        )

    def check(self, answer: str, problem: Problem) -> bool | None:
        names = list(NAMES[: self.people])
        assignment = parse_assignment(answer, names)
        if assignment is None:
            return None
        statements = [(kind, tuple(who)) for kind, who in problem.data]
        return consistent(tuple(assignment[name] for name in names), statements)
