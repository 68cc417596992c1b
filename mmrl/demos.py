"""Demonstrations: trajectories in a JSONL file, for the warm-start (`train.demos`) and iterative SFT <-> RL.

Schema: one trajectory per line, a JSON object::

    {"env": "mmrl/NumberLine-v0",        # the env id it was played on (str)
     "env_kwargs": {"render_image": false},   # the env's kwargs (object; optional, default {})
     "seed": 3,                          # the reset seed (int or null)
     "system": null,                     # the system prompt the policy saw (str or null; optional)
     "success": true,                    # did the episode succeed (bool or null; optional)
     "source": "expert",                 # who played it: "expert", "run:<dir>", ... (str; optional)
     "turns": [                          # one per step, in order (non-empty)
        {"observation": "text the env showed",   # str
         "image": "demos_images/000000_00.png",  # a PNG path relative to the JSONL's folder (or absolute), or null
         "response": "{\"thoughts\": ..., \"action\": \"+\"}"}]}   # the whole response that was given (str)

A turn's prompt is rebuilt exactly as the episode runner builds it in RL (:mod:`mmrl.rollout.messages`): the
system prompt, the last `rollout.history_turns` (observation, response) pairs of the trajectory, then the
observation with its image. Images are written as PNG files in ``<stem>_images/`` beside the JSONL.

API: :func:`write_demos`, :func:`read_demos`, :func:`expert_demos` (roll an env's expert), :func:`run_demos` (a
run's successful sampled episodes, replayed through their env to recover observations and images),
:func:`demo_inputs` (chat inputs and labels for the warm-start).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from mmrl.config import EnvSpec, UserError, env_names, parse_yaml
from mmrl.jsonl import jsonl_objects
from mmrl.rollout.messages import build_messages, observation_parts

TRAJECTORY_KEYS = {"env", "env_kwargs", "seed", "system", "success", "source", "turns"}
TURN_KEYS = {"observation", "image", "response"}


class DemoError(UserError):
    """A demonstrations file that cannot be read; the message names the file and line."""


@dataclass
class DemoTurn:
    observation: str
    response: str
    image: str | np.ndarray | None = None
    """A path (as read: absolute) or, before writing, the image itself (H, W, 3) uint8."""


@dataclass
class Demo:
    env: str
    turns: list[DemoTurn]
    seed: int | None = None
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    system: str | None = None
    success: bool | None = None
    source: str = ""


def write_demos(path: str | Path, demos: Iterable[Demo]) -> int:
    """Write `demos` to the JSONL `path` (images as PNG files in `<stem>_images/` beside it); returns the count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image_dir = path.parent / f"{path.stem}_images"
    n = 0
    with path.open("w") as out:
        for n, demo in enumerate(demos, 1):
            turns = []
            for t, turn in enumerate(demo.turns):
                image = turn.image
                if isinstance(image, np.ndarray):
                    image_dir.mkdir(exist_ok=True)
                    file = image_dir / f"{n - 1:06d}_{t:03d}.png"
                    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(file)
                    image = str(file.relative_to(path.parent))
                elif image is not None:
                    image = str(image)
                turns.append({"observation": turn.observation, "image": image, "response": turn.response})
            row = {"env": demo.env, "env_kwargs": demo.env_kwargs, "seed": demo.seed, "system": demo.system,
                   "success": demo.success, "source": demo.source, "turns": turns}
            out.write(json.dumps(row) + "\n")
    return n


def read_demos(path: str | Path, check_images: bool = True) -> list[Demo]:
    """The trajectories of the JSONL `path`; a malformed line or (with `check_images`) a missing or unreadable
    image raises :class:`DemoError` naming the file and line. Blank lines are skipped."""
    folder = Path(path).parent
    return [_demo(row, where, folder, check_images) for where, row in jsonl_objects(path, "demonstrations", DemoError)]


def _demo(row: Any, where: str, folder: Path, check_images: bool) -> Demo:
    def bad(message: str) -> DemoError:
        return DemoError(f"{where}: {message}")

    unknown = set(row) - TRAJECTORY_KEYS
    if unknown:
        raise bad(f"unknown key(s) {sorted(unknown)}; a trajectory has {sorted(TRAJECTORY_KEYS)}")
    if not isinstance(row.get("env"), str) or not row["env"]:
        raise bad("'env' (the env id) must be a non-empty string")
    if not isinstance(row.get("env_kwargs", {}), dict):
        raise bad("'env_kwargs' must be an object")
    seed = row.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise bad("'seed' must be an integer or null")
    for key, kind in (("system", str), ("success", bool), ("source", str)):
        if row.get(key) is not None and not isinstance(row[key], kind):
            raise bad(f"'{key}' must be a {kind.__name__} or null")
    turns = row.get("turns")
    if not isinstance(turns, list) or not turns:
        raise bad("'turns' must be a non-empty list")
    out = []
    for t, turn in enumerate(turns):
        if not isinstance(turn, dict) or set(turn) - TURN_KEYS or not {"observation", "response"} <= set(turn):
            raise bad(f"turn {t} must be an object with 'observation', 'response' and optionally 'image'")
        if not isinstance(turn["observation"], str) or not isinstance(turn["response"], str):
            raise bad(f"turn {t}: 'observation' and 'response' must be strings")
        image = turn.get("image")
        if image is not None:
            if not isinstance(image, str):
                raise bad(f"turn {t}: 'image' must be a path or null")
            file = Path(image) if Path(image).is_absolute() else folder / image
            if check_images:
                _check_image(file, bad, t)
            image = str(file)
        out.append(DemoTurn(turn["observation"], turn["response"], image))
    return Demo(row["env"], out, seed, dict(row.get("env_kwargs") or {}), row.get("system"), row.get("success"),
                row.get("source") or "")


