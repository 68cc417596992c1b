"""``mmrl/WaterJugs-v0``: measure an amount of water with two jugs (the classic die-hard puzzle)."""

from __future__ import annotations

import re
from collections import deque

import numpy as np

from mmrl.envs.checks import int_in_range
from mmrl.envs.text.base import Problem, TextTaskEnv

_ACTION = re.compile(r"(fill|empty)\s+([AB])|pour\s+([AB])\s*(?:->|into|to)?\s*([AB])", re.IGNORECASE)
Action = tuple[str, ...]


def step_jugs(volumes: tuple[int, int], capacities: tuple[int, int], action: Action) -> tuple[int, int] | None:
    """The volumes after ``action`` (``("fill", "A")``, ``("empty", "B")``, ``("pour", "A", "B")``), or
    ``None`` for a pour from a jug into itself."""
    v = list(volumes)
    index = {"A": 0, "B": 1}
    if action[0] == "fill":
        v[index[action[1]]] = capacities[index[action[1]]]
    elif action[0] == "empty":
        v[index[action[1]]] = 0
    else:
        s, t = index[action[1]], index[action[2]]
        if s == t:
            return None
        amount = min(v[s], capacities[t] - v[t])
        v[s] -= amount
        v[t] += amount
    return v[0], v[1]


ACTIONS: list[Action] = [("fill", "A"), ("fill", "B"), ("empty", "A"), ("empty", "B"), ("pour", "A", "B"),
                         ("pour", "B", "A")]


def shortest_plan(capacities: tuple[int, int], target: int) -> list[Action] | None:
    """A shortest action list after which a jug holds ``target`` (breadth-first search), or ``None``."""
    previous: dict[tuple[int, int], tuple[tuple[int, int], Action] | None] = {(0, 0): None}
    queue = deque([(0, 0)])
    while queue:
        state = queue.popleft()
        if target in state:
            plan: list[Action] = []
            while previous[state] is not None:
                state, action = previous[state]  # type: ignore[misc]
                plan.append(action)
            return plan[::-1]
        for action in ACTIONS:
            nxt = step_jugs(state, capacities, action)
            if nxt is not None and nxt not in previous:
                previous[nxt] = (state, action)
                queue.append(nxt)
    return None


def parse_actions(text: str) -> list[Action] | None:
    """Actions written ``fill A, pour A->B, empty B``; ``None`` if anything else is there."""
    actions: list[Action] = []
    for match in _ACTION.finditer(text):
        if match.group(1):
            actions.append((match.group(1).lower(), match.group(2).upper()))
        else:
            actions.append(("pour", match.group(3).upper(), match.group(4).upper()))
    leftover = re.sub(r"[\s,;.]", "", _ACTION.sub("", text))
    return actions if actions and not leftover else None


class WaterJugsEnv(TextTaskEnv):
    """Measure ``target`` litres with two unmarked jugs in as few actions as possible.

    ## Description
    Jugs A and B of random capacities up to ``max_capacity`` start empty; an action fills a jug, empties it, or
    pours one into the other until the source is empty or the target full. A target reachable from the
    capacities is drawn; the prompt states the fewest actions needed (breadth-first search).

    ## Action Space
    ``text_space(8192)``: ``<answer>fill B, pour B->A, empty A</answer>``; anything else is a format error.

    ## Observation Space
    ``Dict(text=Text)``: capacities, target and action budget.

    ## Rewards
    1.0 iff after the actions (no more than the budget) one jug holds exactly the target, else 0.0.

    ## Episode End
    After the first step. ``reset`` info: ``answer``, ``expert_action``, ``expert_thought``; ``step`` info:
    ``success``, ``format_error``, ``answer``, ``reward/*``.

    ## Arguments
    ``max_capacity`` (3-20, default 7): the difficulty.

    ## Version History
    * v0: initial version.
    """

    max_question_length = 500

    def __init__(self, max_capacity: int = 7, reward_weights: dict[str, float] | None = None) -> None:
        int_in_range("max_capacity", max_capacity, 3, 20)
        self.max_capacity = max_capacity
        super().__init__(reward_weights)

    def generate(self, rng: np.random.Generator) -> Problem:
        while True:
            a, b = (int(x) for x in rng.choice(np.arange(2, self.max_capacity + 1), size=2, replace=False))
            target = int(rng.integers(1, max(a, b) + 1))
            plan = shortest_plan((a, b), target)
            if plan:
                break
        question = (f"Jug A holds {a} litres and jug B holds {b} litres; both start empty. Actions: fill A, "
                    "fill B, empty A, empty B, pour A->B, pour B->A (pouring stops when the source is empty or the "
                    f"other jug is full). Get exactly {target} litres in one jug in at most {len(plan)} actions. "
                    "Answer with the actions, like: fill A, pour A->B.")
        answer = ", ".join(f"pour {x[1]}->{x[2]}" if x[0] == "pour" else f"{x[0]} {x[1]}" for x in plan)
        return Problem(question=question, answer=answer, expert_answer=answer,
                       expert_thought="Breadth-first search over the jug volumes gives this shortest plan.",
                       data={"capacities": [a, b], "target": target, "budget": len(plan)})

    def check(self, answer: str, problem: Problem) -> bool | None:
        actions = parse_actions(answer)
        if actions is None:
            return None
        if len(actions) > problem.data["budget"]:
            return False
        volumes: tuple[int, int] | None = (0, 0)
        capacities = tuple(problem.data["capacities"])
        for action in actions:
            volumes = step_jugs(volumes, capacities, action)  # type: ignore[arg-type]
            if volumes is None:
                return False
        return problem.data["target"] in volumes
