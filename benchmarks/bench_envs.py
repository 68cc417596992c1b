"""Reset and step throughput of mmrl's card envs (gym-cards games), with image rendering and text-only.

    OMP_NUM_THREADS=1 python benchmarks/bench_envs.py [--episodes 200]

Each env plays ``--episodes`` seeded episodes: reset, then the expert's response each step (a random admissible
response where the expert has none, e.g. an unsolvable Points24 deal). Reported: resets/s (reset includes the
24 solver for the points games, its caches cleared before each run) and steps/s (a step parses the JSON answer, applies the rules and draws the
observation).
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym

import mmrl.envs  # noqa: F401  (registers the ids)
from mmrl.envs.cards import solver

CARD_ENV_IDS = ("mmrl/NumberLine-v0", "mmrl/EZPoints-v0", "mmrl/Points24-v0", "mmrl/Blackjack-v0")


def measure(env_id: str, render_image: bool, episodes: int) -> tuple[float, float]:
    """(resets per second, steps per second) over `episodes` seeded episodes, from cold solver caches."""
    for cache in (solver._values, solver._is_solvable, solver._expressions):
        cache.cache_clear()  # so the image and text-only runs both pay for first-time solves
    env = gym.make(env_id, render_image=render_image).unwrapped  # no wrappers: time the env itself
    reset_time = step_time = 0.0
    steps = 0
    for seed in range(episodes):
        start = time.perf_counter()
        _, info = env.reset(seed=seed)
        reset_time += time.perf_counter() - start
        done = False
        while not done:
            action = info["expert_action"] or info["admissible_actions"][steps % len(info["admissible_actions"])]
            start = time.perf_counter()
            _, _, terminated, truncated, info = env.step(action)
            step_time += time.perf_counter() - start
            steps += 1
            done = terminated or truncated
    return episodes / reset_time, steps / step_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=200, help="seeded episodes per env and mode")
    args = parser.parse_args()
    print(f"{'env':<22}{'mode':<12}{'resets/s':>12}{'steps/s':>12}")
    for env_id in CARD_ENV_IDS:
        for render_image in (True, False):
            resets, steps = measure(env_id, render_image, args.episodes)
            mode = "image" if render_image else "text-only"
            print(f"{env_id:<22}{mode:<12}{resets:>12.0f}{steps:>12.0f}")


if __name__ == "__main__":
    main()
