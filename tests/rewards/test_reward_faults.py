"""Every env's reward runs fault-isolated by default: a reward function that hangs or raises counts 0 for that
response, is counted (`reward_errors` in the step's info), and never stops the step."""

from __future__ import annotations

import time

import pytest

import mmrl.rewards
from mmrl.rewards import register_reward
from mmrl.rewards.combine import REWARD_TIMEOUT_S, RewardWeights


@pytest.fixture
def faulty_rewards(monkeypatch):
    monkeypatch.setattr(mmrl.rewards, "_REGISTRY", dict(mmrl.rewards._REGISTRY))

    @register_reward("test_hangs")
    def hangs(completions, **columns):
        time.sleep(30)
        return [1.0] * len(completions)

    @register_reward("test_raises")
    def raises(completions, **columns):
        raise ZeroDivisionError("user reward bug")


def test_a_hanging_and_a_raising_reward_count_zero_and_are_counted(faulty_rewards):
    assert RewardWeights({"exact_match": 1.0}).timeout_s == REWARD_TIMEOUT_S  # on by default, in every env
    weights = RewardWeights({"exact_match": 1.0, "test_hangs": 1.0, "test_raises": 1.0}, timeout_s=0.3)
    start = time.monotonic()
    total, values = weights.score("a", answer="a")
    assert time.monotonic() - start < 5
    assert total == 1.0 and values == {"exact_match": 1.0, "test_hangs": 0.0, "test_raises": 0.0}
    info = RewardWeights.info(values)
    assert info["reward_errors"] == 2.0 and info["reward/exact_match"] == 1.0
    assert "reward_errors" not in RewardWeights.info(RewardWeights({"exact_match": 1.0}).score("a", answer="a")[1])


def test_an_envs_failing_reward_reaches_the_training_metrics(faulty_rewards):
    import gymnasium as gym

    from mmrl.episode_metrics import episode_sums
    from mmrl.rollout.backends import Completion
    from mmrl.rollout.runner import Episode, EpisodeRequest, Turn

    env = gym.make("mmrl/Arithmetic-v0", reward_weights={"test_raises": 1.0})
    _, info = env.reset(seed=0)
    _, reward, _, _, step_info = env.step(info["expert_action"])
    assert step_info["reward_errors"] == 1.0 and reward > 0  # the env's own rewards still count
    episode = Episode(EpisodeRequest(0, 0), {}, [Turn(None, Completion([1], "x", True), reward, step_info)])
    assert episode_sums([episode], ["arithmetic"])["reward_errors"][0] == 1.0
