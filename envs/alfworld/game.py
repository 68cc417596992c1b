"""Play an ALFWorld game file (``game.tw-pddl``) with TextWorld's PDDL engine, the one ``alfworld`` uses.

Object names are ALFWorld's (``apple 1``, ``sinkbasin 1``): the ids in the PDDL problem are renamed with
alfworld's own ``Demangler``, as its ``AlfredDemangler`` wrapper does.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import textworld
from alfworld.agents.utils.misc import Demangler
from textworld.envs.pddl import PddlEnv

#: TextWorld's PDDL engine is not thread-safe (Fast Downward is one C library with global state, and TextWorld's
#: grammar parsing shares state too): every engine call in this process holds this lock. mmrl's runner steps env
#: copies from worker threads; without it concurrent resets fail with parser errors.
ENGINE_LOCK = threading.RLock()
GAME_FILE = "game.tw-pddl"
TRAJ_FILE = "traj_data.json"


class AlfredPddlEnv(PddlEnv):
    """TextWorld's ``PddlEnv`` with ALFWorld's object names."""

    def load(self, filename_or_data: str | dict[str, Any]) -> None:
        super().load(filename_or_data)
        demangler = Demangler(game_infos=self._entity_infos, shuffle=False)
        for info in self._entity_infos.values():
            info.name = demangler.demangle_alfred_name(info.id).strip()


def make_engine(facts: bool = True) -> AlfredPddlEnv:
    """An engine that reports ``won``, ``admissible_commands`` and (by default) the state's facts."""
    return AlfredPddlEnv(textworld.EnvInfos(won=True, admissible_commands=True, facts=facts))


def plan(game: dict[str, Any]) -> list[str]:
    """Fast Downward's plan for the game's initial state, as commands (empty when it finds none). Slow (seconds);
    generation only, never per step."""
    with ENGINE_LOCK:
        engine = make_engine(facts=False)
        engine.load(game)
        engine.reset()
        return list(engine._pddl_state.replan(engine._entity_infos))


def replay_wins(game: dict[str, Any], commands: list[str]) -> bool:
    """Does playing ``commands`` from the start win, every one admissible when played?"""
    with ENGINE_LOCK:
        engine = make_engine(facts=False)
        engine.load(game)
        state = engine.reset()
        for command in commands:
            if command not in state["admissible_commands"]:
                return False
            state, _, _ = engine.step(command)
        return bool(state["won"])


def find_games(root: str | Path) -> list[Path]:
    """Every game folder under ``root`` (holding ``traj_data.json`` and a solvable ``game.tw-pddl``), sorted;
    the layout of ALFWorld's data (``json_2.1.1/<split>/<task>/<trial>/``) and of ``mmrl alfworld generate``."""
    root = Path(root)
    folders = sorted({p.parent for p in root.rglob(TRAJ_FILE)})
    games = []
    for folder in folders:
        game_file = folder / GAME_FILE
        if game_file.is_file() and json.loads(game_file.read_text()).get("solvable", False):
            games.append(folder)
    return games
