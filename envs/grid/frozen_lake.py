"""``mmrl/FrozenLake-v0``: Gymnasium's toy-text FrozenLake (the benchmark env of verl-agent's and RAGEN's
examples) played with text actions, drawn as an image with OpenCV."""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
from gymnasium.envs.toy_text.frozen_lake import FrozenLakeEnv as GymFrozenLake
from gymnasium.envs.toy_text.frozen_lake import generate_random_map

from mmrl.envs.grid import render
from mmrl.envs.grid.base import MOVES, GridGameEnv
from mmrl.formats import ACTION_TAG

#: Gymnasium's action numbers (LEFT=0, DOWN=1, RIGHT=2, UP=3).
GYM_ACTIONS = {"left": 0, "down": 1, "right": 2, "up": 3}
#: Text symbols of RAGEN's FrozenLake (``P`` the player, ``_`` frozen, ``O`` hole, ``G`` goal; ``X`` the player in a
#: hole, ``√`` on the goal is written ``*`` here to stay ASCII).
SYMBOLS = {"F": "_", "S": "_", "H": "O", "G": "G"}


def distances_to_goal(desc: list[str]) -> dict[tuple[int, int], int]:
    """Fewest moves from each cell to the goal, walking on frozen tiles only (holes are not entered)."""
    rows, cols = len(desc), len(desc[0])
    goal = next((r, c) for r in range(rows) for c in range(cols) if desc[r][c] == "G")
    dist = {goal: 0}
    queue = deque([goal])
    while queue:
        r, c = queue.popleft()
        for dr, dc in MOVES.values():
            nr, nc = r + dr, c + dc
            if 0 <= nr < rows and 0 <= nc < cols and desc[nr][nc] != "H" and (nr, nc) not in dist:
                dist[(nr, nc)] = dist[(r, c)] + 1
                queue.append((nr, nc))
    return dist


