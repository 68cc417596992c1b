"""Next-segment rewards (RLPT): how close the predicted next sentence is to the real one.

RLPT (Li et al., 2025, "Reinforcement Learning on Pre-Training Data") rewards a predicted next segment by a
generative judge's verdict that it means the same as the real one. Without a judge model the similarity here is
lexical: ``next_segment_rouge_l`` is rouge-score's ROUGE-L F-measure (longest common subsequence) and
``next_segment_f1`` the SQuAD-style token F1 (bag-of-words overlap), both over lower-cased word tokens
(:func:`mmrl.rewards.caption.caption_tokens`) of the ``<answer>`` text and the ``answer`` column. To use a judge
instead, weight the ``judge`` reward (:mod:`mmrl.rewards.judge`; it receives the prompt and the reference).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from mmrl.formats import THINK_ANSWER
from mmrl.rewards import register_reward
from mmrl.rewards.caption import _scorers, caption_tokens
from mmrl.rewards.parsing import completion_text


def token_f1(candidate: str, reference: str) -> float:
    """Harmonic mean of token precision and recall (multiset overlap); 0 when either side has no tokens."""
    hyp, ref = caption_tokens(candidate), caption_tokens(reference)
    overlap = sum((Counter(hyp) & Counter(ref)).values())
    if not hyp or not ref or overlap == 0:
        return 0.0
    precision, recall = overlap / len(hyp), overlap / len(ref)
    return 2 * precision * recall / (precision + recall)


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F-measure over :func:`caption_tokens`; 0 when either side has no tokens."""
    hyp, ref = caption_tokens(candidate), caption_tokens(reference)
    if not hyp or not ref:
        return 0.0
    return float(_scorers()[2].score(" ".join(ref), " ".join(hyp))["rougeL"].fmeasure)


def _score(completions: list[Any], answer: list[Any] | None, fn) -> list[float | None]:
    if answer is None:
        return [None] * len(completions)
    out: list[float | None] = []
    for completion, reference in zip(completions, answer, strict=True):
        predicted = THINK_ANSWER.action(completion_text(completion))
        out.append(None if reference is None else 0.0 if predicted is None else fn(predicted, str(reference)))
    return out


@register_reward("next_segment_rouge_l")
def next_segment_rouge_l(completions: list[Any], *, answer: list[Any] | None = None, **kwargs: Any):
    """ROUGE-L F of the ``<answer>`` text against the real next segment (``answer``); no answer tag scores 0."""
    return _score(completions, answer, rouge_l)


@register_reward("next_segment_f1")
def next_segment_f1(completions: list[Any], *, answer: list[Any] | None = None, **kwargs: Any):
    """Token F1 of the ``<answer>`` text against the real next segment (``answer``); no answer tag scores 0."""
    return _score(completions, answer, token_f1)
