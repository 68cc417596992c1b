"""``mmrl/GraphColoring-v0``: colour the nodes of a graph so that no edge joins two nodes of one colour."""

from __future__ import annotations

import re

import numpy as np

from mmrl.envs.checks import int_in_range
from mmrl.envs.text.base import Problem, TextTaskEnv

NODES = "ABCDEFGHIJKL"
_ITEM = re.compile(r"\b([A-L])\s*[=:]\s*(\d{1,2})\b")


def proper(colours: dict[str, int], edges: list[tuple[str, str]], k: int) -> bool:
    """Every colour is in ``1..k`` and no edge has both ends of one colour."""
    return all(1 <= c <= k for c in colours.values()) and all(colours[a] != colours[b] for a, b in edges)


def generate_graph(rng: np.random.Generator, nodes: int, k: int, density: float):
    """``(edges, hidden colouring)``: each pair of nodes of different hidden colours is joined with probability
    ``density`` (so the hidden colouring is always proper)."""
    hidden = [int(c) for c in rng.integers(1, k + 1, size=nodes)]
    edges = [(NODES[i], NODES[j]) for i in range(nodes) for j in range(i + 1, nodes)
             if hidden[i] != hidden[j] and rng.random() < density]
    return edges, hidden


def parse_colours(text: str, names: str) -> dict[str, int] | None:
    """``{node: colour}`` from ``A=1, B: 2``; ``None`` unless every node appears with one colour."""
    found: dict[str, int] = {}
    for match in _ITEM.finditer(text):
        node, colour = match.group(1), int(match.group(2))
        if node not in names or found.get(node, colour) != colour:
            return None
        found[node] = colour
    return found if len(found) == len(names) else None


class GraphColoringEnv(TextTaskEnv):
    """Colour a graph's nodes with colours 1..k so that adjacent nodes differ (a SynLogic-style task).

    ## Description
    ``nodes`` nodes named A, B, ...; edges drawn between nodes of different colours of a hidden k-colouring with
    probability ``density``; the verifier accepts any proper colouring with colours 1..k.

    ## Action Space
    ``text_space(8192)``: ``<answer>A=1, B=2, C=1</answer>``; a missing or doubly coloured node is a format
    error.

    ## Observation Space
    ``Dict(text=Text)``: the number of colours and the edge list.

    ## Rewards
    1.0 iff every colour is in 1..k and no edge joins two nodes of one colour, else 0.0.

    ## Episode End
    After the first step. ``reset`` info: ``answer``, ``expert_action``, ``expert_thought``; ``step`` info:
    ``success``, ``format_error``, ``answer``, ``reward/*``.

    ## Arguments
    ``nodes`` (3-12, default 5), ``colours`` (2-4, default 3), ``density`` (0.1-1, default 0.6): the difficulty.

    ## Version History
    * v0: initial version.
    """

    max_question_length = 1200

    def __init__(self, nodes: int = 5, colours: int = 3, density: float = 0.6,
                 reward_weights: dict[str, float] | None = None) -> None:
        int_in_range("nodes", nodes, 3, len(NODES))
        int_in_range("colours", colours, 2, 4)
        if not 0.1 <= density <= 1.0:
            raise ValueError(f"density must be in [0.1, 1], got {density!r}")
        self.nodes, self.colours, self.density = nodes, colours, float(density)
        super().__init__(reward_weights)

    def generate(self, rng: np.random.Generator) -> Problem:
        edges, hidden = generate_graph(rng, self.nodes, self.colours, self.density)
        names = NODES[: self.nodes]
        answer = ", ".join(f"{n}={c}" for n, c in zip(names, hidden, strict=True))
        question = (f"Colour the nodes {', '.join(names)} with colours 1 to {self.colours} so that the two ends of "
                    f"every edge have different colours. Edges: "
                    f"{', '.join(f'{a}-{b}' for a, b in edges) or 'none'}.\nAnswer like: A=1, B=2, ...")
        return Problem(question=question, answer=answer, expert_answer=answer,
                       expert_thought="No edge joins two nodes of the same colour in this colouring.",
                       data=[list(e) for e in edges])

    def check(self, answer: str, problem: Problem) -> bool | None:
        colours = parse_colours(answer, NODES[: self.nodes])
        if colours is None:
            return None
        return proper(colours, [(a, b) for a, b in problem.data], self.colours)
