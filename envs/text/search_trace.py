"""Depth-first search traces of a numbers puzzle as chain-of-thought (ASTRO's idea: Kim et al. 2025, "ASTRO:
Teaching Language Models to Reason by Reflecting and Backtracking In-Context"; from its abstract).

`numbers_search_trace` runs a depth-first search over "combine two of the numbers with + - * /" (Countdown's and
Points24's move) and writes what it did, in order: every combination it tried (an equation the rule judge can
check), every dead end with a reflection and a backtracking phrase, until it reaches the target. After
`max_dead_ends` dead ends the rest of the failed search is skipped with one phrase and the trace follows the path
that works. ASTRO linearises Monte Carlo tree search over math solutions; this is a plain DFS over a puzzle whose
steps are exact, a simplification.
"""

from __future__ import annotations

from fractions import Fraction

OPS = "+-*/"
MAX_NODES = 20_000
"""Most combinations one search tries (a puzzle with many numbers stops there, unsolved)."""


def _fmt(x: Fraction) -> str:
    return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


def _apply(op: str, a: Fraction, b: Fraction) -> Fraction | None:
    """a op b, or None for a move the search does not make (a non-positive difference, an inexact division)."""
    if op == "+":
        return a + b
    if op == "*":
        return a * b
    if op == "-":
        return a - b if a > b else None
    return a / b if b != 0 and (a / b).denominator == 1 else None


def numbers_search_trace(numbers: list[int], target: int, max_dead_ends: int = 3) -> tuple[str, str] | None:
    """(thought, answer expression) of a depth-first search for `target` from `numbers` (each used at most once),
    or None when the search finds no way. Pure and deterministic."""
    goal = Fraction(target)
    events: list[tuple[str, str]] = []  # ("try", equation) | ("dead", value) in the order the search made them
    path: list[str] = []
    budget = [MAX_NODES]

    def dfs(terms: list[tuple[Fraction, str]]) -> str | None:
        for value, expr in terms:
            if value == goal:
                return expr
        if len(terms) < 2 or budget[0] <= 0:
            return None
        for i in range(len(terms)):
            for j in range(len(terms)):
                (a, ea), (b, eb) = terms[i], terms[j]
                if i == j or (a < b) or (a == b and i > j):  # larger first; equal values once
                    continue
                for op in OPS:
                    value = _apply(op, a, b)
                    if value is None:
                        continue
                    budget[0] -= 1
                    step = f"{_fmt(a)} {op} {_fmt(b)} = {_fmt(value)}"
                    events.append(("try", step))
                    path.append(step)
                    rest = [t for k, t in enumerate(terms) if k not in (i, j)] + [(value, f"({ea} {op} {eb})")]
                    found = dfs(rest)
                    if found is not None:
                        return found
                    path.pop()
                    events.append(("dead", _fmt(value)))
        return None

    found = dfs([(Fraction(n), str(n)) for n in numbers])
    if found is None:
        return None
    lines, dead = [], 0
    for kind, text in events:
        if kind == "dead":
            dead += 1
            lines.append(f"Not {target}; go back.")
            if dead >= max_dead_ends:
                break
        else:
            lines.append(f"Try {text}.")
    if dead >= max_dead_ends:  # skip the rest of the failed search: follow the path that works
        lines.append("Let me try another way.")
        lines += [f"Try {step}." for step in path]
    lines.append(f"That reaches {target}.")
    answer = found[1:-1] if found.startswith("(") and found.endswith(")") else found
    return " ".join(lines), answer
