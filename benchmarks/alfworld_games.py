"""Generate N small ALFWorld games on CPU and measure them (not run in CI).

    python benchmarks/alfworld_games.py --out /tmp/alfworld20 --n 20

Writes the games, then replays every game's stored walkthrough through ``mmrl/ALFWorld-v0`` (all must end in
success) and prints JSON: seconds per generated game (planning and failed attempts included), env reset time
(first reset of a game: loading included; a repeat reset of a loaded game) and step time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

from mmrl.envs.alfworld.env import ALFWorldEnv  # noqa: E402
from mmrl.envs.alfworld.generate import TASK_TYPES, generate, summarize  # noqa: E402


def _ms(values: list[float]) -> dict[str, float]:
    return {"mean_ms": 1000 * statistics.mean(values), "max_ms": 1000 * max(values), "n": len(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-receptacles", type=int, default=16)
    args = parser.parse_args()

    start = time.perf_counter()
    games = generate(args.out, args.n, TASK_TYPES, "train", args.seed, args.max_receptacles, log=lambda _: None)
    generation_s = time.perf_counter() - start

    env = ALFWorldEnv(data_path=args.out, render_image=True)
    first_resets, repeat_resets, steps, won = [], [], [], 0
    for index, folder in enumerate(env.games):
        walkthrough = json.loads((folder / "game.tw-pddl").read_text())["walkthrough"]
        t = time.perf_counter()
        env.reset(seed=index, options={"game": index})
        first_resets.append(time.perf_counter() - t)
        t = time.perf_counter()
        env.reset(seed=index, options={"game": index})
        repeat_resets.append(time.perf_counter() - t)
        info = {}
        for command in walkthrough:
            t = time.perf_counter()
            *_, info = env.step(json.dumps({"thoughts": "", "action": command}))
            steps.append(time.perf_counter() - t)
        won += bool(info.get("success"))
    print(json.dumps({
        **summarize(games), "generation_total_s": generation_s,
        "walkthroughs_won": f"{won}/{len(env.games)}",
        "env_reset_first": _ms(first_resets), "env_reset_repeat": _ms(repeat_resets), "env_step": _ms(steps),
    }, indent=2))


if __name__ == "__main__":
    main()
