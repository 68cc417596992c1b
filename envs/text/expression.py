"""Exact arithmetic on untrusted text: a small recursive-descent parser over :class:`fractions.Fraction`.

Model answers are never passed to ``eval``; they are tokenised and parsed by the grammar below, with limits on
length, nesting depth and literal size, so every call runs in time linear in the (capped) input and never raises::

    expr    := term (("+" | "-") term)*
    term    := unary (("*" | "/") unary)*          ("×", "·" and "÷" are accepted too)
    unary   := ("+" | "-") unary | primary
    primary := NUMBER | "(" expr ")"               also "[" "]" and "{" "}" as brackets
    NUMBER  := digits ["." digits] | "." digits

The parser is the shared one of :mod:`mmrl.envs.arith`, with the :data:`GRAMMAR` preset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

from mmrl.envs import arith

#: Longest expression text accepted (characters, after stripping); longer text is rejected, not truncated.
MAX_EXPRESSION_LENGTH = 1000
#: Deepest nesting of brackets and unary signs accepted.
MAX_DEPTH = 50
#: Most digits in one number literal.
MAX_LITERAL_DIGITS = 30

#: The text-task preset: decimals, unary signs, ``× · ÷ −``, ``() [] {}``, any Unicode whitespace and digits.
GRAMMAR = arith.Grammar(max_length=MAX_EXPRESSION_LENGTH, max_depth=MAX_DEPTH, operators="+-*/×·÷−",
                        brackets="([{", spaces=None, ascii_digits=False, decimals=True, unary_signs=True,
                        strip=True, max_literal_digits=MAX_LITERAL_DIGITS)
_PLAIN_NUMBER = re.compile(r"([+-]?)(\d+(?:\.\d+)?|\.\d+)(?:/([+-]?)(\d+))?")


@dataclass
class Evaluation:
    """The value of an expression and the number literals it used, in order of appearance."""

    value: Fraction
    literals: list[Fraction] = field(default_factory=list)


def evaluate(text: str) -> Evaluation | None:
    """The exact value of an arithmetic expression (``+ - * /``, brackets, unary signs, decimal literals) and the
    literals it used; ``None`` for anything else (syntax errors, division by zero, text over the limits).
    Never raises on a ``str`` and never executes code."""
    parsed = arith.parse(text, GRAMMAR)
    if parsed is None or parsed.value is None:
        return None
    return Evaluation(value=parsed.value, literals=parsed.literals)


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