def _check_image(file: Path, bad, t: int) -> None:
    if not file.is_file():
        raise bad(f"turn {t}: image {file} does not exist")
    try:
        with Image.open(file) as im:
            im.verify()
    except Exception as err:  # noqa: BLE001  (PIL raises many kinds for a broken file)
        raise bad(f"turn {t}: image {file} cannot be read ({type(err).__name__})") from None


def load_image(path: str) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def demo_inputs(demos: list[Demo], history_turns: int, system_prompt: str | None = None
                ) -> tuple[list[tuple[list[dict], list[np.ndarray]]], list[str]]:
    """(chat messages, images) per turn of every demo, built as the runner builds RL prompts, and the turns'
    responses (the labels). `system_prompt` (rollout.system_prompt) replaces each demo's own when set. A demo of an
    env that writes its own history (it takes `history_turns`, as ALFWorld) gets no chat history, as in RL."""
    from mmrl.rollout.runner import constructor_parameters

    inputs, labels = [], []
    for demo in demos:
        system = system_prompt if system_prompt is not None else demo.system
        keep = 0 if "history_turns" in constructor_parameters(demo.env) else history_turns
        history: list[tuple[str, str]] = []
        for turn in demo.turns:
            image = None if turn.image is None else (
                turn.image if isinstance(turn.image, np.ndarray) else load_image(turn.image))
            kept = history[-keep:] if keep > 0 else []
            inputs.append(build_messages(turn.observation, image, kept, system))
            labels.append(turn.response)
            history.append((turn.observation, turn.response))
    return inputs, labels


def expert_demos(spec: EnvSpec, n: int, seed: int = 0, max_steps: int = 100, only_success: bool = True,
                 log=None) -> list[Demo]:
    """`n` episodes of the env's expert (``info['expert_action']`` at every step), reset seeds `seed`, `seed`+1,
    ...; with `only_success` an episode that fails is skipped (and another seed tried, up to 4 n seeds). Raises
    :class:`UserError` when the env gives no expert action at reset."""
    from mmrl.rollout.runner import make_env

    env = make_env(spec)
    system = getattr(env.unwrapped, "system_prompt", None)
    demos: list[Demo] = []
    try:
        for s in range(seed, seed + 4 * n):
            if len(demos) == n:
                break
            obs, info = env.reset(seed=s)
            if info.get("expert_action") is None:
                if s == seed:
                    raise UserError(f"demos: {spec.id} gives no info['expert_action'] at reset: it has no expert")
                continue
            turns, success = [], False
            for _ in range(max_steps):
                action = info.get("expert_action")
                if action is None:
                    break
                text, image = observation_parts(obs)
                turns.append(DemoTurn(text, str(action), image))
                obs, _, terminated, truncated, info = env.step(str(action))
                if terminated or truncated:
                    success = bool(info.get("success", False))
                    break
            if turns and (success or not only_success):
                demos.append(Demo(spec.id, turns, s, dict(spec.kwargs), system, success, "expert"))
            elif log is not None:
                log(f"seed {s}: the expert did not win; skipped")
    finally:
        env.close()
    return demos


def run_demos(run_dir: str | Path, log=None) -> list[Demo]:
    """The successful episodes of a run's `samples.jsonl` (the `train.log_samples` episodes kept per step), each
    replayed through its env (the run's `config.yaml`, the same seed and responses) to recover the observations and
    images the policy saw; an episode whose replay does not end in success is skipped."""
    from mmrl.config import load_config
    from mmrl.logger import read_jsonl
    from mmrl.rollout.runner import make_env

    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise UserError(f"demos --from-run: {run_dir} has no config.yaml: is it a run directory?")
    cfg = load_config(run_dir / "config.yaml", [])
    names = env_names(cfg.envs)
    demos, envs = [], {}
    for row in read_jsonl(run_dir / "samples.jsonl"):
        if not row.get("success") or row.get("env") not in names:
            continue
        spec = cfg.envs[names.index(row["env"])]
        if row["env"] not in envs:  # the runner's episode cap; an env sized by the model's image bounds may differ
            envs[row["env"]] = make_env(spec, offered={"max_steps": cfg.rollout.max_episode_steps})
        env = envs[row["env"]]
        obs, _ = env.reset(seed=row["seed"])
        turns, success = [], False
        for turn in row["turns"]:
            text, image = observation_parts(obs)
            turns.append(DemoTurn(text, turn["response"], image))
            obs, _, terminated, truncated, info = env.step(turn["response"])
            if terminated or truncated:
                success = bool(info.get("success", False))
                break
        if success and len(turns) == len(row["turns"]):
            system = cfg.rollout.system_prompt or getattr(env.unwrapped, "system_prompt", None)
            demos.append(Demo(spec.id, turns, row["seed"], dict(spec.kwargs), system, True,
                              f"run:{run_dir} step {row.get('step')}"))
        elif log is not None:
            log(f"step {row.get('step')} seed {row['seed']}: the replay did not succeed; skipped")
    for env in envs.values():
        env.close()
    return demos


def parse_env_kwargs(items: list[str]) -> dict[str, Any]:
    """`key=value` pairs (values parsed as YAML, like `mmrl play`'s) as a dict."""
    kwargs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"demos: expected key=value, got {item!r}")
        kwargs[key] = parse_yaml(value)
    return kwargs
