"""The grid puzzles (Sokoban, FrozenLake): generated rooms are solvable, the solver's episodes win when replayed,
rules and rewards step by step, and the pictures show the state."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from mmrl.envs.grid import render
from mmrl.envs.grid.frozen_lake import FrozenLakeEnv
from mmrl.envs.grid.sokoban import SokobanEnv
from mmrl.envs.grid.sokoban_rooms import generate_room, push, solve

GRID_IDS = ["mmrl/Sokoban-v0", "mmrl/FrozenLake-v0"]


def act(move: str) -> str:
    return f"<think>scripted</think><action>{move}</action>"


def play_expert(env: gym.Env, seed: int) -> tuple[bool, int, int | None, float]:
    """Follow info["expert_action"] from reset to the end: (success, steps, solution length at reset, return)."""
    _, info = env.reset(seed=seed)
    first, steps, total = info["solution_length"], 0, 0.0
    done = False
    while not done:
        assert info["expert_action"] is not None, f"seed {seed}: no expert action at step {steps}"
        _, reward, terminated, truncated, info = env.step(info["expert_action"])
        steps, total, done = steps + 1, total + reward, terminated or truncated
    return info["success"], steps, first, total


@pytest.mark.parametrize("env_id", GRID_IDS)
@pytest.mark.parametrize("response_format", ["action_tag", "json"])
def test_expert_episodes_win_in_the_shortest_number_of_moves(env_id, response_format):
    env = gym.make(env_id, response_format=response_format, render_image=False)
    for seed in range(25):
        success, steps, first, _ = play_expert(env, seed)
        assert success and steps == first


def test_generated_rooms_are_solvable_and_solutions_replay():
    rng = np.random.default_rng(0)
    lengths = []
    for num_boxes in (1, 1, 2):
        for _ in range(40):
            room, plan = generate_room(rng, (6, 6), num_boxes, max_solution=12)
            assert room.walls[0].all() and room.walls[-1].all() and room.walls[:, 0].all() and room.walls[:, -1].all()
            assert len(room.boxes) == len(room.targets) == num_boxes and not room.boxes <= room.targets
            player, boxes = room.player, room.boxes
            for move in plan:
                player, boxes = push(room.walls, boxes, player, move)
            assert boxes == room.targets
            lengths.append(len(plan))
    assert 1 <= min(lengths) and max(lengths) > 3  # not only one-push rooms


def test_solver_finds_shortest_and_detects_deadlock():
    walls = np.ones((5, 6), dtype=bool)
    walls[1:4, 1:5] = False  # a 3x4 open room
    # Player (2, 1), box (2, 2), target (2, 4): two pushes right.
    assert solve(walls, frozenset({(2, 4)}), frozenset({(2, 2)}), (2, 1)) == ["right", "right"]
    # A box in a corner that is not a target can never move again.
    assert solve(walls, frozenset({(2, 4)}), frozenset({(1, 1)}), (2, 2)) is None


def test_sokoban_rewards_and_expert_after_a_deadlock():
    env = SokobanEnv(render_image=False)
    env.reset(seed=0)
    walls = np.ones((6, 6), dtype=bool)
    walls[1:5, 1:5] = False
    env.room = type(env.room)(walls, frozenset({(1, 3)}), frozenset({(2, 3)}), (3, 3))
    _, reward, terminated, _, info = env.step(act("left"))  # a plain step costs 0.1
    assert reward == pytest.approx(-0.1) and not terminated and info["expert_action"] is not None
    env.room = type(env.room)(walls, frozenset({(1, 3)}), frozenset({(2, 3)}), (3, 3))
    _, reward, terminated, _, info = env.step(act("UP"))  # the last box onto its target: -0.1 + 1 + 10
    assert reward == pytest.approx(10.9) and terminated and info["success"] and info["expert_action"] is None
    env.reset(seed=0)
    env.room = type(env.room)(walls, frozenset({(1, 3)}), frozenset({(2, 2)}), (2, 3))
    _, reward, _, _, info = env.step(act("left"))  # box into the left wall at (2, 1): no solution left
    assert reward == pytest.approx(-0.1) and info["expert_action"] is None and info["good_actions"] == []


def test_format_errors_move_nothing_and_cost_the_penalty():
    env = SokobanEnv(render_image=False, max_steps=3)
    obs, _ = env.reset(seed=1)
    for step, response in enumerate(["up", "<action>jump</action>", "<action>up"]):
        after, reward, terminated, truncated, info = env.step(response)
        assert info["format_error"] and after["text"].split("Moves left")[0] == obs["text"].split("Moves left")[0]
        assert reward == pytest.approx(-0.1) and truncated == (step == 2)  # the penalty only: no move, no step cost
    with pytest.raises(RuntimeError):
        env.step(act("up"))


def test_good_actions_each_shorten_the_solution():
    env = SokobanEnv(render_image=False)
    for seed in range(10):
        _, info = env.reset(seed=seed)
        assert info["expert_action"].endswith(f"<action>{info['good_actions'][0]}</action>") or info["good_actions"]
        for move in info["good_actions"]:
            clone = SokobanEnv(render_image=False)
            clone.reset(seed=seed)
            _, _, terminated, _, after = clone.step(act(move))
            assert terminated or after["solution_length"] == info["solution_length"] - 1


def test_frozen_lake_hole_goal_and_fixed_map():
    env = FrozenLakeEnv(desc=["SFH", "FFF", "HFG"], render_image=False)
    _, info = env.reset(seed=0)
    assert info["solution_length"] == 4 and sorted(info["good_actions"]) == ["down", "right"]
    _, reward, terminated, _, info = env.step(act("right"))
    _, reward, terminated, _, info = env.step(act("right"))  # into the hole at (0, 2)
    assert terminated and reward == 0.0 and not info["success"] and info["expert_action"] is None
    env.reset(seed=0)
    for move in ("down", "right", "right", "down"):
        _, reward, terminated, _, info = env.step(act(move))
    assert terminated and reward == 1.0 and info["success"]
    with pytest.raises(ValueError, match="no path"):
        FrozenLakeEnv(desc=["SH", "HG"])


def test_slippery_lake_expert_mostly_wins():
    env = FrozenLakeEnv(is_slippery=True, render_image=False, max_steps=40)
    wins = sum(play_expert(env, seed)[0] for seed in range(20))
    assert 0 < wins < 20  # the shortest path's move is not always where a slippery step goes


@pytest.mark.parametrize("env_id", GRID_IDS)
def test_images_show_the_state_and_change_with_a_move(env_id):
    env = gym.make(env_id, image_size=64)
    obs, info = env.reset(seed=2)
    image = obs["image"]
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    assert (image == np.array(render.PLAYER, np.uint8)).all(axis=-1).sum() > 4  # the player is drawn
    marker = render.BOX if env_id == "mmrl/Sokoban-v0" else render.GOAL
    assert (image == np.array(marker, np.uint8)).all(axis=-1).sum() > 4
    after, *_ = env.step(info["expert_action"])
    assert not np.array_equal(after["image"], image)
