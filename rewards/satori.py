"""SATORI-R1's staged rewards: format, caption, bbox and answer (Shen et al., 2025, "SATORI-R1: Incentivizing
Multimodal Reasoning with Spatial Grounding and Verifiable Rewards").

The response format is ``<caption>...</caption> <bbox>[[x1,y1,x2,y2], ...]</bbox> <answer>...</answer>``.
The VQA env sums the four registered rewards (``satori_format``, ``caption``, ``bbox``, ``answer``) with weight
1 each (:mod:`mmrl.rewards.combine`); ``caption`` lives in
:mod:`mmrl.rewards.caption` and ``bbox`` in :mod:`mmrl.rewards.grounding`.
"""

from __future__ import annotations

import re
from typing import Any

from mmrl.rewards import register_reward
from mmrl.rewards.parsing import completion_text, extract_tag

_CAPTION_OPEN, _ANSWER_CLOSE = "<caption>", "</answer>"
_CAPTION_TO_BOXES = re.compile(r"</caption>\s*<bbox>\s*\[\[")
_BOXES_TO_ANSWER = re.compile(r"\]\]\s*</bbox>\s*<answer>")


def matches_satori_format(text: str) -> bool:
    """Whether ``text`` fully matches SATORI's format regex
    ``^\\s*<caption>.*?</caption>\\s*<bbox>\\s*\\[\\[.*?\\]\\]\\s*</bbox>\\s*<answer>.*?</answer>\\s*$`` (DOTALL).

    Written without that regex, whose backtracking is polynomial on hostile inputs (many ``</caption>``); this is
    linear and equivalent: the earliest ``</caption>\\s*<bbox>\\s*[[`` after the opening ``<caption>``, then the
    earliest ``]]\\s*</bbox>\\s*<answer>`` after it, leaving room for the final ``</answer>`` (taking the
    earliest occurrence of each fixed piece leaves the most room for the rest, and the pieces cannot overlap).
    """
    body = text.strip()
    if not (body.startswith(_CAPTION_OPEN) and body.endswith(_ANSWER_CLOSE)):
        return False
    first = _CAPTION_TO_BOXES.search(body, len(_CAPTION_OPEN))
    if first is None:
        return False
    second = _BOXES_TO_ANSWER.search(body, first.end())
    return second is not None and second.end() <= len(body) - len(_ANSWER_CLOSE)


@register_reward("satori_format")
def satori_format(completions: list[Any], **kwargs: Any) -> list[float | None]:
    """1.0 iff the whole response matches SATORI's format (:func:`matches_satori_format`), else 0.0."""
    return [float(matches_satori_format(completion_text(c))) for c in completions]


def answer_score(completion: Any, possible_answers: Any) -> float | None:
    """1.0 iff the stripped text of the last ``<answer>`` equals one of ``possible_answers`` (each stripped);
    0.0 otherwise (missing tag included); None when ``possible_answers`` is not a list or tuple."""
    if not isinstance(possible_answers, (list, tuple)):
        return None
    given = extract_tag(completion_text(completion), "answer")
    if given is None:
        return 0.0
    return float(given.strip() in {str(a).strip() for a in possible_answers})


@register_reward("answer")
def answer(
    completions: list[Any], *, possible_answers: list[Any] | None = None, **kwargs: Any
) -> list[float | None]:
    """SATORI-R1's answer reward: 1.0 iff the text inside ``<answer>`` (stripped) is exactly one of the row's
    ``possible_answers``, else 0.0; a row without a list of answers → None; no ``possible_answers`` column at
    all → 0.0 for every row."""
    if possible_answers is None:
        return [0.0] * len(completions)
    return [answer_score(c, answers) for c, answers in zip(completions, possible_answers, strict=True)]
