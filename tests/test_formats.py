"""The response-format module: each format's parser, thought, action offset, thought swap and token split."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mmrl.envs  # noqa: F401
from mmrl.formats import (
    ACTION_TAG,
    FORMATS,
    JSON,
    PLAIN,
    SATORI,
    THINK_ANSWER,
    format_of,
    get_format,
    last_json_object,
)


def test_json_reads_the_action_and_thoughts_of_the_last_object():
    assert JSON.action('I think {"a": {"b": 1}, "action": "+"} done') == "+"
    assert JSON.action('{"action": "1"} no, {"action": "2"}') == "2"
    assert JSON.action('{"action": 7}') == "7"
    assert JSON.action('{"action": true}') is None
    assert JSON.action('{"action": ') is None
    assert JSON.action("{" * 10_000) is None
    assert last_json_object(123) is None
    response = 'so {"cards": [1, 2], "thoughts": "add them", "action": "+"}'
    assert JSON.thought(response) == "add them"
    assert JSON.fields(response) == {"cards": [1, 2]}
    assert response[JSON.action_offset(response):].startswith('"action"')
    assert JSON.action_offset('{"thoughts": "\\"action\\": no"}') is None  # no action key: no action part
    cut = '{"thoughts": "go", "action": "+'  # cut off by max_new_tokens: the split still finds the action key
    assert cut[JSON.action_offset(cut):] == '"action": "+'


def test_tagged_formats_read_their_own_tags():
    response = "<think> a b </think><answer> 12 </answer>"
    assert THINK_ANSWER.action(response) == "12" and THINK_ANSWER.thought(response) == "a b"
    assert response[THINK_ANSWER.action_offset(response):] == "<answer> 12 </answer>"
    assert THINK_ANSWER.action("<answer>a</answer> <answer>unclosed") == "a"
    assert THINK_ANSWER.action("<answer>" + "x" * 3000 + "</answer>") is None  # too long to be an answer
    assert THINK_ANSWER.thought("I think so <answer>z</answer>") == "I think so"
    assert ACTION_TAG.action("<think>go</think><action>open fridge 1</action>") == "open fridge 1"
    assert ACTION_TAG.action("<answer>open fridge 1</answer>") is None
    satori = "<caption>a red circle</caption> <bbox>[[1, 2, 3, 4]]</bbox> <answer>red</answer>"
    assert SATORI.action(satori) == "red"
    assert SATORI.thought(satori) == "<caption>a red circle</caption> <bbox>[[1, 2, 3, 4]]</bbox>"
    assert PLAIN.action("  red ") == "red" and PLAIN.thought("red") == "" and not PLAIN.has_thought


def test_with_thought_replaces_only_the_thought():
    assert json.loads(JSON.with_thought('{"thoughts": "old", "action": "3"}', "new")) == {"thoughts": "new",
                                                                                        "action": "3"}
    fixed = json.loads(JSON.with_thought('{"cards": [9], "thoughts": "old", "action": "3"}', "new", {"cards": [1]}))
    assert fixed == {"cards": [1], "thoughts": "new", "action": "3"} and list(fixed)[-1] == "action"
    assert THINK_ANSWER.with_thought("<think>old</think> <answer>3</answer>", "new") == "<think>new</think><answer>3</answer>"
    assert ACTION_TAG.with_thought("hmm <action>look</action>", "new") == "<think>new</think><action>look</action>"
    for fmt in FORMATS.values():
        assert fmt.with_thought("no action at all", "new") is None


@pytest.mark.parametrize("fmt", [JSON, THINK_ANSWER, ACTION_TAG, SATORI])
def test_compose_round_trips(fmt):
    response = fmt.compose("the reason", "go left")
    assert fmt.action(response) == "go left" and fmt.thought(response) == "the reason"


@pytest.mark.parametrize("fmt", [JSON, THINK_ANSWER, ACTION_TAG])
def test_the_token_split_puts_the_thought_before_the_action(fmt, tiny_text):
    response = fmt.compose("red green blue", "yellow")
    ids = tiny_text.encode_completion(response)
    start = fmt.action_token_start(ids, tiny_text.decode)
    assert 0 < start < len(ids)
    assert "red green blue" in tiny_text.decode(ids[:start])
    assert "yellow" in tiny_text.decode(ids[start:]) and "yellow" not in tiny_text.decode(ids[:start])
    assert fmt.action_token_start(tiny_text.encode_completion("no action"), tiny_text.decode) == 0


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet='{}[]":,<>/ actionswerhkbp0123', max_size=300))
def test_hostile_responses_never_raise(text):
    for fmt in FORMATS.values():
        fmt.action(text), fmt.thought(text), fmt.action_offset(text), fmt.fields(text)
        fmt.with_thought(text, "t")


def test_envs_declare_their_format():
    assert format_of(gym.make("mmrl/NumberLine-v0", render_image=False)) is JSON
    assert format_of(gym.make("mmrl/Countdown-v0")) is THINK_ANSWER
    assert format_of(gym.make("mmrl/TryAgain-Countdown-v0")) is THINK_ANSWER
    assert format_of(gym.make("mmrl/Classification-v0")) is THINK_ANSWER
    assert format_of(gym.make("mmrl/Classification-v0", style="no_think")) is PLAIN
    assert format_of(gym.make("mmrl/VQAGrounding-v0")) is SATORI

    class Undeclared(gym.Env):
        pass

    assert format_of(Undeclared()) is PLAIN
    with pytest.raises(ValueError, match="unknown response format 'xml'"):
        get_format("xml")
