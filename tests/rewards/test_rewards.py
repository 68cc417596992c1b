"""Reward functions, parsing helpers and the defensive ``call_reward``."""

from __future__ import annotations

import logging
import math
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mmrl.rewards as rewards
from mmrl.rewards import UnknownRewardError, call_reward, get_reward, register_reward, reward_names
from mmrl.rewards.accuracy import answer_accuracy, exact_match, normalized_match
from mmrl.rewards.format import matches_think_answer, think_answer_format
from mmrl.rewards.parsing import completion_text, extract_tag, normalize_answer

SPEC_FORMAT = re.compile(r"^\s*<think>.*?</think>\s*<answer>.*?</answer>\s*$", re.DOTALL)
# Text built from the pieces the parsers care about, so that random strings often hit interesting cases.
tagged_text = st.lists(
    st.sampled_from(
        [
            "<think>",
            "</think>",
            "<answer>",
            "</answer>",
            " ",
            "\n",
            "\x1c",
            "\u00a0",
            "\u2028",
            "a",
            "B",
            ".",
            "é",
            "<",
            ">",
        ]
    )
    | st.text(max_size=5),
    max_size=25,
).map("".join)


def test_extract_tag():
    assert extract_tag("<answer>cat</answer>", "answer") == "cat"
    assert extract_tag("<answer>a</answer> then <answer>b\nc</answer>", "answer") == "b\nc"
    assert extract_tag("<answer>a</answer> <answer>unclosed", "answer") == "a"
    assert extract_tag("<answer><answer>x</answer></answer>", "answer") == "x"
    assert extract_tag("<answer></answer>", "answer") == ""
    assert extract_tag("no tags", "answer") is None
    assert extract_tag("</answer><answer>", "answer") is None
    assert extract_tag("<think>t</think>", "answer") is None


def test_normalize_answer():
    assert normalize_answer('  "Red   Circle." ') == "red circle"
    assert normalize_answer("**Cat**") == "cat"
    assert normalize_answer("(B)") == "b"
    assert normalize_answer("STRASSE") == normalize_answer("straße")
    assert normalize_answer("-3.5") == "-3.5"
    assert normalize_answer(".5") == ".5"
    assert normalize_answer("\u201cdog\u201d!") == "dog"
    assert normalize_answer("") == ""


def test_completion_text_accepts_chat_format():
    assert completion_text("hi") == "hi"
    assert completion_text([{"role": "assistant", "content": "<answer>x</answer>"}]) == "<answer>x</answer>"
    assert completion_text(None) == "" and completion_text([]) == ""


def test_think_answer_format():
    good = [
        "<think>a</think><answer>b</answer>",
        "  <think>\nx\n</think>\n\n<answer>y</answer>\n",
        "<think></think><answer></answer>",
    ]
    bad = [
        "<answer>b</answer>",
        "<think>a</think>",
        "x<think>a</think><answer>b</answer>",
        "<think>a</think><answer>b</answer>x",
        "<answer>b</answer><think>a</think>",
        "",
        "<think>a</think>x<answer>b</answer>",
    ]
    assert think_answer_format(good + bad) == [1.0] * len(good) + [0.0] * len(bad)


@settings(max_examples=400, deadline=None)
@given(tagged_text)
def test_think_answer_format_agrees_with_the_spec_regex(text):
    assert matches_think_answer(text) == bool(SPEC_FORMAT.match(text))


def test_answer_accuracy():
    completions = [
        "<think>..</think><answer> Red circle. </answer>",
        "<answer>blue</answer>",
        "red circle",
        "<answer>x</answer>",
    ]
    answers = ["red circle", "red", "red circle", None]
    assert answer_accuracy(completions, answer=answers) == [1.0, 0.0, 0.0, None]


def test_exact_match():
    completions = ["cat", " cat\n", "Cat", "cat.", "x"]
    assert exact_match(completions, answer=["cat"] * 4 + [None]) == [1.0, 1.0, 0.0, 0.0, None]


def test_normalized_match():
    values = normalized_match(["Cat.", "'dog'", "cow", "3"], answer=["cat", "Dog", "cat", 3])
    assert values == [1.0, 1.0, 0.0, 1.0]


def test_rewards_accept_unknown_columns():
    for name in reward_names():
        assert len(get_reward(name)(["x"], answer=["x"], image=[None], solution=["y"])) == 1


