"""Caption rewards: how close is the response's caption to the reference caption?

The ``caption`` reward is SATORI-R1's (Shen et al., 2025): (BLEU-4 + ROUGE-L F1) / 2 between the text inside
``<caption>...</caption>`` and the reference, both as lower-cased word tokens. BLEU-4 is nltk's
``sentence_bleu`` (uniform 4-gram weights) with Chen & Cherry's smoothing method 1 (``SmoothingFunction().method1``:
zero n-gram counts become a small epsilon, so short captions do not collapse to 0); ROUGE-L is rouge-score's
LCS-based F-measure, fed our tokens so that non-ASCII words count (rouge-score's own tokeniser drops them).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from mmrl.rewards import register_reward
from mmrl.rewards.parsing import completion_text, extract_tag

#: Only the first this-many tokens of a caption count: ROUGE-L's LCS is quadratic in the caption length.
MAX_CAPTION_TOKENS = 512

_WORD = re.compile(r"\w+")


def caption_tokens(text: str) -> list[str]:
    """Lower-cased (``str.lower``) Unicode word tokens (runs of letters, digits and ``_``) of ``text``,
    at most :data:`MAX_CAPTION_TOKENS`. No nltk data is needed."""
    tokens = []
    for match in _WORD.finditer(text.lower()):
        tokens.append(match.group())
        if len(tokens) >= MAX_CAPTION_TOKENS:
            break
    return tokens


class _GivenTokens:
    """A rouge-score tokenizer that returns our tokens (the text is already joined by single spaces)."""

    def tokenize(self, text: str) -> list[str]:
        return text.split(" ") if text else []


@lru_cache(maxsize=1)
def _scorers() -> tuple[Any, Any, Any]:
    """(sentence_bleu, smoothing, ROUGE-L scorer), imported on first use: importing nltk takes about a second."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
    from rouge_score import rouge_scorer

    return (
        sentence_bleu,
        SmoothingFunction().method1,
        rouge_scorer.RougeScorer(["rougeL"], tokenizer=_GivenTokens()),
    )


def caption_similarity(candidate: str, reference: str) -> float:
    """(BLEU-4 + ROUGE-L F1) / 2 of ``candidate`` against ``reference`` on :func:`caption_tokens`; 0.0 if either
    has no tokens."""
    hyp, ref = caption_tokens(candidate), caption_tokens(reference)
    if not hyp or not ref:
        return 0.0
    sentence_bleu, smoothing, rouge = _scorers()
    bleu = float(sentence_bleu([ref], hyp, smoothing_function=smoothing))
    rouge_l = float(rouge.score(" ".join(ref), " ".join(hyp))["rougeL"].fmeasure)
    return (bleu + rouge_l) / 2


def caption_score(completion: Any, reference: Any) -> float | None:
    """The ``caption`` reward of one completion; None when ``reference`` is not a string."""
    if not isinstance(reference, str):
        return None
    given = extract_tag(completion_text(completion), "caption")
    return 0.0 if given is None else caption_similarity(given, reference)


@register_reward("caption")
def caption(completions: list[Any], *, caption: list[Any] | None = None, **kwargs: Any) -> list[float | None]:
    """SATORI-R1's caption reward: (BLEU-4 + ROUGE-L F1)/2 of the last ``<caption>`` against the ``caption``
    column (module docstring); missing tag → 0.0; a row whose reference is not a string → None; no ``caption``
    column at all → 0.0 for every row."""
    if caption is None:
        return [0.0] * len(completions)
    return [caption_score(c, ref) for c, ref in zip(completions, caption, strict=True)]
