"""The oracle corrector and the thought helpers, on real card-game states."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest

import mmrl.envs  # noqa: F401
from mmrl.correctors import OracleCorrector
from mmrl.correctors.prompt import parse_verdict
from mmrl.formats import JSON


def _numberline(seed=3):
    env = gym.make("mmrl/NumberLine-v0", render_image=False)
    obs, info = env.reset(seed=seed)
    return env.unwrapped, obs, info


def _answer(env, action, thoughts="hmm", **fields):
    base = {"current number": env.position, "target number": env.target} | fields
    return json.dumps(base | {"thoughts": thoughts, "action": action})


def test_a_good_action_with_the_state_read_right_is_judged_correct():
    env, obs, info = _numberline()
    good = "+" if env.target > env.position else "-"
    verdict = OracleCorrector().correct(obs, _answer(env, good), info, JSON)
    assert verdict.correct and verdict.response is None and not verdict.off_path


def test_a_wrong_action_gets_the_expert_thought_and_keeps_its_own_action():
    env, obs, info = _numberline()
    bad = "-" if env.target > env.position else "+"
    verdict = OracleCorrector().correct(obs, _answer(env, bad, "I like this move"), info, JSON)
    assert not verdict.correct and verdict.off_path
    assert verdict.thought == info["expert_thought"]
    fixed = json.loads(verdict.response)
    assert fixed["thoughts"] == info["expert_thought"] and fixed["action"] == bad
    assert list(fixed)[-1] == "action"  # the action stays last, after the thought
    assert fixed["current number"] == env.position and fixed["target number"] == env.target


def test_a_misread_state_is_corrected_even_when_the_move_is_right():
    env, obs, info = _numberline()
    good = "+" if env.target > env.position else "-"
    response = _answer(env, good, **{"current number": env.position + 7})
    verdict = OracleCorrector().correct(obs, response, info, JSON)
    assert not verdict.correct and not verdict.off_path
    assert json.loads(verdict.response)["current number"] == env.position


def test_points24_accepts_every_token_on_some_solution_path():
    env = gym.make("mmrl/Points24-v0", render_image=False).unwrapped
    for seed in range(50):
        obs, info = env.reset(seed=seed)
        if len(info["good_actions"]) > 1:
            break
    else:
        pytest.fail("no hand with several good first tokens in 50 seeds")
    cards = {"cards": env.values, "current formula": ""}
    for token in info["good_actions"]:
        response = json.dumps(cards | {"thoughts": "t", "action": token})
        assert OracleCorrector().correct(obs, response, info, JSON).correct
    off = next(t for t in ["+", "-", "*", "/", ")", "="] if t not in info["good_actions"])
    assert OracleCorrector().correct(obs, json.dumps(cards | {"thoughts": "t", "action": off}), info, JSON).off_path


def test_a_state_without_an_expert_is_off_the_path():
    verdict = OracleCorrector().correct({"text": "x"}, '{"action": "1"}', {"expert_action": None}, JSON)
    assert verdict.off_path and not verdict.correct and verdict.response is None


def test_unparseable_responses_are_judged_wrong_without_a_label():
    env, obs, info = _numberline()
    for junk in ["", "no json here", '{"action": ', "\x00" * 50, "{" * 5000]:
        verdict = OracleCorrector().correct(obs, junk, info, JSON)
        assert not verdict.correct and verdict.off_path and verdict.response is None


@pytest.mark.parametrize("reply", [None, 3, "", "YES", '{"evaluation": "maybe"}', '{"evaluation": ["NO"]}',
                                   "[1, 2]", '{"evaluation": "NO", "correction": 5}' + "x" * 10])
def test_parse_verdict_never_raises_and_reads_only_clear_verdicts(reply):
    verdict = parse_verdict(reply, '{"thoughts": "t", "action": "+"}', JSON)
    if verdict is not None:
        assert verdict.correct is False and verdict.response is None


def test_parse_verdict_builds_the_corrected_response():
    verdict = parse_verdict('ok: {"evaluation": "NO", "on_solution_path": true, "correction": "go left"}',
                            '{"thoughts": "go right", "action": "+"}', JSON)
    assert not verdict.correct and not verdict.off_path
    assert json.loads(verdict.response) == {"thoughts": "go left", "action": "+"}
    assert parse_verdict('{"evaluation": "yes"}', '{"action": "+"}', JSON).correct
