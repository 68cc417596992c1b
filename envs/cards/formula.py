"""A safe verifier for card-game formulas: exact rational arithmetic, never ``eval``.

Grammar (recursive descent, the shared parser of :mod:`mmrl.envs.arith` with the :data:`GRAMMAR` preset)::

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

from mmrl.envs import arith

#: Longest formula (in characters) the verifier reads; longer ones are invalid.
MAX_FORMULA_LENGTH = 64
#: Deepest nesting of brackets and unary signs; deeper formulas are invalid.
MAX_DEPTH = 16
DIGITS = "0123456789"
OPERATORS = "+-*/()"
SPACES = " \t"

#: The card-game preset: ASCII integers, ``+ - * /``, round brackets, unary signs, spaces and tabs only.
GRAMMAR = arith.Grammar(max_length=MAX_FORMULA_LENGTH, max_depth=MAX_DEPTH, operators="+-*/", brackets="(",
                        spaces=SPACES, ascii_digits=True, decimals=False, unary_signs=True, strip=False)


def tokenize(formula: str) -> list[str] | None:
    """Split ``formula`` into number and operator tokens, or ``None`` if it has any other character."""
    return arith.tokenize(formula, GRAMMAR)


def evaluate(formula: str) -> Fraction | None:
    """The exact value of ``formula``, or ``None`` if it is invalid (see the module docstring). Never raises."""
    return arith.evaluate(formula, GRAMMAR)


def numbers_used(formula: str) -> list[int] | None:
    """The numbers written in ``formula``, left to right, or ``None`` if it does not parse. Never raises.

    A formula that parses but divides by zero still lists its numbers (use :func:`evaluate` for its value).
    """
    parsed = arith.parse(formula, GRAMMAR)
    return None if parsed is None else parsed.literals


def reaches_target(formula: str, numbers: list[int], target: int | Fraction = 24) -> bool:
    """True when ``formula`` is valid, equals ``target`` and uses each of ``numbers`` exactly once."""
    parsed = arith.parse(formula, GRAMMAR)
    return (parsed is not None and parsed.value is not None and parsed.value == target
            and sorted(parsed.literals) == sorted(numbers))
