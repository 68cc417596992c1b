"""Accuracy rewards: does the response's answer equal the ``answer`` column?

A row whose ``answer`` is ``None`` gets ``None`` (not applicable).
"""

from __future__ import annotations

from typing import Any

from mmrl.rewards import register_reward
from mmrl.rewards.parsing import completion_text, extract_tag, normalize_answer


@register_reward("answer_accuracy")
def answer_accuracy(completions: list[Any], *, answer: list[Any], **kwargs: Any) -> list[float | None]:
    """1.0 iff the text inside the last ``<answer>...</answer>`` equals ``answer`` after :func:`normalize_answer`;
    0.0 otherwise, including when the tag is missing. CLS-RL's accuracy reward."""
    rewards: list[float | None] = []
    for completion, truth in zip(completions, answer, strict=True):
        if truth is None:
            rewards.append(None)
            continue
        given = extract_tag(completion_text(completion), "answer")
        rewards.append(float(given is not None and normalize_answer(given) == normalize_answer(str(truth))))
    return rewards


@register_reward("exact_match")
def exact_match(completions: list[Any], *, answer: list[Any], **kwargs: Any) -> list[float | None]:
    """1.0 iff ``completion.strip() == answer`` exactly (case-sensitive), else 0.0. The equality reward of
    No-Thinking-RL (Li et al., 2025, "Think or Not Think", the "No-Thinking-CLS-RL" variant)."""
    return [
        None if truth is None else float(completion_text(completion).strip() == str(truth))
        for completion, truth in zip(completions, answer, strict=True)
    ]


@register_reward("normalized_match")
def normalized_match(completions: list[Any], *, answer: list[Any], **kwargs: Any) -> list[float | None]:
    """1.0 iff the whole completion equals ``answer`` after :func:`normalize_answer` on both, else 0.0."""
    return [
        None
        if truth is None
        else float(normalize_answer(completion_text(completion)) == normalize_answer(str(truth)))
        for completion, truth in zip(completions, answer, strict=True)
    ]
