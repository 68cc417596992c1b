"""RISE's online self-verification and the verification prompts it shares with SPARK, worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmrl.algos.base import Sample, StepTools
from mmrl.algos.registry import make_algorithm
from mmrl.algos.rise import choose_for_verification
from mmrl.config import load_config
from mmrl.models.policy import Prompt
from mmrl.rollout.backends import Completion
from mmrl.rollout.runner import Episode, EpisodeRequest, Turn
from mmrl.verification import (
    pairwise_messages,
    pairwise_verdict,
    pick_balanced,
    pointwise_messages,
    pointwise_verdict,
    verification_reward,
)


def test_verdicts_are_read_from_the_answer_tag_only():
    assert pointwise_verdict("<think>3 + 1 = 4</think><answer>1</answer>") is True
    assert pointwise_verdict("<answer> No. </answer>") is False
    assert pointwise_verdict("yes") is None and pointwise_verdict("<answer>maybe</answer>") is None
    assert pairwise_verdict("<answer>2</answer>") == 2 and pairwise_verdict("<answer>3</answer>") is None
    assert [verification_reward(v, True) for v in (True, False, None)] == [1.0, 0.0, 0.0]
    assert verification_reward(2, 2) == 1.0


def test_verification_messages_keep_the_system_prompt_and_image_and_show_the_solution():
    problem = [{"role": "system", "content": "S"},
               {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "make 6"}]}]
    msgs = pointwise_messages(problem, "<answer>3 * 2</answer>")
    assert msgs[0] == {"role": "system", "content": "S"}
    parts = msgs[1]["content"]
    assert parts[0] == {"type": "image"} and "make 6" in parts[1]["text"] and "3 * 2" in parts[1]["text"]
    two = pairwise_messages([{"role": "user", "content": "make 6"}], "A", "B")[0]["content"]
    assert "Solution 1:\nA" in two and "Solution 2:\nB" in two


def test_pick_balanced_alternates_right_and_wrong():
    assert pick_balanced([0, 1, 2], [5, 6], 4) == [0, 5, 1, 6]
    assert pick_balanced([0, 1, 2], [], 2) == [0, 1]
    assert pick_balanced([], [5], 3) == [5]


def _episode(success: bool) -> Episode:
    prompt = Prompt([{"role": "user", "content": "make 6 from [3, 2]"}], "make 6", torch.tensor([1]))
    turn = Turn(prompt, Completion([5, 5], "<answer>3 * 2</answer>" if success else "<answer>3 + 2</answer>", True),
                float(success), {"success": success})
    return Episode(EpisodeRequest(0, 0, 0), {}, [turn])


def test_rise_trains_verifications_beside_solutions_with_verifier_labels(tiny_text):
    cfg = load_config(None, ["algo.name=rise", "rollout.group_size=2", "algo.verify_per_group=2",
                             "algo.verify_samples=2", "algo.verify_coef=0.5"])
    rise = make_algorithm(cfg)
    episodes = [_episode(True), _episode(False)]
    answers = iter(["<answer>1</answer>", "<answer>0</answer>",  # on the right one: 1 right, 1 wrong
                    "<answer>0</answer>", "<answer>0</answer>"])  # on the wrong one: both right
    seen = []

    def generate(prompts, round_):
        seen.extend(p.text for p in prompts)
        return [Completion([7], next(answers), True) for _ in prompts]

    extra, _ = rise.extra_samples(episodes, StepTools(tiny_text, generate, None, step=1))
    assert len(extra) == 4 and "3 * 2" in seen[0] and "3 + 2" in seen[2]
    solutions = [Sample(ep.turns[0].prompt, [5, 5], i) for i, ep in enumerate(episodes)]
    stats = rise.advantages(episodes, solutions + extra)
    assert [s.advantage for s in solutions] == pytest.approx([1.0, -1.0], abs=1e-4)
    # group 1 rewards 1, 0 -> +-1 (times 0.5); group 2 rewards 1, 1 -> 0
    assert [s.advantage for s in extra] == pytest.approx([0.5, -0.5, 0.0, 0.0], abs=1e-4)
    assert stats["rise/solve_accuracy"] == 0.5 and stats["rise/verify_accuracy"] == 0.75
    assert stats["rise/verify_accuracy_on_right"] == 0.5 and stats["rise/verify_accuracy_on_wrong"] == 1.0


def test_choose_for_verification_takes_per_group_balanced():
    episodes = [_episode(s) for s in (True, True, False, False, False, False)]
    chosen = choose_for_verification(episodes, 3, 2, np.random.default_rng(0))
    assert len(chosen) == 4 and chosen[0] in (0, 1) and chosen[1] == 2 and set(chosen[2:]) <= {3, 4, 5}


def test_an_episode_whose_env_failed_is_never_verified():
    """Its success says nothing about its answer, so it is not a verification label (SPARK's pairs use the same rule)."""
    episodes = [_episode(s) for s in (True, False, False)]
    episodes[1].error = "env worker crashed"
    for seed in range(5):
        assert sorted(choose_for_verification(episodes, 3, 3, np.random.default_rng(seed))) == [0, 2]
