"""``mmrl/Instructions-v0`` (RAIF): the constraint catalogue's rule checks, the generator's expert, the rates."""

from __future__ import annotations

import time

import gymnasium as gym
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mmrl.envs  # noqa: F401  (registers the ids)
from mmrl.envs.text.instructions import KINDS, InstructionsEnv
from mmrl.rewards import call_reward
from mmrl.rewards.instructions import CHECKS, check_constraint

# kind -> (params, a text that satisfies it, one that does not)
CASES = {
    "word_min": ({"n": 3}, "one two three", "one two"),
    "word_max": ({"n": 2}, "one two", "one two three"),
    "sentence_min": ({"n": 2}, "Hi there. Bye!", "Hi there. Bye"),
    "paragraphs": ({"n": 2}, "a b\n\nc d", "a b\nc d"),
    "bullets": ({"n": 2}, "- a\n* b", "- a\n-b"),
    "sections": ({"n": 2}, "Section 1\na\nSECTION 2\nb", "SECTION 2\na\nSECTION 1"),
    "include": ({"words": ["river", "stone"]}, "A River and a stone.", "A riverbank and a stone."),
    "forbid": ({"words": ["banana"]}, "bananas are fine", "one Banana here"),
    "keyword_freq": ({"word": "light", "n": 2}, "light, LIGHT", "light lights"),
    "letter_freq": ({"letter": "z", "n": 2}, "Zebra zoo", "zebra"),
    "start": ({"phrase": "Let me explain."}, "  let me explain. Yes", "So let me explain."),
    "end": ({"phrase": "That is all."}, "Yes. That is all.  ", "That is all. Yes"),
    "json": ({}, '```json\n{"a": 1}\n```', "[1, 2]"),
    "quotation": ({}, '"quoted"', '"half'),
    "lowercase": ({}, "all small", "Not small"),
    "uppercase": ({}, "ALL BIG 1", "ALL bIG"),
    "capital_words": ({"n": 2}, "VERY KEY point", "VERY Key point A"),
    "placeholders": ({"n": 2}, "[name] at [place]", "[name] at []"),
    "title": ({}, "<<My title>> text", "<My title> text"),
    "postscript": ({}, "Hello\nP.S. bye", "Hello P.S. bye"),
    "highlights": ({"n": 2}, "*one* and *two*", "*one* and two*"),
    "no_commas": ({}, "no commas here", "one, two"),
}


def test_the_catalogue_has_at_least_15_kinds_and_each_check_tells_right_from_wrong():
    assert set(CASES) == set(CHECKS) == set(KINDS) and len(KINDS) >= 15
    for kind, (params, good, bad) in CASES.items():
        assert check_constraint(good, [kind, params]), kind
        assert not check_constraint(bad, [kind, params]), kind


@pytest.mark.parametrize("count", [1, 3, 8])
def test_the_expert_satisfies_every_drawn_constraint(count):
    env = gym.make("mmrl/Instructions-v0", constraints=count)
    kinds_seen = set()
    for seed in range(40):
        obs, info = env.reset(seed=seed)
        assert obs["text"].count("\n") >= count
        _, reward, _, _, step_info = env.step(info["expert_action"])
        rates = {k: v for k, v in step_info.items() if k.startswith("rate/constraint/")}
        assert reward == 1.0 and step_info["reward/constraints_share"] == 1.0
        assert len(rates) == count and set(rates.values()) == {1.0}
        kinds_seen |= {k.removeprefix("rate/constraint/") for k in rates}
    assert len(kinds_seen) >= min(15, 40 * count // 2)  # the draws cover the catalogue


def test_partial_answers_score_the_share_and_log_each_constraint():
    env = InstructionsEnv(constraints=2, kinds=["lowercase", "word_min"])
    _, info = env.reset(seed=0)
    n = next(p["n"] for kind, p in env._problem.data if kind == "word_min")  # noqa: SLF001
    _, reward, _, _, step_info = env.step("<answer>" + "word " * n + "</answer>")
    assert reward == 1.0
    env.reset(seed=0)
    _, reward, _, _, step_info = env.step("<answer>Few Words</answer>")
    assert reward == 0.0 and step_info["reward/constraints_share"] == 0.0
    env.reset(seed=0)
    _, reward, _, _, step_info = env.step("<answer>few words</answer>")
    assert reward == 0.0 and step_info["reward/constraints_share"] == 0.5
    assert step_info["rate/constraint/lowercase"] == 1.0 and step_info["rate/constraint/word_min"] == 0.0
    env.reset(seed=0)
    _, reward, _, _, step_info = env.step("no tags")
    assert step_info["format_error"] and step_info["rate/constraint/lowercase"] == 0.0


def test_registered_rewards_read_the_constraints_column():
    rows = [[["lowercase", {}], ["no_commas", {}]]] * 3
    completions = ["<answer>ok fine</answer>", "<answer>ok, fine</answer>", "ok fine"]
    assert call_reward("constraints_share", completions, constraints=rows) == [1.0, 0.5, 0.0]
    assert call_reward("constraints_all", completions, constraints=rows) == [1.0, 0.0, 0.0]
    assert call_reward("constraints_all", completions) == [None, None, None]


def test_bad_arguments_name_the_problem():
    with pytest.raises(ValueError, match="kinds"):
        InstructionsEnv(kinds=["wordmin"])
    with pytest.raises(ValueError, match="constraints"):
        InstructionsEnv(constraints=0)
    with pytest.raises(ValueError, match="cannot draw"):
        InstructionsEnv(constraints=2, kinds=["lowercase", "uppercase"])  # both shape the case


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=200) | st.sampled_from(["*" * 3000, "[" * 3000, "{" * 3000, "[" * 5000 + "]" * 5000]))
def test_checks_never_raise_and_stay_fast_on_hostile_text(text):
    start = time.perf_counter()
    for kind, (params, _, _) in CASES.items():
        assert check_constraint(text, [kind, params]) in (True, False)
    assert check_constraint(text, ["no_such_kind", {}]) is False
    assert check_constraint(text, "garbage") is False
    assert time.perf_counter() - start < 0.5
