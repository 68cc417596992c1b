"""mmrl's Gymnasium environments. Importing this package registers every ``mmrl/...`` id with Gymnasium.

Entry points are strings, so registering imports no env module; ``gymnasium.make`` imports it on first use.
"""

from __future__ import annotations

import gymnasium

#: id -> entry point of every env this package provides.
_ENTRY_POINTS: dict[str, str] = {
    "mmrl/Classification-v0": "mmrl.envs.classification.env:ClassificationEnv",
    "mmrl/NumberLine-v0": "mmrl.envs.cards.games:NumberLineEnv",
    "mmrl/EZPoints-v0": "mmrl.envs.cards.games:EZPointsEnv",
    "mmrl/Points24-v0": "mmrl.envs.cards.games:Points24Env",
    "mmrl/Blackjack-v0": "mmrl.envs.cards.games:BlackjackEnv",
    # -- cards (gym-cards games) --
    "mmrl/Countdown-v0": "mmrl.envs.text.countdown:CountdownEnv",
    "mmrl/Arithmetic-v0": "mmrl.envs.text.arithmetic:ArithmeticEnv",
    "mmrl/Sudoku-v0": "mmrl.envs.text.sudoku:SudokuEnv",
    "mmrl/KnightsKnaves-v0": "mmrl.envs.text.knights_knaves:KnightsKnavesEnv",
    "mmrl/Maze-v0": "mmrl.envs.text.maze:MazeEnv",
    "mmrl/Dyck-v0": "mmrl.envs.text.dyck:DyckEnv",
    "mmrl/SAT-v0": "mmrl.envs.text.sat:SATEnv",
    "mmrl/GraphColoring-v0": "mmrl.envs.text.graph_coloring:GraphColoringEnv",
    "mmrl/Cryptarithm-v0": "mmrl.envs.text.cryptarithm:CryptarithmEnv",
    "mmrl/Ordering-v0": "mmrl.envs.text.ordering:OrderingEnv",
    "mmrl/Hanoi-v0": "mmrl.envs.text.hanoi:HanoiEnv",
    "mmrl/WaterJugs-v0": "mmrl.envs.text.water_jugs:WaterJugsEnv",
    "mmrl/MathQA-v0": "mmrl.envs.text.math_qa:MathQAEnv",
    "mmrl/Instructions-v0": "mmrl.envs.text.instructions:InstructionsEnv",
    "mmrl/SafetyRefusal-v0": "mmrl.envs.text.safety:SafetyRefusalEnv",
    "mmrl/Judge-v0": "mmrl.envs.text.judging:JudgeEnv",
    "mmrl/NextSegment-v0": "mmrl.envs.text.next_segment:NextSegmentEnv",
    # -- text tasks --
    "mmrl/VQAGrounding-v0": "mmrl.envs.vqa.env:VQAGroundingEnv",
    "mmrl/SVG-v0": "mmrl.envs.vqa.svg:SVGEnv",
    # -- vqa --
    "mmrl/TryAgain-Countdown-v0": "mmrl.envs.wrappers.try_again:make_try_again_countdown",
    "mmrl/TryAgain-Classification-v0": "mmrl.envs.wrappers.try_again:make_try_again_classification",
    "mmrl/TryAgain-MathQA-v0": "mmrl.envs.wrappers.try_again:make_try_again_math_qa",
    # -- wrappers --
    "mmrl/ALFWorld-v0": "mmrl.envs.alfworld.env:ALFWorldEnv",
    # -- alfworld (games from data_path or $MMRL_ALFWORLD_DATA) --
    "mmrl/Sokoban-v0": "mmrl.envs.grid.sokoban:SokobanEnv",
    "mmrl/FrozenLake-v0": "mmrl.envs.grid.frozen_lake:FrozenLakeEnv",
    # -- grid puzzles (verl-agent, RAGEN) --
}

for _env_id, _entry_point in _ENTRY_POINTS.items():
    if _env_id not in gymnasium.registry:  # a re-import (e.g. importlib.reload) must not register twice
        gymnasium.register(id=_env_id, entry_point=_entry_point)


def mmrl_env_ids() -> list[str]:
    """Sorted ids of every registered ``mmrl/`` env (including ones registered outside this package)."""
    return sorted(env_id for env_id in gymnasium.registry if env_id.startswith("mmrl/"))


__all__ = ["mmrl_env_ids"]
