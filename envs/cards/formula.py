"""A safe verifier for card-game formulas: exact rational arithmetic, never ``eval``.

Grammar (recursive descent, our own)::

    expression := term (("+" | "-") term)*
    term       := factor (("*" | "/") factor)*
    factor     := ("+" | "-") factor | NUMBER | "(" expression ")"

``NUMBER`` is a run of ASCII digits ``0-9`` (no decimal point, no exponent). Spaces and tabs between tokens are
ignored. Anything else (another character, a non-ASCII digit such as ``"٣"`` or ``"²"``, a formula longer than
:data:`MAX_FORMULA_LENGTH` characters, brackets or unary signs nested deeper than :data:`MAX_DEPTH`, a division by
zero) makes the formula invalid: the functions here return ``None`` and never raise.
"""

from __future__ import annotations

from fractions import Fraction

#: Longest formula (in characters) the verifier reads; longer ones are invalid.
MAX_FORMULA_LENGTH = 64
#: Deepest nesting of brackets and unary signs; deeper formulas are invalid.
MAX_DEPTH = 16
DIGITS = "0123456789"
OPERATORS = "+-*/()"
SPACES = " \t"


class _Invalid(Exception):
    """Raised inside the parser; never escapes this module."""


def tokenize(formula: str) -> list[str] | None:
    """Split ``formula`` into number and operator tokens, or ``None`` if it has any other character."""
    if not isinstance(formula, str) or len(formula) > MAX_FORMULA_LENGTH:
        return None
    tokens: list[str] = []
    number = ""
    for char in formula:
        if char in DIGITS:  # explicit ASCII set: str.isdigit() would accept "²" and "٣"
            number += char
            continue
        if number:
            tokens.append(number)
            number = ""
        if char in OPERATORS:
            tokens.append(char)
        elif char not in SPACES:
            return None
    if number:
        tokens.append(number)
    return tokens


class _Parser:
    """Recursive-descent parser over a token list; builds nested tuples ``(op, left, right)`` / ``("neg", x)``."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.position = 0

    def parse(self):
        if not self.tokens:
            raise _Invalid
        tree = self._expression(0)
        if self.position != len(self.tokens):
            raise _Invalid
        return tree

    def _peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _expression(self, depth: int):
        tree = self._term(depth)
        while self._peek() in ("+", "-"):
            op = self.tokens[self.position]
            self.position += 1
            tree = (op, tree, self._term(depth))
        return tree

    def _term(self, depth: int):
        tree = self._factor(depth)
        while self._peek() in ("*", "/"):
            op = self.tokens[self.position]
            self.position += 1
            tree = (op, tree, self._factor(depth))
        return tree

    def _factor(self, depth: int):
        token = self._peek()
        if token is None:
            raise _Invalid
        if token in ("+", "-", "("):
            if depth >= MAX_DEPTH:
                raise _Invalid
            self.position += 1
            if token == "(":
                tree = self._expression(depth + 1)
                if self._peek() != ")":
                    raise _Invalid
                self.position += 1
                return tree
            inner = self._factor(depth + 1)
            return ("neg", inner) if token == "-" else inner
        if token[0] in DIGITS:
            self.position += 1
            return int(token)
        raise _Invalid


def _parse(formula: str):
    tokens = tokenize(formula)
    if tokens is None:
        return None
    try:
        return _Parser(tokens).parse()
    except _Invalid:
        return None


def _value(tree) -> Fraction:
    if isinstance(tree, int):
        return Fraction(tree)
    if tree[0] == "neg":
        return -_value(tree[1])
    op, left, right = tree
    a, b = _value(left), _value(right)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        raise _Invalid
    return a / b


def _numbers(tree, out: list[int]) -> list[int]:
    if isinstance(tree, int):
        out.append(tree)
    else:
        for child in tree[1:]:
            _numbers(child, out)
    return out


def evaluate(formula: str) -> Fraction | None:
    """The exact value of ``formula``, or ``None`` if it is invalid (see the module docstring). Never raises."""
    tree = _parse(formula)
    if tree is None:
        return None
    try:
        return _value(tree)
    except _Invalid:
        return None


def numbers_used(formula: str) -> list[int] | None:
    """The numbers written in ``formula``, left to right, or ``None`` if it does not parse. Never raises.

    A formula that parses but divides by zero still lists its numbers (use :func:`evaluate` for its value).
    """
    tree = _parse(formula)
    return None if tree is None else _numbers(tree, [])


def reaches_target(formula: str, numbers: list[int], target: int | Fraction = 24) -> bool:
    """True when ``formula`` is valid, equals ``target`` and uses each of ``numbers`` exactly once."""
    value = evaluate(formula)
    used = numbers_used(formula)
    return value is not None and used is not None and value == target and sorted(used) == sorted(numbers)
