"""``mmrl/Instructions-v0``: write a short text that satisfies several rule-checkable constraints at once (RAIF)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from mmrl.envs.checks import int_in_range
from mmrl.envs.text.base import Problem, TextTaskEnv
from mmrl.rewards.instructions import CHECKS, constraint_results, words

TOPICS = ("the ocean", "city gardens", "learning to cook", "a rainy morning", "old maps", "train journeys",
          "mountain hiking", "public libraries", "winter birds", "the night sky", "board games", "clean rivers")
#: Words a required-keyword constraint may ask for; disjoint from :data:`FORBIDDEN`.
KEYWORDS = ("light", "river", "stone", "garden", "window", "music", "bridge", "silver", "forest", "paper")
#: Words a forbidden-keyword constraint may ban; the expert never writes them.
FORBIDDEN = ("banana", "rocket", "purple", "thunder", "velvet", "cactus", "pirate", "tornado")
FILLER = ("Many people enjoy this topic.", "It has a long history.", "There is always more to learn.",
          "Small details make a big difference.", "Friends often talk about it.", "It can be calm and simple.",
          "Some days it feels new again.", "Good habits help a lot.")
STARTS = ("My answer is as follows:", "Here is what I think:", "Let me explain.")
ENDS = ("Is there anything else I can help with?", "That is all for now.", "Thank you for reading.")
LETTER_WORDS = {"z": "zebra", "q": "quiet", "x": "box", "k": "kind", "j": "jump", "v": "vivid"}
CAPITALS = ("VERY", "IMPORTANT", "NOTE", "ALWAYS", "NEVER", "KEY")
#: Parts of a response that two constraints cannot both shape (e.g. JSON and bullets both decide the layout; an
#: opening quotation mark would hide the first bullet or section heading).
SLOTS: dict[str, tuple[str, ...]] = {
    "paragraphs": ("layout",), "bullets": ("layout", "line_start"), "sections": ("layout", "line_start"),
    "json": ("layout", "start", "end"), "quotation": ("start", "end", "line_start"), "start": ("start",), "end": ("end",),
    "postscript": ("end",), "lowercase": ("case",), "uppercase": ("case",), "capital_words": ("case",),
}
KINDS = tuple(CHECKS)


def draw_constraints(rng: np.random.Generator, count: int, kinds: tuple[str, ...]) -> list[list[Any]] | None:
    """``count`` compatible constraints ``[kind, params]`` of distinct ``kinds`` (one random order tried), or
    ``None`` when that order runs out of compatible kinds. ``word_max``'s bound is filled in later, from the
    expert's length."""
    taken: set[str] = set()
    chosen: list[list[Any]] = []
    for index in rng.permutation(len(kinds)):
        kind = kinds[int(index)]
        slots = set(SLOTS.get(kind, ()))
        if slots & taken:
            continue
        taken |= slots
        chosen.append([kind, _params(rng, kind)])
        if len(chosen) == count:
            return chosen
    return None


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def _params(rng: np.random.Generator, kind: str) -> dict[str, Any]:
    n = int(rng.integers(2, 5))
    if kind == "word_min":
        return {"n": int(rng.integers(10, 41))}
    if kind in ("sentence_min", "paragraphs", "bullets", "sections", "placeholders", "highlights",
                "capital_words", "keyword_freq", "letter_freq"):
        extra: dict[str, Any] = {}
        if kind == "keyword_freq":
            extra = {"word": _pick(rng, KEYWORDS)}
        if kind == "letter_freq":
            extra = {"letter": _pick(rng, tuple(LETTER_WORDS))}
        return {"n": n} | extra
    if kind == "include":
        return {"words": [str(w) for w in rng.choice(KEYWORDS, size=2, replace=False)]}
    if kind == "forbid":
        return {"words": [str(w) for w in rng.choice(FORBIDDEN, size=2, replace=False)]}
    if kind == "start":
        return {"phrase": _pick(rng, STARTS)}
    if kind == "end":
        return {"phrase": _pick(rng, ENDS)}
    return {}  # word_max (bound set later), json, quotation, case, title, postscript, no_commas


