"""Exact solver for the 24 game (and any target): which formulas over the cards reach the target.

Numbers combine with ``+ - * /`` and brackets, each number used exactly once, in exact rational arithmetic
(``8/(3-8/3) = 24`` counts). :func:`is_solvable` answers yes/no from memoised sets of reachable values;
:func:`solve` lists the formulas themselves.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from itertools import combinations

from mmrl.envs.cards.formula import reaches_target

# Operator precedence for printing with the fewest brackets; a number is an atom.
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "atom": 3}


def _splits(numbers: tuple[int, ...]) -> set[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Every way to cut a sorted multiset into two non-empty sorted sub-multisets (left, right), both orders."""
    indices = range(len(numbers))
    out = set()
    for size in range(1, len(numbers)):
        for chosen in combinations(indices, size):
            left = tuple(numbers[i] for i in chosen)
            right = tuple(numbers[i] for i in indices if i not in chosen)
            out.add((left, right))
    return out


def _combine(a: Fraction, b: Fraction) -> list[Fraction]:
    values = [a + b, a - b, b - a, a * b]
    if b != 0:
        values.append(a / b)
    if a != 0:
        values.append(b / a)
    return values


@lru_cache(maxsize=65536)
def _values(numbers: tuple[int, ...]) -> frozenset[Fraction]:
    """All values reachable from a sorted multiset of numbers."""
    if len(numbers) == 1:
        return frozenset((Fraction(numbers[0]),))
    out: set[Fraction] = set()
    for left, right in _splits(numbers):
        if left > right:  # _combine covers both orders
            continue
        for a in _values(left):
            for b in _values(right):
                out.update(_combine(a, b))
    return frozenset(out)


def _partners(x: Fraction, target: Fraction) -> list[Fraction]:
    """The values y for which some ``x op y`` or ``y op x`` equals ``target``."""
    out = [target - x, x - target, x + target]
    if x != 0:
        out += [target / x, target * x]  # x * y, y / x
    if target != 0:
        out.append(x / target)  # x / y (y != 0 follows when x != 0; x == 0 gives y == 0, filtered below)
    return out


@lru_cache(maxsize=65536)
def _is_solvable(numbers: tuple[int, ...], target: Fraction) -> bool:
    if len(numbers) == 1:
        return Fraction(numbers[0]) == target
    for left, right in _splits(numbers):
        right_values = _values(right)
        for x in _values(left):
            for y in _partners(x, target):
                if y in right_values and (y != 0 or x + y == target or x - y == target
                                          or y - x == target or x * y == target):
                    return True
    return False


def is_solvable(numbers: list[int], target: int = 24) -> bool:
    """True when some formula over ``numbers`` (each used once; ``+ - * /``, brackets) equals ``target``."""
    if not numbers:
        return False
    return _is_solvable(tuple(sorted(numbers)), Fraction(target))


def _wrap(text: str, needs_brackets: bool) -> str:
    return f"({text})" if needs_brackets else text


def _join(op: str, left: tuple[str, str], right: tuple[str, str]) -> str:
    """Print ``left op right`` with the fewest brackets that keep the exact value (each side: (text, top op))."""
    (left_text, left_op), (right_text, right_op) = left, right
    precedence = _PRECEDENCE[op]
    left_text = _wrap(left_text, _PRECEDENCE[left_op] < precedence)
    if op in ("+", "*"):  # a+(b-c) == a+b-c and a*(b/c) == a*b/c exactly
        right_text = _wrap(right_text, _PRECEDENCE[right_op] < precedence)
    else:  # a-(b+c) and a/(b*c) keep their brackets
        right_text = _wrap(right_text, _PRECEDENCE[right_op] <= precedence)
    return f"{left_text}{op}{right_text}"


@lru_cache(maxsize=4096)
def _expressions(numbers: tuple[int, ...]) -> tuple[tuple[Fraction, str, str], ...]:
    """Every (value, text, top operator) over a sorted multiset; commutative operands in one order only."""
    if len(numbers) == 1:
        return ((Fraction(numbers[0]), str(numbers[0]), "atom"),)
    out: dict[tuple[Fraction, str], str] = {}
    for left, right in _splits(numbers):
        for a, a_text, a_op in _expressions(left):
            for b, b_text, b_op in _expressions(right):
                candidates = [("-", a - b)]
                if b != 0:
                    candidates.append(("/", a / b))
                if (a_text, a_op) <= (b_text, b_op):  # + and * are commutative: keep one operand order
                    candidates += [("+", a + b), ("*", a * b)]
                for op, value in candidates:
                    text = _join(op, (a_text, a_op), (b_text, b_op))
                    out.setdefault((value, text), op)
    return tuple((value, text, op) for (value, text), op in out.items())


def solve(numbers: list[int], target: int = 24) -> list[str]:
    """Every distinct formula over ``numbers`` (each used exactly once) that equals ``target``, sorted.

    Formulas use ``+ - * /`` and the fewest brackets that keep the value; ``a+b`` and ``b+a`` (likewise ``*``)
    are listed once, while regroupings such as ``a+b+c`` and ``a+c+b`` may both appear. Empty if none exists.
    """
    if not numbers or not is_solvable(numbers, target):
        return []
    key = tuple(sorted(numbers))
    goal = Fraction(target)
    found = sorted({text for value, text, _ in _expressions(key) if value == goal}, key=lambda t: (len(t), t))
    # The printer drops only brackets that cannot change an exact value; check every answer anyway.
    return [text for text in found if reaches_target(text, list(numbers), target)]
