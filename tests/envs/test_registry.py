"""Contract tests run over every registered ``mmrl/`` env, so a new env is covered the day it is registered."""

from __future__ import annotations

import pickle
from pathlib import Path

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env, data_equivalence

from mmrl.envs import mmrl_env_ids

ENV_IDS = mmrl_env_ids()
#: Envs that need arguments to be built: ALFWorld reads games from a folder (here the committed fixtures).
ENV_KWARGS = {"mmrl/ALFWorld-v0": {"data_path": str(Path(__file__).parents[1] / "fixtures" / "alfworld")}}


def make(env_id: str) -> gym.Env:
    return gym.make(env_id, **ENV_KWARGS.get(env_id, {}))


def test_registry_lists_the_builtin_envs():
    assert "mmrl/Classification-v0" in ENV_IDS
    # the followed papers' tasks (issue 17): RAIF, AlphaAlign, J1, SGP, RLPT, and the SynLogic families
    assert {"mmrl/Instructions-v0", "mmrl/SafetyRefusal-v0", "mmrl/Judge-v0", "mmrl/SVG-v0", "mmrl/NextSegment-v0",
            "mmrl/Dyck-v0", "mmrl/SAT-v0", "mmrl/GraphColoring-v0", "mmrl/Cryptarithm-v0", "mmrl/Ordering-v0",
            "mmrl/Hanoi-v0", "mmrl/WaterJugs-v0"} <= set(ENV_IDS)
    assert {"mmrl/Sokoban-v0", "mmrl/FrozenLake-v0"} <= set(ENV_IDS)
    assert ENV_IDS == sorted(ENV_IDS)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_check_env(env_id):
    env = make(env_id)
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_seeded_determinism(env_id):
    env_a, env_b = make(env_id), make(env_id)
    for seed in (0, 1, 12345):
        obs_a, info_a = env_a.reset(seed=seed)
        obs_b, info_b = env_b.reset(seed=seed)
        assert data_equivalence(obs_a, obs_b, exact=True)
        assert data_equivalence(info_a, info_b, exact=True)
        env_a.action_space.seed(seed)
        action = env_a.action_space.sample()
        step_a, step_b = env_a.step(action), env_b.step(action)
        assert data_equivalence(step_a, step_b, exact=True)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_pickle_round_trip(env_id):
    env = make(env_id)
    env.reset(seed=7)
    clone = pickle.loads(pickle.dumps(env))
    # The clone continues from the same state: its next seeded episode equals the original's.
    assert data_equivalence(env.reset(seed=3), clone.reset(seed=3), exact=True)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_hostile_actions_never_raise(env_id):
    env = make(env_id)
    env.action_space.seed(0)
    hostile = [
        "",
        " ",
        "\x00" * 10,
        "<answer>" * 1000,
        "</think><answer>" * 500,
        "\U0001f600" * 100,
        "x" * 200_000,
    ]
    actions = [env.action_space.sample() for _ in range(20)] + hostile
    for seed, action in enumerate(actions):
        env.reset(seed=seed)
        obs, reward, terminated, truncated, info = env.step(action)
        assert obs in env.observation_space
        assert isinstance(reward, float)
        if terminated or truncated:  # the contract asks for `success` at the episode's end
            assert isinstance(info["success"], bool)