def describe(kind: str, p: dict[str, Any]) -> str:
    """The constraint as an instruction line."""
    return {
        "word_min": lambda: f"Use at least {p.get('n')} words.",
        "word_max": lambda: f"Use at most {p.get('n')} words.",
        "sentence_min": lambda: f"Write at least {p.get('n')} sentences.",
        "paragraphs": lambda: f"Write exactly {p.get('n')} paragraphs separated by blank lines.",
        "bullets": lambda: f"Use exactly {p.get('n')} bullet points, each line starting with '- '.",
        "sections": lambda: f"Use {p.get('n')} sections headed SECTION 1 to SECTION {p.get('n')}.",
        "include": lambda: f"Include the words {' and '.join(repr(w) for w in p.get('words', ()))}.",
        "forbid": lambda: f"Do not use the words {' or '.join(repr(w) for w in p.get('words', ()))}.",
        "keyword_freq": lambda: f"Use the word {p.get('word')!r} at least {p.get('n')} times.",
        "letter_freq": lambda: f"Use the letter {p.get('letter')!r} at least {p.get('n')} times.",
        "start": lambda: f"Start your answer with {p.get('phrase')!r}.",
        "end": lambda: f"End your answer with {p.get('phrase')!r}.",
        "json": lambda: "Format the whole answer as one JSON object.",
        "quotation": lambda: "Wrap the whole answer in double quotation marks.",
        "lowercase": lambda: "Write only in lowercase letters.",
        "uppercase": lambda: "Write only in capital letters.",
        "capital_words": lambda: f"Use at least {p.get('n')} words written in all capitals.",
        "placeholders": lambda: f"Include at least {p.get('n')} placeholders in square brackets, like [name].",
        "title": lambda: "Give a title wrapped in double angular brackets, like <<my title>>.",
        "postscript": lambda: "Add a postscript starting with P.S. at the end.",
        "highlights": lambda: f"Highlight at least {p.get('n')} parts with asterisks, like *this part*.",
        "no_commas": lambda: "Do not use any commas.",
    }[kind]()


def expert_answer(rng: np.random.Generator, topic: str, constraints: list[list[Any]]) -> str:
    """A text satisfying ``constraints`` (all compatible, as :func:`draw_constraints` makes them): sentences
    that carry the word-level constraints, laid out as asked, then the start/end/case wrappers applied."""
    by_kind = {kind: params for kind, params in constraints}
    sentences = [f"This text is about {topic}."]
    if "include" in by_kind:
        sentences.append(f"It mentions {' and '.join(by_kind['include']['words'])}.")
    if "keyword_freq" in by_kind:
        p = by_kind["keyword_freq"]
        sentences.append(f"We repeat the word {' '.join([p['word']] * p['n'])}.")
    if "letter_freq" in by_kind:
        p = by_kind["letter_freq"]
        sentences.append(f"Think of a {' and a '.join([LETTER_WORDS[p['letter']]] * p['n'])}.")
    if "placeholders" in by_kind:
        sentences.append(f"Fill in {' '.join(f'[field {i + 1}]' for i in range(by_kind['placeholders']['n']))}.")
    if "highlights" in by_kind:
        sentences.append(f"Note {' '.join(f'*point {i + 1}*' for i in range(by_kind['highlights']['n']))}.")
    if "capital_words" in by_kind:
        sentences.append(f"This is {' '.join(CAPITALS[: by_kind['capital_words']['n']])}.")
    layout_n = max((by_kind[k]["n"] for k in ("paragraphs", "bullets", "sections") if k in by_kind), default=1)
    need_sentences = max(by_kind.get("sentence_min", {}).get("n", 1), layout_n)
    need_words = by_kind.get("word_min", {}).get("n", 0)
    order = rng.permutation(len(FILLER))
    i = 0
    while len(sentences) < need_sentences or len(words(" ".join(sentences))) < need_words + 8:
        sentences.append(FILLER[int(order[i % len(FILLER)])])
        i += 1
    groups = [sentences[g::layout_n] for g in range(layout_n)]  # layout_n non-empty groups
    if "paragraphs" in by_kind:
        body = "\n\n".join(" ".join(group) for group in groups)
    elif "bullets" in by_kind:
        body = "\n".join("- " + " ".join(group) for group in groups)
    elif "sections" in by_kind:
        body = "\n".join(f"SECTION {g + 1}\n" + " ".join(group) for g, group in enumerate(groups))
    else:
        body = " ".join(sentences)
    separator = " " if "json" in by_kind else "\n"
    if "title" in by_kind:
        body = f"<<{topic.capitalize()}>>{separator}{body}"
    if "start" in by_kind:
        body = f"{by_kind['start']['phrase']}{separator}{body}"
    if "postscript" in by_kind:
        body = f"{body}\nP.S. Thank you."
    if "end" in by_kind:
        body = f"{body} {by_kind['end']['phrase']}"
    if "json" in by_kind:
        body = json.dumps({"answer": body})
    if "quotation" in by_kind:
        body = f'"{body}"'
    if "lowercase" in by_kind:
        body = body.lower()
    if "uppercase" in by_kind:
        body = body.upper()
    return body


