"""``mmrl/Sokoban-v0``: push the boxes onto the targets (the Sokoban of verl-agent and RAGEN, rooms generated
here: :mod:`mmrl.envs.grid.sokoban_rooms`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from mmrl.envs.grid import render
from mmrl.envs.grid.base import MOVES, GridGameEnv
from mmrl.envs.grid.sokoban_rooms import Room, generate_room, push, solve
from mmrl.formats import ACTION_TAG

#: Text symbols of RAGEN's Sokoban, with ``*`` for a box on a target (RAGEN's is not ASCII).
SYMBOLS = {"wall": "#", "floor": "_", "target": "O", "box": "X", "box_on_target": "*", "player": "P",
           "player_on_target": "S"}


class SokobanEnv(GridGameEnv):
    """Push every box onto a target in a small procedurally generated room.

    ## Description
    Each episode draws a room with the env's generator (:func:`mmrl.envs.grid.sokoban_rooms.generate_room`): a
    random walk carves a ``dim`` room inside a wall border, ``num_boxes`` boxes start on random targets and the
    player on another floor cell, then ``search_depth`` steps of reverse play (the player walks backwards and
    pulls boxes) scatter them. A room is kept only when the breadth-first solver finds a shortest solution of
    ``min_solution``..``max_solution`` moves, so every room is solvable. The player moves one cell per step and
    pushes a box ahead of it when the cell behind that box is free; boxes cannot be pulled.

    ## Action Space
    ``text_space(8192)``: the model's whole response. The env reads its action in ``response_format``:
    ``"action_tag"`` (verl-agent's ``<think>...</think><action>up</action>``) or ``"json"``
    (``{"thoughts": "...", "action": "up"}``); the action is ``up``, ``down``, ``left`` or ``right``
    (case-insensitive). Anything else is a format error: nothing moves and the step counts.

    ## Observation Space
    ``Dict(text=Text, image=Box(0, 255, (image_size, image_size, 3), uint8))`` (``Dict(text=Text)`` with
    ``render_image=False``). The image draws walls, floor, targets (red rings), boxes (green on a target) and the
    player (a blue disc). The text has the rules, the answer format, the room in RAGEN's symbols (``#`` wall,
    ``_`` floor, ``O`` target, ``X`` box, ``*`` box on target, ``P`` player, ``S`` player on target), the
    player's, boxes' and targets' (row, column) cells and the moves left. ``system_prompt`` is None.

    ## Rewards
    ``reward/game`` (gym-sokoban's): -0.1 per move, +1 for pushing a box onto a target, -1 for pushing one off,
    +10 when every box is on a target; a format error moves nothing and costs only its penalty. ``reward/format_error``: 1 for a response without a valid move, weighted
    -0.1. ``reward_weights`` merge over ``{game: 1.0, format_error: -0.1}``.

    ## Episode End
    Terminated when every box is on a target; truncated after ``max_steps`` steps. Stepping after the end raises
    ``RuntimeError``.

    Info (reset and every step): ``success`` (every box on a target), ``expert_action`` (a response in the env's
    format with the first move of the solver's shortest solution from the current state; None once the episode
    is over or when no solution is left, e.g. a box pushed into a corner), ``expert_thought``,
    ``solution_length`` (moves of that solution), ``good_actions`` (every move that starts a shortest solution),
    ``admissible_actions`` (a response for each of the four moves). Step info adds ``format_error``,
    ``reward/game`` and ``reward/format_error``.

    ## Arguments
    ``dim`` ((6, 6)), ``num_boxes`` (1), ``search_depth`` (30), ``min_solution`` (1), ``max_solution`` (10),
    ``max_steps`` (20), ``render_image`` (True), ``image_size`` (96), ``response_format`` (``"action_tag"``),
    ``reward_weights``, ``render_mode`` (None or ``"rgb_array"``).

    ## Version History
    * v0: initial version.
    """

    def __init__(self, dim: tuple[int, int] | list[int] = (6, 6), num_boxes: int = 1, search_depth: int = 30,
                 min_solution: int = 1, max_solution: int = 10, max_steps: int = 20, render_image: bool = True,
                 image_size: int = 96, response_format: str = ACTION_TAG.name,
                 reward_weights: dict[str, float] | None = None, render_mode: str | None = None) -> None:
        dim = tuple(dim)
        if len(dim) != 2 or not all(isinstance(d, int) and d >= 4 for d in dim):
            raise ValueError(f"dim must be two ints >= 4 (rows, columns), got {dim!r}")
        if not (isinstance(num_boxes, int) and 1 <= num_boxes <= 3):
            raise ValueError(f"num_boxes must be an int in 1..3, got {num_boxes!r}")
        if not (isinstance(min_solution, int) and isinstance(max_solution, int) and 1 <= min_solution <= max_solution):
            raise ValueError(f"need 1 <= min_solution <= max_solution, got {min_solution!r}, {max_solution!r}")
        if not (isinstance(search_depth, int) and search_depth >= 1):
            raise ValueError(f"search_depth must be an int >= 1, got {search_depth!r}")
        super().__init__(max_steps, render_image, image_size, response_format, reward_weights, render_mode)
        self.dim = dim
        self.num_boxes = num_boxes
        self.search_depth = search_depth
        self.min_solution = min_solution
        self.max_solution = max_solution
        self.room = Room(np.ones(dim, dtype=bool), frozenset(), frozenset(), (0, 0))

    def _new_episode(self) -> None:
        self.room, plan = generate_room(self.np_random, self.dim, self.num_boxes, self.search_depth,
                                        self.min_solution, self.max_solution)
        self._plan_cache = (self._state_key(), plan)

    def _state_key(self) -> Any:
        return self.room.player, self.room.boxes

    def _move(self, move: str) -> tuple[float, bool]:
        room = self.room
        after = push(room.walls, room.boxes, room.player, move)
        reward = -0.1
        if after is not None:
            player, boxes = after
            reward += len(boxes & room.targets) - len(room.boxes & room.targets)
            self.room = Room(room.walls, room.targets, boxes, player)
        if self._success():
            return reward + 10.0, True
        return reward, False

    def _success(self) -> bool:
        return bool(self.room.boxes) and self.room.boxes <= self.room.targets

    def _solve(self) -> list[str] | None:
        return solve(self.room.walls, self.room.targets, self.room.boxes, self.room.player)

    def _good_moves(self) -> list[str]:
        plan = self._plan()
        if not plan:
            return []
        good = []
        for move in MOVES:
            after = push(self.room.walls, self.room.boxes, self.room.player, move)
            if after is None:
                continue
            rest = solve(self.room.walls, self.room.targets, after[1], after[0])
            if rest is not None and len(rest) == len(plan) - 1:
                good.append(move)
        return good

    def grid_text(self) -> str:
        """The room in RAGEN's symbols, one line per row."""
        room, lines = self.room, []
        for r in range(self.dim[0]):
            row = []
            for c in range(self.dim[1]):
                cell, on_target = (r, c), (r, c) in room.targets
                if room.walls[cell]:
                    row.append(SYMBOLS["wall"])
                elif cell == room.player:
                    row.append(SYMBOLS["player_on_target" if on_target else "player"])
                elif cell in room.boxes:
                    row.append(SYMBOLS["box_on_target" if on_target else "box"])
                else:
                    row.append(SYMBOLS["target" if on_target else "floor"])
            lines.append("".join(row))
        return "\n".join(lines)

    def _rules(self) -> str:
        s = "es" if self.num_boxes > 1 else ""
        return (f"You are solving a Sokoban puzzle. Push the box{s} onto the target{'s' if s else ''}. You move "
                "one cell per step: up, down, left or right; walking into a box pushes it if the cell behind it is "
                "free. Boxes cannot be pulled. Each step costs 0.1; a box on a target gives +1; all boxes on "
                f"targets gives +10 and ends the game. Symbols: {SYMBOLS['wall']} wall, {SYMBOLS['floor']} floor, "
                f"{SYMBOLS['target']} target, {SYMBOLS['box']} box, {SYMBOLS['box_on_target']} box on target, "
                f"{SYMBOLS['player']} you, {SYMBOLS['player_on_target']} you on a target.")

    def _state_text(self) -> str:
        def cells(group) -> str:
            return ", ".join(f"({r}, {c})" for r, c in sorted(group))

        return (f"{self.grid_text()}\nYou are at {self.room.player}. Boxes: {cells(self.room.boxes)}. "
                f"Targets: {cells(self.room.targets)}.")

    def _draw(self) -> np.ndarray:
        return render.draw_sokoban(self.room.walls, set(self.room.targets), set(self.room.boxes),
                                   self.room.player, self.image_size)
