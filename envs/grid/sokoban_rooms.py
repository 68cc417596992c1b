"""Sokoban rooms: generation by reverse play (as gym-sokoban's generator: carve a room, put the boxes on their
targets, then walk the player backwards pulling boxes) and a breadth-first solver over (player, boxes) states.

The solver is exact for the small rooms this package makes (6x6 with one or two boxes: a few thousand states); it
gives up (returns None) past ``max_states`` states, which :func:`generate_room` treats as a rejected room.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from mmrl.envs.grid.base import MOVES

Cell = tuple[int, int]
#: States the solver may visit before giving up.
MAX_STATES = 200_000
#: Rooms drawn before :func:`generate_room` gives up.
MAX_TRIES = 1000


@dataclass(frozen=True)
class Room:
    """A Sokoban state: walls (bool array, True = wall), targets, boxes and the player."""

    walls: np.ndarray
    targets: frozenset[Cell]
    boxes: frozenset[Cell]
    player: Cell


def push(walls: np.ndarray, boxes: frozenset[Cell], player: Cell, move: str) -> tuple[Cell, frozenset[Cell]] | None:
    """(player, boxes) after ``move`` (a box ahead is pushed when the cell behind it is free), or None when the
    move is blocked (a wall ahead, or a box against a wall or another box)."""
    dr, dc = MOVES[move]
    ahead = (player[0] + dr, player[1] + dc)
    if walls[ahead]:
        return None
    if ahead in boxes:
        beyond = (ahead[0] + dr, ahead[1] + dc)
        if walls[beyond] or beyond in boxes:
            return None
        return ahead, (boxes - {ahead}) | {beyond}
    return ahead, boxes


def solve(walls: np.ndarray, targets: frozenset[Cell], boxes: frozenset[Cell], player: Cell,
          max_states: int = MAX_STATES) -> list[str] | None:
    """A shortest move sequence (fewest moves, pushes included) putting every box on a target; ``[]`` when they
    already are; None when no sequence exists or more than ``max_states`` states would be searched."""
    if boxes <= targets:
        return []
    start = (player, boxes)
    parent: dict[tuple[Cell, frozenset[Cell]], tuple[tuple[Cell, frozenset[Cell]], str] | None] = {start: None}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        for move in MOVES:
            after = push(walls, state[1], state[0], move)
            if after is None or after in parent:
                continue
            parent[after] = (state, move)
            if after[1] <= targets:
                path = []
                node: tuple[Cell, frozenset[Cell]] | None = after
                while parent[node] is not None:
                    node, step = parent[node]  # type: ignore[misc]
                    path.append(step)
                return path[::-1]
            if len(parent) > max_states:
                return None
            queue.append(after)
    return None


def _carve(rng: np.random.Generator, dim: tuple[int, int], steps: int) -> np.ndarray:
    """Walls everywhere but a random walk's cells inside the border (the walk turns with probability 0.35 and
    sometimes widens to a neighbour, as gym-sokoban's masks do)."""
    rows, cols = dim
    walls = np.ones(dim, dtype=bool)
    r, c = int(rng.integers(1, rows - 1)), int(rng.integers(1, cols - 1))
    directions = list(MOVES.values())
    dr, dc = directions[int(rng.integers(4))]
    for _ in range(steps):
        walls[r, c] = False
        if rng.random() < 0.3:  # widen: open one neighbour inside the border
            nr, nc = directions[int(rng.integers(4))]
            if 1 <= r + nr < rows - 1 and 1 <= c + nc < cols - 1:
                walls[r + nr, c + nc] = False
        if rng.random() < 0.35:
            dr, dc = directions[int(rng.integers(4))]
        r, c = min(max(r + dr, 1), rows - 2), min(max(c + dc, 1), cols - 2)
    return walls


def _reverse_play(rng: np.random.Generator, walls: np.ndarray, boxes: set[Cell], player: Cell,
                  steps: int) -> tuple[set[Cell], Cell]:
    """Walk the player backwards ``steps`` times; a box behind the player is pulled along with probability 0.8.
    Every pull is the reverse of a legal push, so the result can be pushed back onto the targets."""
    moves = list(MOVES.values())
    for _ in range(steps):
        dr, dc = moves[int(rng.integers(4))]
        ahead = (player[0] + dr, player[1] + dc)
        if walls[ahead] or ahead in boxes:
            continue
        behind = (player[0] - dr, player[1] - dc)
        if behind in boxes and rng.random() < 0.8:
            boxes = (boxes - {behind}) | {player}
        player = ahead
    return boxes, player


def generate_room(rng: np.random.Generator, dim: tuple[int, int] = (6, 6), num_boxes: int = 1,
                  search_depth: int = 30, min_solution: int = 1, max_solution: int = 10) -> tuple[Room, list[str]]:
    """A solvable room and a shortest solution of ``min_solution``..``max_solution`` moves, drawn with ``rng``:
    carve a room, put ``num_boxes`` boxes on random targets and the player on another floor cell, reverse-play
    ``search_depth`` steps, and keep the room when the solver's shortest solution has an allowed length (else draw
    again, up to ``MAX_TRIES`` times)."""
    rows, cols = dim
    interior = (rows - 2) * (cols - 2)
    for _ in range(MAX_TRIES):
        walls = _carve(rng, dim, steps=int(1.5 * interior))
        floor = [tuple(int(v) for v in cell) for cell in np.argwhere(~walls)]
        if len(floor) < num_boxes + 2:
            continue
        picks = rng.choice(len(floor), size=num_boxes + 1, replace=False)
        targets = frozenset(floor[int(i)] for i in picks[:num_boxes])
        player = floor[int(picks[-1])]
        boxes, player = _reverse_play(rng, walls, set(targets), player, search_depth)
        room = Room(walls, targets, frozenset(boxes), player)
        plan = solve(walls, targets, room.boxes, player)
        if plan is not None and min_solution <= len(plan) <= max_solution:
            return room, plan
    raise RuntimeError(f"no solvable {dim} room with {num_boxes} boxes and a {min_solution}..{max_solution}-move "
                       f"solution in {MAX_TRIES} draws: widen the solution range or the room")
