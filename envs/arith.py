"""Exact arithmetic on untrusted text, never ``eval``: one recursive-descent parser over :class:`fractions.Fraction`.

The grammar is shared by every caller; a frozen :class:`Grammar` of options says which characters, operators,
brackets and literals it accepts and the limits it enforces::

    expr    := term (("+" | "-") term)*
    term    := unary (("*" | "/") unary)*
    unary   := ("+" | "-") unary | primary          (signs only with ``unary_signs``)
    primary := NUMBER | OPEN expr CLOSE              (the bracket pairs in ``brackets``)
    NUMBER  := digits                                (integers only)
             | digits ["." digits] | "." digits      (with ``decimals``)

Limits: the text (after stripping, with ``strip``) is at most ``max_length`` characters; a sign or an opening
bracket may be nested at most ``max_depth`` deep; a literal has at most ``max_literal_digits`` digits.
:func:`parse` returns ``None`` on anything else and never raises on any input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import NamedTuple

#: Operator characters a grammar may accept, and the canonical operator each one stands for.
CANONICAL_OPERATORS = {"+": "+", "-": "-", "*": "*", "/": "/", "×": "*", "·": "*", "÷": "/", "−": "-"}
#: Bracket pairs a grammar may accept (opening -> closing).
BRACKET_PAIRS = {"(": ")", "[": "]", "{": "}"}


@dataclass(frozen=True)
class Grammar:
    """Which texts :func:`parse` accepts.

    ``operators``: accepted operator characters (keys of :data:`CANONICAL_OPERATORS`). ``brackets``: accepted
    opening brackets (keys of :data:`BRACKET_PAIRS`). ``spaces``: characters skipped between tokens, or ``None``
    for any Unicode whitespace. ``ascii_digits``: literals use only ``0-9`` (else any Unicode decimal digit).
    ``decimals``: literals may have a decimal point (and are :class:`Fraction`; otherwise they are ``int``).
    ``unary_signs``: ``+``/``-`` may prefix an operand. ``strip``: leading and trailing whitespace is removed
    before the length check. ``max_literal_digits``: ``None`` for no limit beyond ``max_length``.
    """

    max_length: int
    max_depth: int
    operators: str = "+-*/"
    brackets: str = "("
    spaces: str | None = None
    ascii_digits: bool = False
    decimals: bool = False
    unary_signs: bool = True
    strip: bool = False
    max_literal_digits: int | None = None
    # derived lookup tables (not options)
    _symbols: dict = field(init=False, repr=False, compare=False, hash=False)
    _closing: dict = field(init=False, repr=False, compare=False, hash=False)
    _number: re.Pattern = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        unknown = set(self.operators) - CANONICAL_OPERATORS.keys() | set(self.brackets) - BRACKET_PAIRS.keys()
        if unknown:
            raise ValueError(f"unsupported operator or bracket characters: {sorted(unknown)}")
        symbols = {char: CANONICAL_OPERATORS[char] for char in self.operators}
        closing = {char: BRACKET_PAIRS[char] for char in self.brackets}
        symbols.update({char: char for pair in closing.items() for char in pair})
        digit = "[0-9]" if self.ascii_digits else r"\d"
        number = rf"{digit}+(?:\.{digit}+)?|\.{digit}+" if self.decimals else rf"{digit}+"
        object.__setattr__(self, "_symbols", symbols)
        object.__setattr__(self, "_closing", closing)
        object.__setattr__(self, "_number", re.compile(number))


class Parsed(NamedTuple):
    """A text that parses: its exact value (``None`` when it divides by zero) and its literals, left to right."""

    value: Fraction | None
    literals: list


class _Invalid(Exception):
    """Raised inside the parser; never escapes this module."""


def tokenize(text: str, grammar: Grammar) -> list[str] | None:
    """``text`` as number literals and canonical operator/bracket tokens, or ``None`` if it is not a ``str``,
    is over the length limit, or has a character (or a literal) the grammar does not accept."""
    if not isinstance(text, str):
        return None
    if grammar.strip:
        text = text.strip()
    if len(text) > grammar.max_length:
        return None
    symbols, spaces, number, max_digits = grammar._symbols, grammar.spaces, grammar._number, grammar.max_literal_digits
    tokens: list[str] = []
    i, end = 0, len(text)
    while i < end:
        char = text[i]
        symbol = symbols.get(char)
        if symbol is not None:
            tokens.append(symbol)
            i += 1
        elif char in spaces if spaces is not None else char.isspace():
            i += 1
        else:
            match = number.match(text, i)
            if match is None:
                return None
            literal = match.group()
            if max_digits is not None and sum(c.isdigit() for c in literal) > max_digits:
                return None
            tokens.append(literal)
            i = match.end()
    return tokens


class _Parser:
    """Recursive descent over a token list, computing the value as it goes (``None`` after a division by zero)."""

    __slots__ = ("tokens", "position", "literals", "grammar")

    def __init__(self, tokens: list[str], grammar: Grammar) -> None:
        self.tokens = tokens
        self.position = 0
        self.literals: list = []
        self.grammar = grammar

    def _peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def expr(self, depth: int) -> Fraction | None:
        value = self.term(depth)
        while True:
            op = self._peek()
            if op != "+" and op != "-":
                return value
            self.position += 1
            right = self.term(depth)
            if value is None or right is None:
                value = None
            else:
                value = value + right if op == "+" else value - right

    def term(self, depth: int) -> Fraction | None:
        value = self.unary(depth)
        while True:
            op = self._peek()
            if op != "*" and op != "/":
                return value
            self.position += 1
            right = self.unary(depth)
            if value is None or right is None or (op == "/" and right == 0):
                value = None
            else:
                value = value * right if op == "*" else value / right

    def unary(self, depth: int) -> Fraction | None:
        token = self._peek()
        if token is None:
            raise _Invalid
        grammar = self.grammar
        if token == "+" or token == "-":
            if not grammar.unary_signs or depth >= grammar.max_depth:
                raise _Invalid
            self.position += 1
            value = self.unary(depth + 1)
            return -value if token == "-" and value is not None else value
        closing = grammar._closing.get(token)
        if closing is not None:
            if depth >= grammar.max_depth:
                raise _Invalid
            self.position += 1
            value = self.expr(depth + 1)
            if self._peek() != closing:
                raise _Invalid
            self.position += 1
            return value
        if token in grammar._symbols:  # a closing bracket or an operator where an operand belongs
            raise _Invalid
        self.position += 1
        if grammar.decimals:
            literal = Fraction(token)
            self.literals.append(literal)
            return literal
        literal = int(token)
        self.literals.append(literal)
        return Fraction(literal)


def parse(text: str, grammar: Grammar) -> Parsed | None:
    """``text`` under ``grammar``: its value (``None`` if it divides by zero) and literals (``int`` for integer
    grammars, :class:`Fraction` with ``decimals``), or ``None`` if it is not in the grammar. Never raises."""
    tokens = tokenize(text, grammar)
    if not tokens:
        return None
    parser = _Parser(tokens, grammar)
    try:
        value = parser.expr(0)
    except (_Invalid, ValueError, ZeroDivisionError, RecursionError, OverflowError):
        return None
    if parser.position != len(tokens):
        return None
    return Parsed(value, parser.literals)


def evaluate(text: str, grammar: Grammar) -> Fraction | None:
    """The exact value of ``text`` under ``grammar``, or ``None`` if it does not parse or divides by zero."""
    parsed = parse(text, grammar)
    return None if parsed is None else parsed.value
