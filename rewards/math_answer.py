"""Math answer equivalence with HuggingFace's ``math-verify`` (``1/2``, ``0.5`` and ``\\frac{1}{2}`` are equal).

``math-verify`` parses with SymPy, which can take very long on hostile input (``9^{9^{9^9}}``). It only guards
itself with ``signal.alarm``, which works in the main thread alone, so :func:`math_answers_match` adds its own
guard everywhere: answers over :data:`MAX_MATH_ANSWER_LENGTH` characters are rejected, and so are answers with
more than :data:`MAX_POWER_OPERATORS` powers or factorials, long exponent literals, two-digit powers of symbols
or brackets, or deep nesting; in the main thread math-verify's own timeouts are also on. Rollouts run env steps
on worker threads, so there the static guard is the protection (best effort: a hang left over is abandoned by
the rollout's per-call hang detection).
"""

from __future__ import annotations

import re
import threading
from typing import Any

from mmrl.rewards import register_reward
from mmrl.rewards.parsing import completion_text, extract_tag

#: Longest answer (characters) handed to math-verify; longer ones count as wrong.
MAX_MATH_ANSWER_LENGTH = 300
#: Most power / factorial operators in one answer.
MAX_POWER_OPERATORS = 3
#: Most digits of a literal used as an exponent of a number or under a factorial (a symbol's or a bracketed
#: expression's exponent may have one digit).
MAX_EXPONENT_DIGITS = 2
#: Deepest bracket nesting.
MAX_NESTING = 12
_SLOW_TIMEOUT_S = 5  # generous: a loaded 2-core CI machine took over 2 s for a first SymPy comparison

_POWER = re.compile(r"\^|\*\*|!|\\exp|e\^|\\uparrow")
# Operators SymPy may evaluate at a cost that grows with their arguments; with them all literals must be short.
_HEAVY = re.compile(
    r"\\[dt]?binom|choose|\\prod|\\sum|\\int|\\Gamma|\\lim|\\exp|factorial|gamma|!", re.IGNORECASE
)
_LONG_LITERAL = rf"\d{{{MAX_EXPONENT_DIGITS + 1},}}"
_BIG_EXPONENT = re.compile(r"(?:\^|\*\*)\s*\{?\s*\(?\s*[+-]?" + _LONG_LITERAL)
_BIG_FACTORIAL = re.compile(_LONG_LITERAL + r"\s*\)?\s*!")
# A power inside an exponent (a tower: 10^{10^{10}}, 2^3^4, 2**(3**4)).
_TOWER = re.compile(r"(?:\^|\*\*)\s*(?:\{[^}]*|\(?\s*(?:[\d.]+|[A-Za-z])\s*)(?:\^|\*\*)")
# A power of a symbol or a bracketed expression with a two-digit exponent: expanding products of those is slow.
_SYMBOLIC_EXPONENT = re.compile(r"[A-Za-z)\]}]\s*(?:\^|\*\*)\s*\{?\s*\(?\s*[+-]?\d{2,}")


def _nesting_depth(text: str) -> int:
    depth = deepest = 0
    for char in text:
        if char in "({[":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")}]":
            depth -= 1
    return deepest


def _too_costly(text: str) -> bool:
    """Answers that could make SymPy run for minutes (giant powers, factorials, polynomial products to expand,
    deep nesting) or are just too long."""
    return (
        len(text) > MAX_MATH_ANSWER_LENGTH
        or len(_POWER.findall(text)) > MAX_POWER_OPERATORS
        or _BIG_EXPONENT.search(text) is not None
        or _SYMBOLIC_EXPONENT.search(text) is not None
        or _TOWER.search(text) is not None
        or _BIG_FACTORIAL.search(text) is not None
        or (_HEAVY.search(text) is not None and re.search(r"\d{4,}", text) is not None)
        or len(_HEAVY.findall(text)) > MAX_POWER_OPERATORS
        or _nesting_depth(text) > MAX_NESTING
    )


def _parse(text: str, timeout: int | None) -> list[Any]:
    from math_verify import parse  # imported lazily: SymPy takes a second to import

    # "$...$" lets the LaTeX extractor read bare "\frac12"; plain text covers "1/2" and "0.5".
    for candidate in (f"${text}$", text):
        parsed = parse(candidate, parsing_timeout=timeout)
        if parsed:
            return parsed
    return []


def math_answers_match(given: str, truth: str) -> bool:
    """Whether ``given`` and ``truth`` are the same mathematical answer according to math-verify (numbers,
    fractions, LaTeX, expressions, sets, ...). ``False`` for text it cannot parse, for answers that the guard
    refuses (see the module docstring) and on any error. Never raises; never executes the text."""
    if not isinstance(given, str) or not isinstance(truth, str):
        return False
    given, truth = given.strip(), truth.strip()
    if not given or not truth or _too_costly(given):
        return False
    timeout = _SLOW_TIMEOUT_S if threading.current_thread() is threading.main_thread() else None
    try:
        from math_verify import verify

        gold, prediction = _parse(truth, timeout), _parse(given, timeout)
        if not gold or not prediction:
            return False
        return bool(verify(gold, prediction, timeout_seconds=timeout))
    except Exception:  # noqa: BLE001 - SymPy can raise almost anything on odd input; that answer is just wrong
        return False


@register_reward("math_verify_accuracy")
def math_verify_accuracy(completions: list[Any], *, answer: list[Any], **kwargs: Any) -> list[float | None]:
    """1.0 iff the last ``<answer>...</answer>`` of the completion (the whole completion when there is no tag)
    is mathematically equal to ``answer`` by :func:`math_answers_match`, else 0.0; ``None`` where ``answer`` is
    ``None``."""
    rewards: list[float | None] = []
    for completion, truth in zip(completions, answer, strict=True):
        if truth is None:
            rewards.append(None)
            continue
        text = completion_text(completion)
        given = extract_tag(text, "answer")
        rewards.append(float(math_answers_match(text if given is None else given, str(truth))))
    return rewards
