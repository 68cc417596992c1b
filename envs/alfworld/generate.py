"""``mmrl alfworld generate``: ALFWorld games from the wheel's FloorPlan layouts, in ALFWorld's data layout.

Each game is a folder ``OUT/<split>/<task_type>-<object>-<recep|toggle>-<scene>/trial_<seed>_<k>/`` with
``traj_data.json`` (``task_type``, ``pddl_params``, ``scene``, a templated ``turk_annotations`` goal) and
``game.tw-pddl`` (``pddl_domain``, ``grammar`` with the goal text, ``pddl_problem``, ``solvable``,
``walkthrough``: Fast Downward's plan, replayed to a win before the game is kept). Only solvable games are
written; the planner runs once per game here, never while playing. These are *generated* games, not ALFWorld's
official split (3,553 train / 140 seen / 134 unseen games built from ALFRED's expert trajectories).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmrl.envs.alfworld import problem as problem_mod
from mmrl.envs.alfworld.game import GAME_FILE, TRAJ_FILE, plan, replay_wins
from mmrl.envs.alfworld.problem import TASK_TYPES, NoTask, sample_task
from mmrl.envs.alfworld.scenes import LAYOUT_DIR, load_scene, scene_names

DATA_DIR = LAYOUT_DIR.parent.parent / "data"


@dataclass
class GeneratedGame:
    path: Path
    task_type: str
    scene: str
    steps: int
    seconds: float


def task_text(task: problem_mod.Task, rng: np.random.Generator) -> str:
    """One of the goal library's templates for the task, filled in lower case (as alfworld does)."""
    from alfworld.gen import goal_library

    templates = goal_library.gdict[task.task_type]["templates"]
    template = templates[int(rng.integers(len(templates)))]
    return template.format(obj=task.object_target.lower(), recep=task.parent_target.lower(),
                           toggle=task.toggle_target.lower(), mrecep="")


def build_game(task: problem_mod.Task, rng: np.random.Generator) -> tuple[dict, dict]:
    """(traj_data, game) for ``task``; the game's ``walkthrough`` is not filled yet."""
    from alfworld.gen import goal_library

    text = task_text(task, rng)
    game = {
        "pddl_domain": (DATA_DIR / "alfred.pddl").read_text(),
        "grammar": (DATA_DIR / "alfred.twl2").read_text().replace("UNKNOWN GOAL", text),
        "pddl_problem": problem_mod.pddl_problem(task, goal_library.gdict[task.task_type]["pddl"]),
        "solvable": False,
        "walkthrough": [],
    }
    traj = {"task_type": task.task_type, "pddl_params": task.pddl_params(),
            "scene": {"floor_plan": task.scene.name, "scene_num": int(task.scene.name.removeprefix("FloorPlan"))},
            "turk_annotations": {"anns": [{"task_desc": text[0].upper() + text[1:] + "."}]},
            "generator": "mmrl alfworld generate"}
    return traj, game


def candidate_scenes(max_receptacles: int) -> list[str]:
    """Scenes with at most ``max_receptacles`` receptacles (small scenes plan and play fast)."""
    return [name for name in scene_names() if len(load_scene(name).receptacles) <= max_receptacles]


def hosting_scenes(task_type: str, max_receptacles: int) -> list[str]:
    """Scenes with at most ``max_receptacles`` receptacles that can host ``task_type``."""
    names = []
    for name in candidate_scenes(max_receptacles):
        try:
            sample_task(load_scene(name), task_type, np.random.default_rng(0), 0)
        except NoTask:
            continue
        names.append(name)
    return names


def generate(out: str | Path, n: int, task_types: Sequence[str] = TASK_TYPES, split: str = "train",
             seed: int = 0, max_receptacles: int = 16, n_distractors: int = 4, max_tries: int = 50,
             log=print) -> list[GeneratedGame]:
    """Write ``n`` solvable games, cycling through ``task_types``; returns what was written (with timings).

    Deterministic in ``seed``. Raises ``ValueError`` for an unknown task type, a type no small-enough scene can
    host, or when ``max_tries`` attempts in a row give no solvable game.
    """
    unknown = [t for t in task_types if t not in TASK_TYPES]
    if unknown or not task_types:
        raise ValueError(f"unknown task types {unknown}; choose from {list(TASK_TYPES)}")
    scenes = {t: hosting_scenes(t, max_receptacles) for t in task_types}
    for task_type, names in scenes.items():
        if not names:
            raise ValueError(f"no scene with at most {max_receptacles} receptacles can host {task_type}")
    rng = np.random.default_rng(seed)
    written: list[GeneratedGame] = []
    for k in range(n):
        task_type = task_types[k % len(task_types)]
        start = time.perf_counter()  # a game's time includes its failed attempts
        for _ in range(max_tries):
            scene = load_scene(scenes[task_type][int(rng.integers(len(scenes[task_type])))])
            try:
                task = sample_task(scene, task_type, rng, n_distractors)
            except NoTask:
                continue
            traj, game = build_game(task, rng)
            walkthrough = plan(game)
            if not walkthrough or not replay_wins(game, walkthrough):
                continue
            game["solvable"], game["walkthrough"] = True, walkthrough
            target = task.toggle_target or task.parent_target
            folder = (Path(out) / split / f"{task_type}-{task.object_target}-{target}-{scene.name}"
                      / f"trial_{seed}_{k:05d}")
            folder.mkdir(parents=True, exist_ok=True)
            (folder / TRAJ_FILE).write_text(json.dumps(traj, indent=2) + "\n")
            (folder / GAME_FILE).write_text(json.dumps(game, indent=1) + "\n")
            seconds = time.perf_counter() - start
            written.append(GeneratedGame(folder, task_type, scene.name, len(walkthrough), seconds))
            log(f"{folder} ({len(walkthrough)} steps, {seconds:.2f} s)")
            break
        else:
            raise ValueError(f"no solvable {task_type} game in {max_tries} tries (max_receptacles={max_receptacles})")
    return written


def summarize(games: Sequence[GeneratedGame]) -> dict:
    """Counts and timings of a generation run (what ``mmrl alfworld generate`` prints)."""
    seconds = [g.seconds for g in games]
    by_type: dict[str, int] = {}
    for g in games:
        by_type[g.task_type] = by_type.get(g.task_type, 0) + 1
    return {"games": len(games), "by_task_type": by_type, "scenes": sorted({g.scene for g in games}),
            "walkthrough_steps_mean": float(np.mean([g.steps for g in games])) if games else 0.0,
            "seconds_per_game_mean": float(np.mean(seconds)) if games else 0.0,
            "seconds_per_game_max": float(np.max(seconds)) if games else 0.0}
