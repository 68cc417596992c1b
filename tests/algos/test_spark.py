"""SPARK: self-rewards on envs without a verifier, pointwise and pairwise verification data, by hand."""

from __future__ import annotations

import pytest
import torch

from mmrl.algos.base import Sample, StepTools
from mmrl.algos.registry import make_algorithm
from mmrl.config import ConfigError, load_config
from mmrl.models.policy import Prompt
from mmrl.rollout.backends import Completion
from mmrl.rollout.runner import Episode, EpisodeRequest, Turn

ENVS = ("envs=[{id: mmrl/Countdown-v0, name: verified, kwargs: {count: 2}}, "
        "{id: mmrl/Countdown-v0, name: unverified, kwargs: {count: 2}}]")


def _episode(env: int, success: bool, text: str) -> Episode:
    prompt = Prompt([{"role": "user", "content": "make 6 from [3, 2]"}], "make 6", torch.tensor([1]))
    return Episode(EpisodeRequest(env, 0, env), {}, [Turn(prompt, Completion([5], text, True), float(success),
                                                          {"success": success})])


def test_spark_self_rewards_unverified_rollouts_and_trains_on_verified_ones(tiny_text):
    spark = make_algorithm(load_config(None, [ENVS, "algo.name=spark", "algo.self_reward_envs=[unverified]",
                                              "rollout.group_size=2", "algo.verify_per_group=2",
                                              "algo.verify_samples=2"]))
    episodes = [_episode(0, True, "<answer>3 * 2</answer>"), _episode(0, False, "<answer>3 + 2</answer>"),
                _episode(1, True, "<answer>2 * 3</answer>"), _episode(1, False, "<answer>2 - 3</answer>")]
    calls = []

    def generate(prompts, round_):
        calls.append((round_, [p.text for p in prompts]))
        answers = {3: ["<answer>0</answer>", "<answer>0</answer>"],  # self-judge: both "wrong"
                   1: ["<answer>1</answer>", "<answer>1</answer>", "<answer>0</answer>", "<answer>1</answer>"],
                   2: ["<answer>1</answer>", "<answer>2</answer>"]}[round_]
        return [Completion([7], a, True) for a in answers]

    extra, stats = spark.extra_samples(episodes, StepTools(tiny_text, generate, None, 1))
    # self-judged: the right one judged wrong (reward 0), the wrong one judged wrong (0); accuracy 1/2
    assert [ep.turns[0].reward for ep in episodes] == [1.0, 0.0, 0.0, 0.0]
    assert episodes[2].turns[0].info["verifier_reward"] == 1.0
    assert stats["spark/self_judge_accuracy"] == 0.5 and stats["spark/self_reward_mean"] == 0.0
    assert [r for r, _ in calls] == [3, 1, 2] and len(calls[1][1]) == 4  # only the verified group's 2 solutions
    pairwise = [s for s in extra if "pairwise" in s.extra]
    assert len(pairwise) == 2 and "Solution 2" in calls[2][1][0]
    label = pairwise[0].extra["verify_label"]
    solutions = [Sample(ep.turns[0].prompt, [5], i) for i, ep in enumerate(episodes)]
    stats = spark.advantages(episodes, solutions + extra)
    assert [s.advantage for s in solutions][2:] == [0.0, 0.0]  # self-rewards 0 and 0: no signal
    assert stats["spark/verify_accuracy"] == 0.75  # 1, 1 on the right; 0 right, 1 wrong on the wrong one
    assert stats["spark/pairwise_accuracy"] == 0.5
    assert pairwise[label - 1].advantage == pytest.approx(1.0, abs=1e-4)  # the judgement naming the right one


def test_self_reward_envs_must_name_an_env():
    with pytest.raises(ConfigError, match="algo.self_reward_envs"):
        load_config(None, [ENVS, "algo.name=spark", "algo.self_reward_envs=[nope]"])


def test_an_episode_whose_env_failed_is_neither_self_judged_nor_verified(tiny_text):
    """Its success says nothing: the self-judge sees only the healthy unverified rollout, and the verified group,
    left with one healthy episode, gives no pair."""
    spark = make_algorithm(load_config(None, [ENVS, "algo.name=spark", "algo.self_reward_envs=[unverified]",
                                              "rollout.group_size=2", "algo.verify_per_group=2",
                                              "algo.verify_samples=1"]))
    episodes = [_episode(0, True, "<answer>3 * 2</answer>"), _episode(0, False, "<answer>3 + 2</answer>"),
                _episode(1, True, "<answer>2 * 3</answer>"), _episode(1, False, "<answer>2 - 3</answer>")]
    episodes[1].error = episodes[3].error = "env worker crashed"
    calls = []

    def generate(prompts, round_):
        calls.append((round_, len(prompts)))
        return [Completion([7], "<answer>1</answer>", True) for _ in prompts]

    extra, _ = spark.extra_samples(episodes, StepTools(tiny_text, generate, None, 1))
    # one self-judgement (episode 2), one pointwise verification (episode 0), no pairs
    assert [c for c in calls if c[1]] == [(3, 1), (1, 1)]
    assert episodes[3].turns[0].reward == 0.0 and "verifier_reward" not in episodes[3].turns[0].info
    assert not [s for s in extra if "pairwise" in s.extra]
