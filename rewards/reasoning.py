"""Rule checks of a response's reasoning, where its steps can be checked: every equation `expression = number`
written in a thought (Countdown's and Arithmetic's intermediate steps, the formula in a Points24 thought) must hold
exactly. Used by CoT-pass@k's rule judge (`mmrl.judges.RuleJudge`). Exact fractions, never `eval`.
"""

from __future__ import annotations

import re

from mmrl.envs.text.expression import evaluate, parse_number

# An equation: an arithmetic expression (digits, operators, brackets, spaces), '=', then a number.
_EQUATION = re.compile(r"([0-9.\s+\-*/×÷·()\[\]]*[0-9)\]][0-9.\s+\-*/×÷·()\[\]]*)=\s*(-?\d+(?:\.\d+)?(?:/\d+)?)")


def equations(thought: str) -> list[tuple[str, str]]:
    """The (expression, value) pairs of the equations written in a thought, in order."""
    return [(lhs.strip(), rhs) for lhs, rhs in _EQUATION.findall(thought) if any(op in lhs for op in "+-*/×÷·")]


def equations_hold(thought: str) -> bool:
    """True iff the thought writes at least one equation and every one of them is exactly right."""
    found = equations(thought)
    if not found:
        return False
    for lhs, rhs in found:
        value, target = evaluate(lhs), parse_number(rhs)
        if value is None or target is None or value.value != target:
            return False
    return True


def equation_share(thought: str) -> float:
    """Share of the equations written in `thought` that hold exactly; 0.0 when it writes none (PROF's rule-based
    process score, `mmrl.process_scores`)."""
    found = equations(thought)
    if not found:
        return 0.0
    held = 0
    for lhs, rhs in found:
        value, target = evaluate(lhs), parse_number(rhs)
        held += int(value is not None and target is not None and value.value == target)
    return held / len(found)
