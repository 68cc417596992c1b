"""Exact arithmetic on untrusted text: a small recursive-descent parser over :class:`fractions.Fraction`.

Model answers are never passed to ``eval``; they are tokenised and parsed by the grammar below, with limits on
length, nesting depth and literal size, so every call runs in time linear in the (capped) input and never raises::

    expr    := term (("+" | "-") term)*
    term    := unary (("*" | "/") unary)*          ("×", "·" and "÷" are accepted too)
    unary   := ("+" | "-") unary | primary
    primary := NUMBER | "(" expr ")"               also "[" "]" and "{" "}" as brackets
    NUMBER  := digits ["." digits] | "." digits
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

#: Longest expression text accepted (characters, after stripping); longer text is rejected, not truncated.
MAX_EXPRESSION_LENGTH = 1000
#: Deepest nesting of brackets and unary signs accepted.
MAX_DEPTH = 50
#: Most digits in one number literal.
MAX_LITERAL_DIGITS = 30

_OPERATORS = {"+": "+", "-": "-", "*": "*", "/": "/", "×": "*", "·": "*", "÷": "/", "−": "-"}
_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = set(_OPEN.values())
_NUMBER = re.compile(r"\d+(?:\.\d+)?|\.\d+")
_PLAIN_NUMBER = re.compile(r"([+-]?)(\d+(?:\.\d+)?|\.\d+)(?:/([+-]?)(\d+))?")


class _ParseError(Exception):
    """Internal: the text is not an expression of the grammar (never escapes this module)."""


@dataclass
class Evaluation:
    """The value of an expression and the number literals it used, in order of appearance."""

    value: Fraction
    literals: list[Fraction] = field(default_factory=list)


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char in _OPERATORS:
            tokens.append(_OPERATORS[char])
            i += 1
        elif char in _OPEN or char in _CLOSE:
            tokens.append(char)
            i += 1
        else:
            match = _NUMBER.match(text, i)
            if match is None:
                raise _ParseError(f"unexpected character {char!r}")
            literal = match.group()
            if sum(c.isdigit() for c in literal) > MAX_LITERAL_DIGITS:
                raise _ParseError("number literal too long")
            tokens.append(literal)
            i = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.position = 0
        self.literals: list[Fraction] = []

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise _ParseError("unexpected end of expression")
        self.position += 1
        return token

    def expr(self, depth: int) -> Fraction:
        value = self.term(depth)
        while self.peek() in ("+", "-"):
            op = self.take()
            right = self.term(depth)
            value = value + right if op == "+" else value - right
        return value

    def term(self, depth: int) -> Fraction:
        value = self.unary(depth)
        while self.peek() in ("*", "/"):
            op = self.take()
            right = self.unary(depth)
            if op == "*":
                value = value * right
            elif right == 0:
                raise _ParseError("division by zero")
            else:
                value = value / right
        return value

    def unary(self, depth: int) -> Fraction:
        if depth > MAX_DEPTH:
            raise _ParseError("expression nested too deeply")
        if self.peek() in ("+", "-"):
            sign = self.take()
            value = self.unary(depth + 1)
            return -value if sign == "-" else value
        return self.primary(depth)

    def primary(self, depth: int) -> Fraction:
        token = self.take()
        if token in _OPEN:
            value = self.expr(depth + 1)
            if self.take() != _OPEN[token]:
                raise _ParseError("mismatched bracket")
            return value
        if token[0].isdigit() or token[0] == ".":
            value = Fraction(token)
            self.literals.append(value)
            return value
        raise _ParseError(f"unexpected token {token!r}")


def evaluate(text: str) -> Evaluation | None:
    """The exact value of an arithmetic expression (``+ - * /``, brackets, unary signs, decimal literals) and the
    literals it used; ``None`` for anything else (syntax errors, division by zero, text over the limits).
    Never raises on a ``str`` and never executes code."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    if not text or len(text) > MAX_EXPRESSION_LENGTH:
        return None
    try:
        parser = _Parser(_tokenize(text))
        value = parser.expr(0)
        if parser.peek() is not None:
            return None
    except (_ParseError, ValueError, ZeroDivisionError, RecursionError, OverflowError):
        return None
    return Evaluation(value=value, literals=parser.literals)


def parse_number(text: str) -> Fraction | None:
    """A plain number written as an integer, a decimal or a fraction ``a/b`` (optional signs), e.g. ``-3``,
    ``0.75``, ``3/4``; ``None`` for anything else, including expressions such as ``1+2``. Never raises."""
    if not isinstance(text, str) or len(text) > 2 * MAX_LITERAL_DIGITS + 4:
        return None
    match = _PLAIN_NUMBER.fullmatch(text.strip().replace(" ", "").replace("−", "-"))
    if match is None:
        return None
    sign, numerator, denominator_sign, denominator = match.groups()
    if len(numerator) > MAX_LITERAL_DIGITS:
        return None
    value = Fraction(numerator)
    if denominator is not None:
        if int(denominator) == 0:
            return None
        value /= int(denominator)
        if denominator_sign == "-":
            value = -value
    return -value if sign == "-" else value


def format_number(value: Fraction) -> str:
    """``value`` as an integer (``7``) or a reduced fraction (``-3/4``)."""
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
