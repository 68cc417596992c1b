"""``mmrl/ALFWorld-v0`` on the committed fixture games (one small game per task type) and the game generator."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import mmrl.envs  # noqa: F401  (registers the ids)
from mmrl.envs.alfworld.env import ALFWorldEnv, normalize_command, parse_command
from mmrl.envs.alfworld.game import GAME_FILE, TRAJ_FILE, find_games, replay_wins
from mmrl.envs.alfworld.generate import generate
from mmrl.envs.alfworld.problem import TASK_TYPES
from mmrl.envs.alfworld.render import entity_position

FIXTURES = Path(__file__).parents[1] / "fixtures" / "alfworld"


@pytest.fixture(scope="module")
def env():
    return ALFWorldEnv(data_path=str(FIXTURES))


def act(command: str) -> str:
    return json.dumps({"thoughts": "...", "action": command})


def test_fixtures_hold_one_game_per_task_type(env):
    types = sorted(json.loads((g / TRAJ_FILE).read_text())["task_type"] for g in env.games)
    assert types == sorted(TASK_TYPES)


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_walkthrough_wins_every_task_type(env, task_type):
    index = next(i for i, g in enumerate(env.games) if task_type in g.parent.name)
    walkthrough = json.loads((env.games[index] / GAME_FILE).read_text())["walkthrough"]
    obs, info = env.reset(seed=0, options={"game": index})
    assert info["task_type"] == task_type and not info["success"]
    total = 0.0
    for step, command in enumerate(walkthrough):
        assert info["expert_command"] == command
        assert command in info["admissible_commands"]
        obs, reward, terminated, truncated, info = env.step(act(command))
        total += reward
        assert not info["invalid_action"] and not info["format_error"]
        assert terminated == (step == len(walkthrough) - 1) and not truncated
    assert info["success"] and info["goal_condition_rate"] == 1.0
    assert total == pytest.approx(50.0 + 1.0)  # rl4vlm: won + the goal-condition rate, counted once
    assert obs in env.observation_space


def test_invalid_command_is_penalised_and_changes_nothing(env):
    obs, info = env.reset(seed=3, options={"game": 0})
    before = info["admissible_commands"]
    obs, reward, terminated, truncated, info = env.step(act("fly to the moon"))
    assert reward == -1.0 and info["invalid_action"] and not info["format_error"]
    assert "Nothing happens." in obs["text"] and info["admissible_commands"] == before
    obs, reward, terminated, truncated, info = env.step("no json here")
    assert reward == -1.0 and info["format_error"] and not terminated


def test_verl_agent_preset_and_tag_answers():
    env = ALFWorldEnv(data_path=str(FIXTURES), reward="verl_agent", render_image=False, response_format="action_tag")
    obs, info = env.reset(seed=0, options={"game": 0})
    assert set(env.observation_space.spaces) == {"text"}
    assert "<action>" in obs["text"] and info["expert_action"].endswith(f"<action>{info['expert_command']}</action>")
    _, reward, *_ = env.step('{"thoughts": "?", "action": "look"}')  # JSON is not this env's format
    assert reward == pytest.approx(-0.1)
    _, reward, *_ = env.step("<think>?</think><action>jump</action>")
    assert reward == pytest.approx(-0.1)
    _, info = env.reset(seed=0, options={"game": 0})
    walkthrough = json.loads((env.games[0] / GAME_FILE).read_text())["walkthrough"]
    rewards = [env.step(f"<think>plan</think><action>{c.upper()}.</action>")[1] for c in walkthrough]
    assert rewards[-1] == 10.0 and sum(rewards) == 10.0


def test_truncated_after_max_steps():
    env = ALFWorldEnv(data_path=str(FIXTURES), max_steps=3, render_image=False)
    env.reset(seed=0)
    results = [env.step(act("look")) for _ in range(3)]
    assert [r[3] for r in results] == [False, False, True] and not results[-1][4]["success"]
    with pytest.raises(RuntimeError):
        env.step(act("look"))


def test_leaving_the_plan_drops_the_expert(env):
    _, info = env.reset(seed=0, options={"game": 0})
    env.step(act("look"))  # looking changes no world state: still on the plan
    _, _, _, _, info = env.step(act("inventory"))
    assert info["expert_command"] is not None
    first = info["expert_command"]
    other = next(c for c in info["admissible_commands"] if c.startswith("go to ") and c != first)
    _, _, _, _, info = env.step(act(other))
    assert info["expert_action"] is None  # replan=False (the default); tests/envs/test_expert_labels.py: replan=True


def test_normalisation_and_hostile_parsing():
    assert normalize_command("  Put Apple 1 IN  fridge 1. ") == "move apple 1 to fridge 1"
    assert parse_command('{"action": "\\"Go to cabinet 1\\""}') == "go to cabinet 1"
    assert parse_command("x" * 200_000) is None and parse_command(None) is None
    assert parse_command(act("a" * 400)) is None


def test_check_env_and_pickle_mid_episode(env):
    check_env(ALFWorldEnv(data_path=str(FIXTURES)), skip_render_check=True)
    _, info = env.reset(seed=5, options={"game": 2})
    walkthrough = json.loads((env.games[2] / GAME_FILE).read_text())["walkthrough"]
    env.step(act(walkthrough[0]))
    clone = pickle.loads(pickle.dumps(env))
    a = env.step(act(walkthrough[1]))
    b = clone.step(act(walkthrough[1]))
    assert a[0]["text"] == b[0]["text"] and a[1:4] == b[1:4]
    assert np.array_equal(a[0]["image"], b[0]["image"])


def test_image_is_a_labelled_schematic(env):
    obs, _ = env.reset(seed=0, options={"game": 1})
    image = obs["image"]
    assert image.dtype == np.uint8 and image.shape == (320, 320, 3)
    assert (image[:16] == 60).all(axis=-1).mean() > 0.5  # the dark banner ("SCHEMATIC ...") on top
    assert entity_position("cabinet_bar__minus_01_dot_05_bar__plus_00_dot_34_bar__minus_01_dot_33") == (-1.05, -1.33)
    assert entity_position("agent1") is None


def test_missing_data_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("MMRL_ALFWORLD_DATA", raising=False)
    with pytest.raises(ValueError, match="data_path"):
        gym.make("mmrl/ALFWorld-v0")
    with pytest.raises(ValueError, match="no solvable"):
        ALFWorldEnv(data_path=str(tmp_path))


def test_generate_small_games_are_solvable(tmp_path):
    types = ["pick_and_place_simple", "look_at_obj_in_light"]
    games = generate(tmp_path, 2, task_types=types, seed=3, max_receptacles=6, n_distractors=2, log=lambda _: None)
    assert [g.task_type for g in games] == types
    assert find_games(tmp_path) == sorted(g.path for g in games)
    for g in games:
        game = json.loads((g.path / GAME_FILE).read_text())
        assert game["solvable"] and replay_wins(game, game["walkthrough"])
        assert "UNKNOWN GOAL" not in game["grammar"]
    again = generate(tmp_path / "again", 2, task_types=types, seed=3, max_receptacles=6, n_distractors=2,
                     log=lambda _: None)
    assert [(g.path / GAME_FILE).read_text() for g in again] == [(g.path / GAME_FILE).read_text() for g in games]
    with pytest.raises(ValueError, match="unknown task types"):
        generate(tmp_path, 1, task_types=["fly"])


def test_cli_generate_writes_games_and_reports_errors(tmp_path, capsys):
    from mmrl.cli import main

    assert main(["alfworld", "generate", "--out", str(tmp_path), "--n", "1", "--tasks", "pick_and_place_simple",
                 "--max-receptacles", "6", "--seed", "4"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["games"] == 1 and summary["by_task_type"] == {"pick_and_place_simple": 1}
    assert len(ALFWorldEnv(data_path=str(tmp_path)).games) == 1
    assert main(["alfworld", "generate", "--out", str(tmp_path), "--n", "1", "--tasks", "nope"]) == 2


def test_goal_text_outside_the_charset_is_replaced(tmp_path):
    import shutil

    source = next(g for g in ALFWorldEnv(data_path=str(FIXTURES)).games if "pick_and_place" in g.parent.name)
    folder = tmp_path / "g"
    shutil.copytree(source, folder)
    game = json.loads((folder / GAME_FILE).read_text())
    game["grammar"] = game["grammar"].replace("Your task is to: ", "Your task is to: \u2603 ")
    (folder / GAME_FILE).write_text(json.dumps(game))
    env = ALFWorldEnv(data_path=str(tmp_path))
    obs, _ = env.reset(seed=0)
    assert "Your task is to: ? " in obs["text"] and obs in env.observation_space


def test_env_copies_reset_and_step_from_threads():
    """mmrl's runner drives env copies from worker threads; TextWorld's engine is not thread-safe on its own."""
    from concurrent.futures import ThreadPoolExecutor

    # One copy per episode, as the runner gives each episode its own: copies shared by two threads at once (k and
    # k + 4 on the same copy) made this test flaky, not the engine.
    envs = [ALFWorldEnv(data_path=str(FIXTURES), render_image=False) for _ in range(8)]

    def episode(k: int) -> bool:
        env = envs[k]
        _, info = env.reset(seed=k, options={"game": k % 6})
        while True:
            *_, terminated, truncated, info = env.step(act(info["expert_command"]))
            if terminated or truncated:
                return info["success"]

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(episode, range(8)))


@pytest.mark.slow
def test_trainer_runs_alfworld_episodes_from_worker_threads(tmp_path):
    """One GRPO step of the tiny VLM on the fixture games through the real runner (2 env worker threads)."""
    from mmrl.config import load_config
    from mmrl.logger import read_jsonl
    from mmrl.trainer import Trainer

    cfg = load_config(Path(__file__).parents[2] / "configs" / "alfworld_ppo.yaml", [
        f"envs.0.kwargs.data_path={FIXTURES}", f"envs.0.eval_kwargs.data_path={FIXTURES}",
        "rollout.group_size=2", "rollout.groups_per_step=2", "rollout.max_episode_steps=3", "rollout.env_workers=2",
        "rollout.max_new_tokens=16", "algo.minibatch_size=8", "train.sft_steps=1", "train.sft_batch_size=4",
        "train.total_steps=1", "train.eval_every=0", "train.save_every=0", "train.progress=false", "eval.episodes=1",
        f"train.output_dir={tmp_path}",
    ])
    Trainer(cfg).train()
    (row,) = [r for r in read_jsonl(tmp_path / "metrics.jsonl") if r.get("step") == 1]
    assert row["train/env_errors"] == 0 and row["train/episodes"] == 4
    assert row["train/return_mean"] <= 0.0  # a random tiny model: penalties only