GRADED = {"next_segment_rouge_l", "next_segment_f1", "constraints_share"}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text() | tagged_text, min_size=1, max_size=4), st.data())
def test_rewards_never_raise_on_hostile_text(completions, data):
    answers = data.draw(
        st.lists(st.text() | tagged_text, min_size=len(completions), max_size=len(completions))
    )
    for name in reward_names():
        values = get_reward(name)(completions, answer=answers)
        allowed = (2.0, 1.0, 0.0, -10.0) if name == "cosine_length" else (0.0, 1.0)  # short texts: 0 words
        # None: not applicable (a reward whose own columns are missing); similarities are graded in [0, 1]
        assert len(values) == len(completions) and all(
            v is None or v in allowed or (name == "cosine_length" and math.isfinite(v))
            or (name in GRADED and 0.0 <= v <= 1.0) for v in values)
    for text in completions:
        extract_tag(text, "answer")
        normalize_answer(text)


def test_rewards_stay_fast_on_huge_adversarial_text():
    hostile = [
        "<think>" + "</think>" * 200_000 + "<answer>",
        "<answer>" * 200_000 + "</answer>",
        "\u00e9" * 1_000_000,
    ]
    start = time.perf_counter()
    for name in reward_names():
        get_reward(name)(hostile, answer=["x"] * len(hostile))
    assert time.perf_counter() - start < 2.0


def test_registry_did_you_mean():
    with pytest.raises(UnknownRewardError, match="Did you mean 'answer_accuracy'") as error:
        get_reward("answer_acuracy")
    assert isinstance(error.value, KeyError)
    assert "think_answer_format" in str(error.value)  # lists the known names
    with pytest.raises(KeyError):
        get_reward("zzz")
    builtin = {"think_answer_format", "answer_accuracy", "exact_match", "normalized_match"}
    assert builtin <= set(reward_names())


def test_register_reward_rejects_a_second_function_under_a_taken_name():
    with pytest.raises(ValueError, match="already registered"):
        register_reward("exact_match")(lambda completions, **kwargs: [0.0] * len(completions))
    # Re-registering the same function (e.g. on a module reload) is fine.
    assert register_reward("exact_match")(exact_match) is exact_match


def test_call_reward_passes_columns_and_accepts_names():
    assert call_reward("answer_accuracy", ["<answer>a</answer>", "b"], answer=["a", "a"]) == [1.0, 0.0]
    assert call_reward(exact_match, ["a"], timeout_s=None, answer=["a"]) == [1.0]


def test_call_reward_times_out(caplog):
    def sleepy(completions, **kwargs):
        time.sleep(2.0)
        return [1.0] * len(completions)

    start = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="mmrl.rewards"):
        assert call_reward(sleepy, ["a", "b"], timeout_s=0.2) == [None, None]
    assert time.perf_counter() - start < 1.0
    assert "timed out" in caplog.text


def test_call_reward_survives_crashes_and_bad_results(caplog):
    def crashing(completions, **kwargs):
        raise ZeroDivisionError("boom")

    with caplog.at_level(logging.WARNING, logger="mmrl.rewards"):
        assert call_reward(crashing, ["a"]) == [None]
        assert "ZeroDivisionError" in caplog.text
        assert call_reward(lambda c, **k: [1.0], ["a", "b"]) == [None, None]  # wrong length
        assert call_reward(lambda c, **k: "10", ["a", "b"]) == [None, None]  # not a list
        assert call_reward(lambda c, **k: ["1", 0.0], ["a", "b"]) == [None, None]  # not numbers
        assert call_reward(answer_accuracy, ["a"]) == [None]  # missing `answer` column
    assert call_reward(lambda c, **k: [True, 2, None, float("nan")], list("abcd")) == [1.0, 2.0, None, None]


def test_importing_the_package_registers_the_submodules():
    assert rewards.get_reward("think_answer_format") is think_answer_format


def test_cosine_length_reward_follows_the_papers_curve():
    from mmrl.rewards import get_reward

    fn = get_reward("cosine_length")
    # T = 10: correct 2 at t=0, 1.5 at t=5, 1 at t=10; wrong -10 at t=0, -5 at t=5, 0 at t=10; over length -10
    got = fn(["a"] * 7, correct=[True, True, True, False, False, False, True], max_length=10,
             length=[0, 5, 10, 0, 5, 10, 11])
    assert got == pytest.approx([2.0, 1.5, 1.0, -10.0, -5.0, 0.0, -10.0])
    assert fn(["one two three", "x"], correct=[None, True], max_length=[6, 6]) == [None, pytest.approx(
        1.0 + (1 + math.cos(math.pi / 6)) / 2)]
    # correctness from the answer column: right and short (1 word of 4) vs wrong
    right = 1.0 + (1 + math.cos(math.pi / 4)) / 2
    assert fn(["<answer>7</answer>", "<answer>8</answer>"], answer=["7", "7"], max_length=4) == pytest.approx(
        [right, -10.0 + 10.0 * (1 - (1 + math.cos(math.pi / 4)) / 2)])
