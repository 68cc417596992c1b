"""Format rewards: does the response follow the requested layout?"""

from __future__ import annotations

import re
from typing import Any

from mmrl.rewards import register_reward
from mmrl.rewards.parsing import completion_text

_THINK_OPEN, _ANSWER_CLOSE = "<think>", "</answer>"
_THINK_THEN_ANSWER = re.compile(r"</think>\s*<answer>")


def matches_think_answer(text: str) -> bool:
    """Whether ``text`` fully matches ``^\\s*<think>.*?</think>\\s*<answer>.*?</answer>\\s*$`` (DOTALL).

    Written without that regex because its backtracking is quadratic on adversarial inputs (many ``</think>``);
    this is linear and equivalent: a ``<think>`` start, an ``</answer>`` end, and some ``</think>\\s*<answer>``
    between them (the earliest one is the best candidate).
    """
    body = text.strip()
    if not (body.startswith(_THINK_OPEN) and body.endswith(_ANSWER_CLOSE)):
        return False
    bridge = _THINK_THEN_ANSWER.search(body, len(_THINK_OPEN))
    return bridge is not None and bridge.end() <= len(body) - len(_ANSWER_CLOSE)


@register_reward("think_answer_format")
def think_answer_format(completions: list[Any], **kwargs: Any) -> list[float | None]:
    """1.0 iff the whole response is ``<think>...</think><answer>...</answer>`` (whitespace allowed around and
    between the blocks), else 0.0. CLS-RL's format reward (Li et al., 2025, "CLS-RL: Image Classification with Rule-Based Reinforcement Learning")."""
    return [1.0 if matches_think_answer(completion_text(c)) else 0.0 for c in completions]
