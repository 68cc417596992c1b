"""``mmrl/Judge-v0``: the policy as a judge, J1's position-swap consistency, candidates from a real local endpoint."""

from __future__ import annotations

import re

import gymnasium as gym
import pytest

import mmrl.envs  # noqa: F401  (registers the ids)
from mmrl.envs.text.expression import evaluate, format_number
from mmrl.envs.text.judging import JudgeEnv
from tests.chat_server import ChatServer


def play(env, seed: int, policy) -> tuple[float, dict]:
    """Total reward and last info of one episode; `policy(observation text, info) -> verdict`."""
    obs, info = env.reset(seed=seed)
    total, done = 0.0, False
    while not done:
        obs, reward, done, _, info = env.step(f"<think>t</think><answer>{policy(obs['text'], info)}</answer>")
        total += reward
    return total, info


def test_pairwise_scores_only_verdicts_that_survive_the_swap():
    env = gym.make("mmrl/Judge-v0")
    expert_verdict = lambda text, info: re.search(r"<answer>(.*)</answer>", info["expert_action"]).group(1)  # noqa: E731
    expert = [play(env, s, expert_verdict) for s in range(10)]
    assert all(r == 1.0 and i["rate/position_consistent"] == 1.0 for r, i in expert)
    always_a = [play(env, s, lambda text, info: "A") for s in range(10)]
    assert all(r == 0.0 and i["rate/position_consistent"] == 0.0 for r, i in always_a)
    assert {i["rate/first_order_correct"] for _, i in always_a} == {0.0, 1.0}  # right half the time, unswapped


def test_the_label_comes_from_the_verifier():
    env = JudgeEnv(mode="pointwise", operations=3)
    labels = set()
    for seed in range(20):
        obs, info = env.reset(seed=seed)
        expression = re.search(r"value of (.*)\.\n", obs["text"]).group(1)
        shown = re.search(r"The answer is (\S+)\.", obs["text"]).group(1)
        truth = format_number(evaluate(expression).value) == shown
        assert info["answer"] == ("correct" if truth else "incorrect")
        labels.add(truth)
        assert env.step("<answer>Correct</answer>")[1] == float(truth)
    assert labels == {True, False}


def test_candidates_from_a_real_local_endpoint():
    with ChatServer(lambda body: "1000000") as server:  # a model that is always wrong
        env = JudgeEnv(candidate_url=server.url, candidate_model="m", timeout_s=5)
        obs, info = env.reset(seed=0)
        assert info["candidate_source"] == "model" and "1000000" in obs["text"]
        assert info["answer"] == ("B" if obs["text"].index("1000000") < obs["text"].index("Response B") else "A")
        assert server.requests[0]["model"] == "m" and "compute the exact value" in str(server.requests[0])
    with ChatServer(lambda body: "x", status=500) as server:
        env = JudgeEnv(candidate_url=server.url, timeout_s=5)
        assert env.reset(seed=0)[1]["candidate_source"] == "generated"  # a failed request falls back


def test_bad_arguments():
    with pytest.raises(ValueError, match="mode"):
        JudgeEnv(mode="listwise")
    with pytest.raises(ValueError, match="max_episode_steps: 2"):
        JudgeEnv(max_steps=1)  # the runner would cut every pairwise episode after its first verdict
    JudgeEnv(mode="pointwise", max_steps=1)
