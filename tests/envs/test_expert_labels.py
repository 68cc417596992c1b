"""Per-step expert labels: every env with an expert gives ``info['expert_action']`` after ``step`` too, following it
to the end wins, and replaying the recorded responses from the same seed wins again."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import mmrl.envs  # noqa: F401  (registers the ids)

ALFWORLD_FIXTURES = Path(__file__).parents[1] / "fixtures" / "alfworld"
EXPERT_ENVS = [
    ("mmrl/NumberLine-v0", {"render_image": False}),
    ("mmrl/EZPoints-v0", {"render_image": False}),
    ("mmrl/Points24-v0", {"render_image": False}),
    ("mmrl/TryAgain-Countdown-v0", {}),
    ("mmrl/Countdown-v0", {}),
    ("mmrl/ALFWorld-v0", {"data_path": str(ALFWORLD_FIXTURES), "render_image": False,
                          "task_types": ["pick_and_place_simple"]}),
]


def _expert_episode(env: gym.Env, seed: int, first: list[str] | None = None, max_steps: int = 60):
    """Play `first` responses, then the expert's until the end; returns (responses, last info, labels missing)."""
    obs, info = env.reset(seed=seed)
    responses, missing = [], 0
    for t in range(max_steps):
        response = first[t] if first and t < len(first) else info["expert_action"]
        if response is None:
            missing += 1
            break
        responses.append(response)
        obs, _, terminated, truncated, info = env.step(response)
        if terminated or truncated:
            return responses, info, missing
    return responses, info, missing + 1


@pytest.mark.parametrize(("env_id", "kwargs"), EXPERT_ENVS, ids=[e for e, _ in EXPERT_ENVS])
def test_every_step_of_an_expert_episode_is_labelled_and_wins_when_replayed(env_id, kwargs):
    env = gym.make(env_id, **kwargs)
    played = 0
    for seed in range(6):
        _, info = env.reset(seed=seed)
        if info.get("expert_action") is None:  # Points24: a deal without a solution has no expert
            continue
        responses, info, missing = _expert_episode(env, seed)
        assert missing == 0 and info["success"], f"{env_id} seed {seed}: the expert did not win"
        replayed, info, _ = _expert_episode(env, seed, first=responses)
        assert replayed == responses and info["success"]
        played += 1
        if played == 2:
            break
    assert played == 2
    env.close()


def test_alfworld_expert_replans_after_the_agent_leaves_the_plan():
    env = gym.make("mmrl/ALFWorld-v0", data_path=str(ALFWORLD_FIXTURES), render_image=False, replan=True,
                   task_types=["pick_and_place_simple"])
    rng = np.random.default_rng(0)
    for seed in range(2):
        _, info = env.reset(seed=seed)
        off_plan = [c for c in info["admissible_commands"] if c.startswith("go to") and c != info["expert_command"]]
        detour = [json.dumps({"thoughts": "", "action": off_plan[int(rng.integers(len(off_plan)))]})]
        _, info = env.reset(seed=seed)
        _, _, _, _, info = env.step(detour[0])
        assert info["expert_command"] is not None  # the walkthrough no longer applies: a new plan
        responses, info, missing = _expert_episode(env, seed, first=detour)
        assert missing == 0 and info["success"]
    unplanned = gym.make("mmrl/ALFWorld-v0", data_path=str(ALFWORLD_FIXTURES), render_image=False, replan=False,
                         task_types=["pick_and_place_simple"])
    _, info = unplanned.reset(seed=0)
    off_plan = next(c for c in info["admissible_commands"] if c.startswith("go to") and c != info["expert_command"])
    _, _, _, _, info = unplanned.step(json.dumps({"thoughts": "", "action": off_plan}))
    assert info["expert_action"] is None  # replan=False (the default, cheap for RL): no label once off plan


def test_blackjack_labels_every_state_with_basic_strategy():
    env = gym.make("mmrl/Blackjack-v0", render_image=False)
    for seed in range(5):
        _, info = env.reset(seed=seed)
        while True:
            assert info["expert_action"] is not None  # the episode is running: basic strategy has a move
            _, _, terminated, truncated, info = env.step(info["expert_action"])
            if terminated or truncated:
                assert info["expert_action"] is None
                break


def test_tryagain_repeats_the_inner_expert_after_a_wrong_answer():
    env = gym.make("mmrl/TryAgain-Countdown-v0")
    responses, info, missing = _expert_episode(env, 3, first=["<think>no idea</think><answer>1+1</answer>"])
    assert missing == 0 and info["success"] and info["turn"] == 1 and len(responses) == 2
    assert info["expert_action"] is None  # the episode is over
