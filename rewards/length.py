"""Length-shaped rewards.

- ``cosine_length``: the cosine length-scaling reward of Yeo et al. 2025, "Demystifying Long Chain-of-Thought
  Reasoning in LLMs" (arXiv:2502.03373, Sec. 4.1, Eq. 1).
"""

from __future__ import annotations

import math
from typing import Any

from mmrl.rewards import register_reward
from mmrl.rewards.accuracy import answer_accuracy
from mmrl.rewards.parsing import completion_text


def cosine_scaled(length: int, max_length: int, r_0: float, r_t: float) -> float:
    """r(t) = r_T + (r_0 - r_T) (1 + cos(pi t / T)) / 2: r_0 at length 0, r_T at length T (Eq. 1)."""
    return r_t + (r_0 - r_t) * (1.0 + math.cos(math.pi * length / max_length)) / 2.0


@register_reward("cosine_length")
def cosine_length(completions: list[Any], *, answer: list[Any] | None = None, correct: list[Any] | None = None,
                  max_length: list[int] | int = 1024, length: list[int] | None = None, correct_short: float = 2.0,
                  correct_long: float = 1.0, wrong_short: float = -10.0, wrong_long: float = 0.0,
                  exceed: float = -10.0, **kwargs: Any) -> list[float | None]:
    """Cosine length reward: a correct answer earns 2 when short down to 1 at `max_length`; a wrong one -10 when
    short up to 0 at `max_length` (so a model that cannot solve a problem is pushed to think longer, one that can
    to be brief); a response longer than `max_length` gets -10. Correctness is the `correct` column when given,
    else `answer_accuracy` against the `answer` column (None where not applicable). Lengths are the `length`
    column (tokens) when given, else whitespace-separated words of the completion. The paper's values are the
    defaults (r_0 = 2, r_T = 1 correct; r_0 = -10, r_T = 0 wrong; -10 over length)."""
    n = len(completions)
    if correct is None:
        if answer is None:
            raise ValueError("cosine_length needs a `correct` or an `answer` column")
        correct = [None if r is None else r == 1.0 for r in answer_accuracy(completions, answer=answer)]
    limits = max_length if isinstance(max_length, list) else [max_length] * n
    lengths = length if length is not None else [len(completion_text(c).split()) for c in completions]
    out: list[float | None] = []
    for ok, t, limit in zip(correct, lengths, limits, strict=True):
        if ok is None:
            out.append(None)
        elif t > limit:
            out.append(exceed)
        elif ok:
            out.append(cosine_scaled(t, limit, correct_short, correct_long))
        else:
            out.append(cosine_scaled(t, limit, wrong_short, wrong_long))
    return out
