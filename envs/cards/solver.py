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


# An expression in normal form: sums and products are flattened n-ary nodes with sorted operands, so formulas
# that differ only by commutativity or associativity (a+b+c, c+(b+a)) print the same. A node is
# (value, kind, plus, minus): kind "sum" -> plus/minus are the texts of the added/subtracted terms; kind
# "product" -> the texts of the multiplied/divided factors (a sum in brackets); kind "atom" -> plus = (number,).
_Node = tuple[Fraction, str, tuple[str, ...], tuple[str, ...]]


def _text(node: _Node) -> str:
    _, kind, plus, minus = node
    if kind == "atom":
        return plus[0]
    joiner, inverse = ("+", "-") if kind == "sum" else ("*", "/")
    return joiner.join(plus) + "".join(inverse + term for term in minus)


def _parts(node: _Node, kind: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``node`` as operands of a ``kind`` node: its own operands if it is one, else itself (bracketed if needed)."""
    if node[1] == kind:
        return node[2], node[3]
    text = _text(node)
    return ((f"({text})" if kind == "product" and node[1] == "sum" else text),), ()


def _make(op: str, a: _Node, b: _Node, value: Fraction) -> _Node:
    kind = "sum" if op in "+-" else "product"
    a_plus, a_minus = _parts(a, kind)
    b_plus, b_minus = _parts(b, kind)
    if op in "+*":
        plus, minus = a_plus + b_plus, a_minus + b_minus
    else:  # a - (p - m) = a - p + m; a / (p / m) = a / p * m
        plus, minus = a_plus + b_minus, a_minus + b_plus
    return value, kind, tuple(sorted(plus)), tuple(sorted(minus))


def _apply(op: str, a: Fraction, b: Fraction) -> Fraction | None:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return None if b == 0 else a / b


@lru_cache(maxsize=4096)
def _expressions(numbers: tuple[int, ...]) -> dict[Fraction, tuple[_Node, ...]]:
    """Every expression over a sorted multiset in normal form, grouped by value."""
    if len(numbers) == 1:
        return {Fraction(numbers[0]): ((Fraction(numbers[0]), "atom", (str(numbers[0]),), ()),)}
    found: dict[str, _Node] = {}
    for left, right in _splits(numbers):
        right_nodes = [node for nodes in _expressions(right).values() for node in nodes]
        for nodes in _expressions(left).values():
            for a in nodes:
                for b in right_nodes:
                    for op in "+-*/":
                        value = _apply(op, a[0], b[0])
                        if value is not None:
                            node = _make(op, a, b, value)
                            found.setdefault(_text(node), node)
    grouped: dict[Fraction, list[_Node]] = {}
    for node in found.values():
        grouped.setdefault(node[0], []).append(node)
    return {value: tuple(nodes) for value, nodes in grouped.items()}


def _needed(op: str, a: Fraction, target: Fraction) -> list[Fraction] | None:
    """The right operands b with ``a op b == target`` (None: any b works)."""
    if op == "+":
        return [target - a]
    if op == "-":
        return [a - target]
    if op == "*":
        return [target / a] if a != 0 else (None if target == 0 else [])
    if target != 0:
        return [a / target] if a != 0 else []
    return None if a == 0 else []


def solve(numbers: list[int], target: int = 24) -> list[str]:
    """Every distinct formula over ``numbers`` (each used exactly once) that equals ``target``.

    Formulas use ``+ - * /`` and brackets only around a sum inside a product. Formulas equal up to
    commutativity and associativity are listed once, in one normal form (``(1+2+3)*4`` stands for
    ``4*(3+(2+1))``); other rewritings (``2*3*4/1`` and ``1*2*3*4``) stay distinct. Sorted by length then text;
    empty if none exists.
    """
    if not numbers or not is_solvable(numbers, target):
        return []
    key = tuple(sorted(numbers))
    goal = Fraction(target)
    if len(key) == 1:
        return [str(key[0])]
    texts: set[str] = set()
    for left, right in _splits(key):  # only the last operation is searched by value: it must hit the target
        by_value = _expressions(right)
        for nodes in _expressions(left).values():
            for a in nodes:
                for op in "+-*/":
                    needed = _needed(op, a[0], goal)
                    candidates = (by_value.values() if needed is None
                                  else [by_value.get(value, ()) for value in needed])
                    for group in candidates:
                        for b in group:
                            if op == "/" and b[0] == 0:
                                continue
                            texts.add(_text(_make(op, a, b, goal)))
    # The printer keeps every bracket that matters; check every answer with the verifier anyway.
    return [text for text in sorted(texts, key=lambda t: (len(t), t)) if reaches_target(text, list(numbers), target)]
