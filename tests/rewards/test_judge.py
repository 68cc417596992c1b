"""The RLBFF principle judge reward against a real local HTTP chat endpoint (no mock of the openai client)."""

from __future__ import annotations

import time

import gymnasium as gym
import pytest

import mmrl.envs  # noqa: F401  (registers the ids)
from mmrl.rewards import call_reward
from mmrl.rewards.judge import PrincipleJudge, make_judge_reward, read_yes_no, reset_environment_judge
from tests.chat_server import ChatServer

PRINCIPLES = {"The answer is correct.": 3.0, "The response is polite.": 1.0}


def by_principle(body: dict) -> str:
    """Yes to correctness when the response contains 42, always No to politeness."""
    user = body["messages"][-1]["content"]
    if "Principle: The answer is correct." in user:
        response = user.split("Response:")[1].split("Reference answer:")[0].split("Principle:")[0]
        return "Yes." if "42" in response else "No"
    return "no, not polite"


def test_weighted_share_of_yes_over_real_http():
    with ChatServer(by_principle) as server:
        judge = PrincipleJudge(server.url, "rm", PRINCIPLES, timeout_s=5, retries=0)
        scores = judge(["It is 42.", "It is 41."], prompt=["What is 6*7?"] * 2, answer=["42", "42"])
        judge.close()
    assert scores == [0.75, 0.0]
    assert len(server.requests) == 4 and server.requests[0]["model"] == "rm"
    assert "Reference answer:\n42" in server.requests[0]["messages"][-1]["content"]


def test_unreadable_replies_are_retried_then_none():
    replies = iter(["maybe", "Yes", "I think so", "hmm"])
    with ChatServer(lambda body: next(replies)) as server:
        judge = PrincipleJudge(server.url, "rm", {"ok": 1.0}, timeout_s=5, retries=1)
        assert judge(["a"], prompt=["q"]) == [1.0]  # 'maybe' retried, then Yes
        assert judge(["a"], prompt=["q"]) == [None]  # two unreadable replies: no verdict
        judge.close()


def test_http_errors_and_timeouts_give_none_quickly():
    with ChatServer(lambda body: "Yes", status=500) as server:
        judge = PrincipleJudge(server.url, "rm", timeout_s=5, retries=1)
        assert judge(["a"]) == [None]
        assert len(server.requests) == 2  # one try and one retry
    with ChatServer(lambda body: "Yes", delay_s=2.0) as server:
        judge = PrincipleJudge(server.url, "rm", timeout_s=0.3, retries=0)
        start = time.perf_counter()
        assert judge(["a"]) == [None]
        assert time.perf_counter() - start < 1.5


def test_a_registered_judge_reward_scores_an_env_step():
    with ChatServer(by_principle) as server:
        make_judge_reward("test_rlbff_judge", base_url=server.url, model="rm", principles=PRINCIPLES,
                          timeout_s=5, retries=0)
        env = gym.make("mmrl/Arithmetic-v0", reward_weights={"accuracy": 0.0, "test_rlbff_judge": 1.0})
        env.reset(seed=0)
        _, reward, _, _, info = env.step("<think>x</think><answer>42</answer>")
    assert reward == info["reward/test_rlbff_judge"] == 0.75
    assert "Compute the exact value" in server.requests[0]["messages"][-1]["content"]  # the prompt column


def test_the_builtin_judge_reads_the_environment(monkeypatch):
    reset_environment_judge()
    monkeypatch.delenv("MMRL_JUDGE_URL", raising=False)
    assert call_reward("judge", ["a"]) == [None]
    reset_environment_judge()
    with ChatServer(lambda body: "Yes") as server:
        monkeypatch.setenv("MMRL_JUDGE_URL", server.url)
        monkeypatch.setenv("MMRL_JUDGE_PRINCIPLES", '{"p1": 1, "p2": 1}')
        monkeypatch.setenv("MMRL_JUDGE_RETRIES", "0")
        assert call_reward("judge", ["a", "b"], prompt=["q", "q"]) == [1.0, 1.0]
        assert len(server.requests) == 4
    reset_environment_judge()


def test_reading_replies_and_bad_settings():
    assert [read_yes_no(t) for t in ("Yes", " **no**.", "YES, because", "Nope", "", None)] == [
        True, False, True, None, None, None]
    with pytest.raises(ValueError, match="weights"):
        PrincipleJudge("http://127.0.0.1:9/v1", "rm", {"p": -1.0})
    with pytest.raises(ValueError, match="MMRL_NO_SUCH_KEY"):
        PrincipleJudge("http://127.0.0.1:9/v1", "rm", api_key_env="MMRL_NO_SUCH_KEY")
