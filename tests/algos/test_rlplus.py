"""RL-PLUS: the mixture importance ratio, the exploration factor and demonstrations in the group, by hand."""

from __future__ import annotations

import math

import pytest
import torch

from mmrl.algos.base import Sample, StepTools
from mmrl.algos.registry import make_algorithm
from mmrl.algos.rlplus import demo_loss_tokens, exploration_factor, mixture_importance_ratio
from mmrl.config import load_config
from mmrl.models.policy import Prompt
from mmrl.rollout.backends import Completion
from mmrl.rollout.runner import Episode, EpisodeRequest, Turn

log = math.log


def test_mixture_ratio_and_exploration_factor():
    lp = torch.tensor([[log(0.2), log(0.75)]], requires_grad=True)
    ratio = mixture_importance_ratio(lp, lp.detach(), torch.zeros(1, 2), 0.5)  # pi_demo = 1
    assert ratio.tolist()[0] == pytest.approx([0.2 / (0.1 + 0.5), 0.75 / (0.375 + 0.5)])
    assert exploration_factor(lp, 0.5).tolist()[0] == pytest.approx([0.8 ** 0.5, 0.5])
    assert exploration_factor(lp, 0.0).tolist()[0] == pytest.approx([1.0, 1.0])


def test_demo_loss_scales_only_positive_advantages_and_its_gradient():
    lp = torch.tensor([[log(0.75)], [log(0.75)]], requires_grad=True)
    tokens = demo_loss_tokens(lp, lp.detach(), torch.tensor([2.0, -1.0]), 0.5, 0.5)
    r = 0.75 / 0.875
    assert tokens.flatten().tolist() == pytest.approx([-r * 2 * 0.5, r * 1.0])  # A=2 -> 2*(1-0.75)^0.5 = 1
    tokens.sum().backward()
    # d(-r * A_t)/d log p = -r * A_t (r is proportional to p; the factor is detached)
    assert lp.grad.flatten().tolist() == pytest.approx([-r * 1.0, r * 1.0])


def _episode(reward: float, seed: int = 3) -> Episode:
    prompt = Prompt([{"role": "user", "content": "q"}], "q", torch.tensor([1]))
    return Episode(EpisodeRequest(0, seed, 0), {}, [Turn(prompt, Completion([5], "x", True), reward,
                                                          {"success": reward > 0})])


class _Runner:
    def __init__(self):
        self.asked = []

    def warm_start_pairs(self, requests, target, rng):
        self.asked += [(r.seed, target) for r in requests]
        return [(Prompt([{"role": "user", "content": "q"}], "q", torch.tensor([1])), "<answer>3 * 2</answer>")]


def test_a_demonstration_joins_its_group_for_the_advantage(tiny_text):
    algo = make_algorithm(load_config(None, ["algo.name=rlplus", "rollout.group_size=3"]))
    episodes = [_episode(1.0), _episode(0.0), _episode(0.0)]
    runner = _Runner()
    extra, stats = algo.extra_samples(episodes, StepTools(tiny_text, None, runner, 1))
    assert runner.asked == [(3, "expert")] and stats["rlplus/demos"] == 1.0
    assert tiny_text.decode(extra[0].completion) == "<answer>3 * 2</answer>"
    rollouts = [Sample(ep.turns[0].prompt, [5], i) for i, ep in enumerate(episodes)]
    algo.advantages(episodes, rollouts + extra)
    # returns 1, 0, 0 and the demonstration's 1: mean 0.5, std 0.5
    assert [s.advantage for s in rollouts] == pytest.approx([1.0, -1.0, -1.0], abs=1e-4)
    assert extra[0].advantage == pytest.approx(1.0, abs=1e-4)
    loss, lstats = algo.loss(tiny_text, extra, None)  # only the demonstration: -mean(r * A_t) over its tokens
    p = lstats["demo_token_prob"]
    assert loss.item() == pytest.approx(lstats["demo_loss"]) and lstats["demo_loss"] < 0 and 0 < p < 1


def test_an_episode_whose_env_failed_sets_no_baseline_beside_a_demonstration(tiny_text):
    """The group of the test above plus a failed episode (return 0): the three others and the demonstration keep
    their advantages, and the failed one gets 0."""
    algo = make_algorithm(load_config(None, ["algo.name=rlplus", "rollout.group_size=4"]))
    failed = _episode(0.0)
    failed.error = "env worker crashed"
    episodes = [_episode(1.0), _episode(0.0), _episode(0.0), failed]
    extra, _ = algo.extra_samples(episodes, StepTools(tiny_text, None, _Runner(), 1))
    rollouts = [Sample(ep.turns[0].prompt, [5], i) for i, ep in enumerate(episodes)]
    algo.advantages(episodes, rollouts + extra)
    assert [s.advantage for s in rollouts] == pytest.approx([1.0, -1.0, -1.0, 0.0], abs=1e-4)
    assert extra[0].advantage == pytest.approx(1.0, abs=1e-4)
