"""`mmrl play ENV_ID`: a person plays any text-action env in the terminal.

Each observation's text is printed and its image, when there is one, is saved as a PNG whose path is printed; the
person types the response the model would give (one line; an empty line repeats the env's expert action when it
offers one), and sees the reward and info. Handy for checking a new env's prompt, answer format and verifier.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO

import cv2
import numpy as np

from mmrl.config import EnvSpec
from mmrl.logger import to_jsonable
from mmrl.rollout.messages import observation_parts
from mmrl.rollout.runner import make_env


def save_image(image: np.ndarray, directory: Path, turn: int) -> Path:
    path = directory / f"turn_{turn:03d}.png"
    cv2.imwrite(str(path), cv2.cvtColor(np.asarray(image, dtype=np.uint8), cv2.COLOR_RGB2BGR))
    return path


def play(env_id: str, kwargs: dict, seed: int, image_dir: Path, stdin: IO[str], stdout: IO[str],
         max_turns: int = 100) -> float:
    """Play one episode reading responses from `stdin`; returns the episode's total reward."""
    image_dir.mkdir(parents=True, exist_ok=True)
    env = make_env(EnvSpec(id=env_id, kwargs=kwargs))
    obs, info = env.reset(seed=seed)
    total, turn = 0.0, 0
    print(f"{env_id} (seed {seed}). Type the response; an empty line sends the expert action; Ctrl-D quits.",
          file=stdout)
    while turn < max_turns:
        text, image = observation_parts(obs)
        print(f"\n--- turn {turn} ---\n{text}", file=stdout)
        if image is not None:
            print(f"[image saved to {save_image(image, image_dir, turn)}]", file=stdout)
        print("> ", end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line:
            print("\n(quit)", file=stdout)
            break
        action = line.rstrip("\n")
        if not action and info.get("expert_action") is not None:
            action = str(info["expert_action"])
            print(f"(expert action) {action}", file=stdout)
        obs, reward, terminated, truncated, info = env.step(action)
        total += float(reward)
        shown = {k: v for k, v in info.items() if k not in ("expert_action", "expert_thought", "admissible_actions")}
        print(f"reward {reward:+.3f}  info {json.dumps(to_jsonable(shown))}", file=stdout)
        turn += 1
        if terminated or truncated:
            outcome = "success" if info.get("success") else "no success"
            print(f"\nepisode over after {turn} turn(s): {outcome}, total reward {total:+.3f}", file=stdout)
            break
    env.close()
    return total
