"""Rule checks of verifiable instruction constraints (RAIF's rule-centric rewards; IFEval-style catalogue).

RAIF (Qin et al., 2025, "Incentivizing Reasoning for Advanced Instruction-Following of Large Language Models")
rewards a response by rule checks of the constraints of a complex instruction. A constraint is ``[kind, params]``
(plain JSON values); :data:`CHECKS` maps each kind to a pure check of the answer text. Every check runs in linear
time on any string and never raises (a check that would raise counts as unsatisfied). Words are ``\\w+`` runs;
keyword, phrase and section checks ignore case; only the case constraints look at case.

The rewards read the response's answer (:data:`mmrl.formats.THINK_ANSWER`: the last ``<answer>`` tag) and the ``constraints`` column (one list of
``[kind, params]`` per completion): ``constraints_all`` is 1.0 iff every constraint holds, ``constraints_share``
the fraction that holds; no tag counts 0.0, a row without constraints gets ``None``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from mmrl.formats import THINK_ANSWER
from mmrl.rewards import register_reward
from mmrl.rewards.parsing import completion_text

_WORD = re.compile(r"\w+")
_TERMINATORS = re.compile(r"[.!?]+")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_BULLET = re.compile(r"^[ \t]*[-*][ \t]+\S", re.MULTILINE)
_SECTION = re.compile(r"^[ \t]*section[ \t]+(\d{1,3})\b", re.MULTILINE | re.IGNORECASE)
_PLACEHOLDER = re.compile(r"\[[^\[\]\n]{1,60}\]")
_TITLE = re.compile(r"<<[^<>\n]{1,100}>>")
_POSTSCRIPT = re.compile(r"^[ \t]*p\.[ \t]?s\.", re.MULTILINE | re.IGNORECASE)
_HIGHLIGHT = re.compile(r"\*[^*\n]{1,100}\*")
_FENCE = re.compile(r"^```(?:json)?[ \t]*\n?|\n?```$", re.IGNORECASE)


def words(text: str) -> list[str]:
    """The words of ``text``: maximal runs of ``\\w`` characters."""
    return _WORD.findall(text)


def sentence_count(text: str) -> int:
    """Pieces of text that contain a word and end with ``.``, ``!`` or ``?`` (runs of them count once)."""
    pieces = _TERMINATORS.split(text)
    return sum(1 for piece in pieces[:-1] if _WORD.search(piece))


def paragraphs(text: str) -> list[str]:
    """Non-empty blocks of ``text`` separated by blank lines."""
    return [block for block in _BLANK_LINE.split(text.strip()) if block.strip()]


def word_occurrences(text: str, word: str) -> int:
    """How often ``word`` occurs as a whole word, ignoring case."""
    target = word.casefold()
    return sum(1 for w in words(text) if w.casefold() == target)


def _has_letters(text: str) -> bool:
    return any(char.isalpha() for char in text)


def _json_object(text: str) -> bool:
    body = _FENCE.sub("", text.strip()).strip()
    try:
        return isinstance(json.loads(body), dict)
    except (ValueError, RecursionError):
        return False


def _sections_in_order(text: str, count: int) -> bool:
    return [int(n) for n in _SECTION.findall(text)] == list(range(1, count + 1))


#: kind -> check(answer text, params) -> bool. The catalogue of constraint kinds (22).
CHECKS: dict[str, Callable[[str, dict[str, Any]], bool]] = {
    "word_min": lambda t, p: len(words(t)) >= p["n"],
    "word_max": lambda t, p: len(words(t)) <= p["n"],
    "sentence_min": lambda t, p: sentence_count(t) >= p["n"],
    "paragraphs": lambda t, p: len(paragraphs(t)) == p["n"],
    "bullets": lambda t, p: len(_BULLET.findall(t)) == p["n"],
    "sections": lambda t, p: _sections_in_order(t, p["n"]),
    "include": lambda t, p: all(word_occurrences(t, w) > 0 for w in p["words"]),
    "forbid": lambda t, p: not any(word_occurrences(t, w) > 0 for w in p["words"]),
    "keyword_freq": lambda t, p: word_occurrences(t, p["word"]) >= p["n"],
    "letter_freq": lambda t, p: t.casefold().count(p["letter"]) >= p["n"],
    "start": lambda t, p: t.strip().casefold().startswith(p["phrase"].casefold()),
    "end": lambda t, p: t.strip().casefold().endswith(p["phrase"].casefold()),
    "json": lambda t, p: _json_object(t),
    "quotation": lambda t, p: len(t.strip()) >= 2 and t.strip()[0] == '"' and t.strip()[-1] == '"',
    "lowercase": lambda t, p: _has_letters(t) and t == t.lower(),
    "uppercase": lambda t, p: _has_letters(t) and t == t.upper(),
    "capital_words": lambda t, p: sum(1 for w in words(t) if len(w) > 1 and w.isupper()) >= p["n"],
    "placeholders": lambda t, p: len(_PLACEHOLDER.findall(t)) >= p["n"],
    "title": lambda t, p: _TITLE.search(t) is not None,
    "postscript": lambda t, p: _POSTSCRIPT.search(t) is not None,
    "highlights": lambda t, p: len(_HIGHLIGHT.findall(t)) >= p["n"],
    "no_commas": lambda t, p: "," not in t and _has_letters(t),
}


def check_constraint(text: str, constraint: Any) -> bool:
    """Whether ``text`` satisfies ``constraint`` (``[kind, params]``); an unknown kind or bad params is False."""
    try:
        kind, params = constraint
        return bool(CHECKS[kind](text, params))
    except Exception:  # noqa: BLE001 - a malformed constraint or odd text never crashes a reward
        return False


def constraint_results(text: str, constraints: list[Any]) -> list[bool]:
    """One verdict per constraint."""
    return [check_constraint(text, c) for c in constraints]


def _scores(completions: list[Any], constraints: list[Any] | None, reduce: Callable[[list[bool]], float]):
    if constraints is None:
        return [None] * len(completions)
    out: list[float | None] = []
    for completion, row in zip(completions, constraints, strict=True):
        if not row:
            out.append(None)
            continue
        answer = THINK_ANSWER.action(completion_text(completion))
        out.append(0.0 if answer is None else reduce(constraint_results(answer, row)))
    return out


@register_reward("constraints_all")
def constraints_all(completions: list[Any], *, constraints: list[Any] | None = None, **kwargs: Any):
    """1.0 iff the ``<answer>`` text satisfies every constraint of its row (RAIF's all-or-nothing reward)."""
    return _scores(completions, constraints, lambda results: float(all(results)))


@register_reward("constraints_share")
def constraints_share(completions: list[Any], *, constraints: list[Any] | None = None, **kwargs: Any):
    """The fraction of its row's constraints that the ``<answer>`` text satisfies (a partial-credit variant)."""
    return _scores(completions, constraints, lambda results: sum(results) / len(results))
