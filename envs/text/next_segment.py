"""``mmrl/NextSegment-v0``: read a passage of plain text and write its next sentence (RLPT)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from mmrl.envs.checks import int_in_range
from mmrl.envs.text.base import Problem, TextTaskEnv
from mmrl.rewards.parsing import normalize_answer

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_PARAGRAPH = re.compile(r"\n\s*\n")
#: Largest corpus file read (bytes).
MAX_CORPUS_BYTES = 50_000_000
NAMES = ("Tom", "Ann", "Lea", "Sam", "Max", "Eva")
THINGS = ("apples", "stones", "books", "shells", "coins")
PLACES = ("market", "river", "library", "garden", "harbour")
ANIMALS = ("cat", "heron", "dog", "fox", "goat")


def split_sentences(text: str) -> list[str]:
    """Sentences of one paragraph: split after ``.``, ``!`` or ``?`` followed by whitespace; whitespace collapsed."""
    return [" ".join(s.split()) for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def documents_from_text(text: str, context: int) -> list[list[str]]:
    """Paragraphs (blank-line separated) as sentence lists, keeping those with more than ``context`` sentences."""
    docs = [split_sentences(p) for p in _PARAGRAPH.split(text)]
    return [d for d in docs if len(d) > context]


def generated_corpus(rng: np.random.Generator, stories: int) -> str:
    """A small generated corpus of short stories whose later sentences follow from the earlier ones (counts add
    up, places and animals come back), shipped so that tests and demos need no download."""
    out = []
    for _ in range(stories):
        name, thing = NAMES[int(rng.integers(len(NAMES)))], THINGS[int(rng.integers(len(THINGS)))]
        place, animal = PLACES[int(rng.integers(len(PLACES)))], ANIMALS[int(rng.integers(len(ANIMALS)))]
        a, b = (int(x) for x in rng.integers(1, 6, size=2))
        if rng.random() < 0.5:
            out.append(f"{name} had {a} {thing}. {name} found {b} more {thing} at the {place}. "
                       f"Now {name} had {a + b} {thing}. {name} walked home from the {place}.")
        else:
            out.append(f"{name} went to the {place}. At the {place}, {name} saw a {animal}. "
                       f"The {animal} looked at {name}. Then the {animal} ran away from the {place}.")
    return "\n\n".join(out)


class NextSegmentEnv(TextTaskEnv):
    """Predict the next sentence of a passage from a plain-text corpus (RLPT's next-segment reasoning).

    Paper: Li et al., 2025, "Reinforcement Learning on Pre-Training Data" (RLPT): RL on unlabelled text, the
    policy reasons and then predicts the next segment; a generative judge rewards a semantically matching
    prediction. Simplified: segments are sentences, the default reward is lexical (ROUGE-L F,
    :mod:`mmrl.rewards.segment`); a judge model is the ``judge`` reward (:mod:`mmrl.rewards.judge`), weighted in
    ``reward_weights`` with the ``MMRL_JUDGE_*`` endpoint set.

    ## Description
    The corpus is ``corpus_path`` (UTF-8 text; paragraphs separated by blank lines) or, by default, a generated
    corpus of short stories (:func:`generated_corpus`). An episode picks a paragraph and a sentence in it after at
    least ``context`` sentences; the prompt shows the ``context`` sentences before it.

    ## Action Space
    ``text_space(8192)``: ``<think>...</think><answer>the next sentence</answer>``.

    ## Observation Space
    ``Dict(text=Text)``: the passage and the instruction.

    ## Rewards
    ``next_segment_rouge_l`` (weight 1): ROUGE-L F against the real sentence; ``next_segment_f1`` (0) and
    ``accuracy`` (0: the normalised sentence matches exactly) are reported too.

    ## Episode End
    After the first step. Info: ``success`` (exact match after normalisation), ``format_error``, ``answer`` (the real
    sentence), ``reward/*``.

    ## Arguments
    ``corpus_path`` (default: the generated corpus), ``context`` (1-8 sentences, default 2), ``stories`` (size of
    the generated corpus, default 200).

    ## Version History
    * v0: initial version.
    """

    max_question_length = 3000

    def __init__(self, corpus_path: str | None = None, context: int = 2, stories: int = 200,
                 reward_weights: dict[str, float] | None = None) -> None:
        int_in_range("context", context, 1, 8)
        if corpus_path is None:
            text = generated_corpus(np.random.default_rng(0), stories)
        else:
            path = Path(corpus_path)
            if not path.is_file():
                raise ValueError(f"corpus_path {corpus_path!r} is not a file")
            if path.stat().st_size > MAX_CORPUS_BYTES:
                raise ValueError(f"corpus_path {corpus_path!r} is larger than {MAX_CORPUS_BYTES} bytes")
            text = path.read_text(encoding="utf-8", errors="replace")
        self.documents = documents_from_text(text, context)
        if not self.documents:
            raise ValueError(f"the corpus has no paragraph of more than {context} sentences")
        self.context = context
        defaults = {"accuracy": 0.0, "next_segment_rouge_l": 1.0, "next_segment_f1": 0.0}
        super().__init__(defaults | (reward_weights or {}))

    def generate(self, rng: np.random.Generator) -> Problem:
        doc = self.documents[int(rng.integers(len(self.documents)))]
        index = int(rng.integers(self.context, len(doc)))
        passage = " ".join(doc[index - self.context: index])[-2500:]
        target = doc[index][:400]
        question = f"Read the passage and write the sentence that comes next.\nPassage: {passage}"
        return Problem(question=question, answer=target, expert_answer=target,
                       expert_thought="The passage sets up what happens next.", data=target)

    def check(self, answer: str, problem: Problem) -> bool | None:
        return normalize_answer(answer) == normalize_answer(problem.data)