class InstructionsEnv(TextTaskEnv):
    """Answer a complex instruction: a short text on a topic under 1..8 rule-checkable constraints (RAIF).

    Paper: Qin et al., 2025, "Incentivizing Reasoning for Advanced Instruction-Following of Large Language
    Models" (RAIF): complex instructions whose constraints are verified by rules, rewarded by RL. Simplified: the
    instructions are generated from a catalogue of 22 IFEval-style constraint kinds
    (:data:`mmrl.rewards.instructions.CHECKS`), combined in parallel (no chained or branching structure), with
    no LLM-judged constraints and no language-of-answer constraint (no offline language detector is installed).

    ## Description
    The prompt asks for a short text about a topic and lists ``constraints`` constraints of distinct kinds that
    do not shape the same part of the response (:data:`SLOTS`: e.g. never JSON together with bullets). Kinds:
    word_min/word_max, sentence_min, paragraphs, bullets, sections, include/forbid keywords, keyword_freq,
    letter_freq, start/end phrases, json, quotation, lowercase/uppercase, capital_words, placeholders, title,
    postscript, highlights, no_commas.

    ## Action Space
    ``text_space(8192)``: the text inside ``<answer>`` (after an optional ``<think>``) is checked.

    ## Observation Space
    ``Dict(text=Text)``: the topic, then one numbered line per constraint.

    ## Rewards
    ``accuracy``: 1.0 iff every constraint holds (RAIF's all-satisfied reward). ``constraints_share`` (weight 0
    by default, reported as ``reward/constraints_share``): the fraction that holds.

    ## Episode End
    After the first step. ``step`` info: ``success``, ``format_error``, ``answer`` (the expert text),
    ``reward/*``, and ``rate/constraint/<kind>`` (1.0/0.0) for each constraint of the prompt, which training
    averages into per-constraint satisfaction rates.

    ## Arguments
    ``constraints`` (1-8, default 2): how many constraints (the difficulty). ``kinds``: the allowed kinds
    (default all), to make a curriculum by kind.

    ## Version History
    * v0: initial version.
    """

    max_question_length = 1500

    def __init__(self, constraints: int = 2, kinds: list[str] | tuple[str, ...] | None = None,
                 reward_weights: dict[str, float] | None = None) -> None:
        kinds = KINDS if kinds is None else tuple(kinds)
        unknown = sorted(set(kinds) - set(KINDS))
        if unknown or not kinds:
            raise ValueError(f"kinds must be a non-empty subset of {list(KINDS)}, got unknown {unknown}")
        int_in_range("constraints", constraints, 1, 8)
        probe = np.random.default_rng(0)
        if all(draw_constraints(probe, constraints, kinds) is None for _ in range(50)):
            raise ValueError(f"cannot draw {constraints} compatible constraints from kinds {list(kinds)}")
        self.constraints, self.kinds = constraints, kinds
        super().__init__({"constraints_share": 0.0} | (reward_weights or {}))

    def generate(self, rng: np.random.Generator) -> Problem:
        drawn = None
        while drawn is None:  # the constructor checked that some order works
            drawn = draw_constraints(rng, self.constraints, self.kinds)
        topic = _pick(rng, TOPICS)
        expert = expert_answer(rng, topic, drawn)
        for kind, params in drawn:
            if kind == "word_max":
                params["n"] = len(words(expert)) + int(rng.integers(3, 30))
        lines = [f"{i + 1}. {describe(kind, params)}" for i, (kind, params) in enumerate(drawn)]
        question = f"Write a short text about {topic}. Follow every constraint:\n" + "\n".join(lines)
        return Problem(question=question, answer=expert, expert_answer=expert,
                       expert_thought="I list the constraints and write a text that meets each one.", data=drawn)

    def check(self, answer: str, problem: Problem) -> bool | None:
        return all(constraint_results(answer, problem.data))

    def reward_columns(self, problem: Problem) -> dict[str, Any]:
        return {"constraints": problem.data}

    def rates(self, answer: str | None, problem: Problem) -> dict[str, float]:
        results = [False] * len(problem.data) if answer is None else constraint_results(answer, problem.data)
        return {f"rate/constraint/{kind}": float(ok) for (kind, _), ok in zip(problem.data, results, strict=True)}