class FrozenLakeEnv(GridGameEnv):
    """Walk across a frozen lake to the goal without falling into a hole.

    ## Description
    Gymnasium's ``FrozenLake`` (``gymnasium.envs.toy_text.frozen_lake``) runs the rules: each episode draws a
    ``size`` x ``size`` map with Gymnasium's ``generate_random_map`` (a frozen tile with probability ``p``; it
    only returns maps with a path from the start to the goal), or plays the fixed ``desc`` when given. With
    ``is_slippery=True`` a move goes in the intended direction with probability 1/3 and to either side otherwise,
    as Gymnasium's; the default here is ``False`` (deterministic moves).

    ## Action Space
    ``text_space(8192)``: the model's whole response, read in ``response_format`` (``"action_tag"``:
    ``<think>...</think><action>left</action>``, or ``"json"``); the action is ``up``, ``down``, ``left`` or
    ``right`` (case-insensitive). Anything else is a format error: the player stays and the step counts.

    ## Observation Space
    ``Dict(text=Text, image=Box(0, 255, (image_size, image_size, 3), uint8))`` (``Dict(text=Text)`` with
    ``render_image=False``). The image draws the ice, holes (black discs), the goal (a yellow diamond) and the player
    (a blue disc). The text has the rules, the answer format, the map in RAGEN's symbols (``P`` you, ``_`` frozen,
    ``O`` hole, ``G`` goal), your (row, column) cell, the goal's and the moves left. ``system_prompt`` is None.

    ## Rewards
    ``reward/game``: Gymnasium's, 1 on reaching the goal, else 0. ``reward/format_error``: 1 for a response without
    a valid move, weighted -0.1. ``reward_weights`` merge over ``{game: 1.0, format_error: -0.1}``.

    ## Episode End
    Terminated on the goal or in a hole; truncated after ``max_steps`` steps.

    Info (reset and every step): ``success`` (on the goal), ``expert_action`` (a response with the first move of a
    shortest path to the goal over frozen tiles, by breadth-first search; with ``is_slippery`` this is the shortest
    path's move, not the optimal policy of the slippery game; None once the episode is over), ``expert_thought``,
    ``solution_length``, ``good_actions`` (every move that starts a shortest path), ``admissible_actions`` (a
    response for each of the four moves). Step info adds ``format_error``, ``reward/game``, ``reward/format_error``.

    ## Arguments
    ``size`` (4), ``p`` (0.8), ``desc`` (None, or a list of strings of ``S F H G``), ``is_slippery`` (False),
    ``max_steps`` (15), ``render_image`` (True), ``image_size`` (96), ``response_format`` (``"action_tag"``),
    ``reward_weights``, ``render_mode``.

    ## Version History
    * v0: initial version.
    """

    def __init__(self, size: int = 4, p: float = 0.8, desc: list[str] | None = None, is_slippery: bool = False,
                 max_steps: int = 15, render_image: bool = True, image_size: int = 96,
                 response_format: str = ACTION_TAG.name, reward_weights: dict[str, float] | None = None,
                 render_mode: str | None = None) -> None:
        if not (isinstance(size, int) and 2 <= size <= 16):
            raise ValueError(f"size must be an int in 2..16, got {size!r}")
        if not (isinstance(p, (int, float)) and 0 < p <= 1):
            raise ValueError(f"p must be in (0, 1], got {p!r}")
        if desc is not None:
            desc = [str(row) for row in desc]
            if (not desc or len({len(row) for row in desc}) != 1 or set("".join(desc)) - set("SFHG")
                    or "".join(desc).count("S") != 1 or "".join(desc).count("G") != 1):
                raise ValueError(f"desc must be equal-length rows of S F H G with one S and one G, got {desc!r}")
            start = next((r, row.index("S")) for r, row in enumerate(desc) if "S" in row)
            if start not in distances_to_goal(desc):
                raise ValueError(f"desc has no path from S to G: {desc!r}")
        super().__init__(max_steps, render_image, image_size, response_format, reward_weights, render_mode)
        self.size, self.p, self.fixed_desc, self.is_slippery = size, float(p), desc, bool(is_slippery)
        self.desc: list[str] = desc or ["S" + "F" * (size - 2) + "G"] + ["F" * size] * (size - 1)
        self.lake: GymFrozenLake | None = None
        self._distances: dict[tuple[int, int], int] = {}

    def _new_episode(self) -> None:
        if self.fixed_desc is not None:
            self.desc = list(self.fixed_desc)
        else:
            self.desc = generate_random_map(self.size, self.p, seed=int(self.np_random.integers(2**31 - 1)))
        self.lake = GymFrozenLake(desc=self.desc, is_slippery=self.is_slippery)
        self.lake.reset(seed=int(self.np_random.integers(2**31 - 1)))
        self._distances = distances_to_goal(self.desc)

    @property
    def position(self) -> tuple[int, int]:
        state = 0 if self.lake is None else int(self.lake.s)
        return divmod(state, len(self.desc[0]))

    def _tile(self) -> str:
        r, c = self.position
        return self.desc[r][c]

    def _state_key(self) -> Any:
        return self.position

    def _move(self, move: str) -> tuple[float, bool]:
        assert self.lake is not None
        _, reward, terminated, _, _ = self.lake.step(GYM_ACTIONS[move])
        return float(reward), bool(terminated)

    def _success(self) -> bool:
        return self.lake is not None and self._tile() == "G"

    def _neighbour(self, move: str) -> tuple[int, int] | None:
        (r, c), (dr, dc) = self.position, MOVES[move]
        if 0 <= r + dr < len(self.desc) and 0 <= c + dc < len(self.desc[0]):
            return r + dr, c + dc
        return None

    def _solve(self) -> list[str] | None:
        here = self.position
        if here not in self._distances or self._tile() == "H":
            return None
        plan = []
        while self._distances[here] > 0:
            for move in MOVES:
                (dr, dc) = MOVES[move]
                nxt = (here[0] + dr, here[1] + dc)
                if self._distances.get(nxt, -1) == self._distances[here] - 1:
                    plan.append(move)
                    here = nxt
                    break
        return plan

    def _good_moves(self) -> list[str]:
        here = self._distances.get(self.position)
        if not here or self._tile() == "H":
            return []
        return [m for m in MOVES if (n := self._neighbour(m)) is not None and self._distances.get(n) == here - 1]

    def grid_text(self) -> str:
        """The map in RAGEN's symbols, one line per row."""
        pos = self.position
        lines = []
        for r, row in enumerate(self.desc):
            lines.append("".join("P" if (r, c) == pos else SYMBOLS[t] for c, t in enumerate(row)))
        return "\n".join(lines)

    def _rules(self) -> str:
        slip = (" The ice is slippery: a move may go sideways." if self.is_slippery else "")
        return ("You are walking on a frozen lake. Reach the goal G without falling into a hole O. You move one "
                "cell per step: up, down, left or right; moving off the map keeps you in place. Reaching the goal "
                f"gives 1 and ends the game; a hole ends it with 0.{slip} Symbols: P you, _ frozen, O hole, G goal.")

    def _state_text(self) -> str:
        goal = next((r, row.index("G")) for r, row in enumerate(self.desc) if "G" in row)
        return f"{self.grid_text()}\nYou are at {self.position}. The goal is at {goal}."

    def _draw(self) -> np.ndarray:
        return render.draw_frozen_lake(self.desc, self.position, self.image_size)
