"""``mmrl/Maze-v0``: find a shortest path through a grid maze given as text."""

from __future__ import annotations

from collections import deque

import numpy as np

from mmrl.envs.checks import int_in_range
from mmrl.envs.text.base import Problem, TextTaskEnv

MOVES = {"U": (-1, 0), "D": (1, 0), "L": (0, -1), "R": (0, 1)}
_MOVE_WORDS = {"UP": "U", "DOWN": "D", "LEFT": "L", "RIGHT": "R"}


def find(grid: list[str], char: str) -> tuple[int, int]:
    """Row and column of the first ``char`` in ``grid``."""
    for r, row in enumerate(grid):
        if char in row:
            return r, row.index(char)
    raise ValueError(f"{char!r} not in the grid")


def shortest_path(grid: list[str]) -> str | None:
    """A shortest move string from ``S`` to ``G`` (breadth-first search; ``#`` is a wall), or ``None``."""
    start, goal = find(grid, "S"), find(grid, "G")
    previous: dict[tuple[int, int], tuple[tuple[int, int], str] | None] = {start: None}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        if cell == goal:
            moves = []
            while previous[cell] is not None:
                cell, move = previous[cell]  # type: ignore[misc]
                moves.append(move)
            return "".join(reversed(moves))
        for move, (dr, dc) in MOVES.items():
            r, c = cell[0] + dr, cell[1] + dc
            if 0 <= r < len(grid) and 0 <= c < len(grid[0]) and grid[r][c] != "#" and (r, c) not in previous:
                previous[(r, c)] = (cell, move)
                queue.append((r, c))
    return None


def parse_moves(text: str) -> str | None:
    """Moves ``U D L R`` from text such as ``RRDL``, ``R, R, D, L`` or ``right right down left``; ``None`` if
    anything else is there. Never raises."""
    words = text.upper().replace(",", " ").replace("-", " ").replace(">", " ").split()
    moves = []
    for word in words:
        if word in _MOVE_WORDS:
            moves.append(_MOVE_WORDS[word])
        elif all(char in MOVES for char in word):
            moves.append(word)
        else:
            return None
    return "".join(moves)


def follows_to_goal(grid: list[str], moves: str) -> bool:
    """The moves stay inside the grid, never enter a wall and end on ``G``."""
    r, c = find(grid, "S")
    for move in moves:
        dr, dc = MOVES[move]
        r, c = r + dr, c + dc
        if not (0 <= r < len(grid) and 0 <= c < len(grid[0])) or grid[r][c] == "#":
            return False
    return grid[r][c] == "G"


def generate_maze(rng: np.random.Generator, rows: int, cols: int, wall_density: float) -> list[str]:
    """A grid with ``S`` and ``G`` in distinct random cells, an open random monotone corridor between them (so a
    path always exists by construction) and walls elsewhere with probability ``wall_density``."""
    cells = rng.choice(rows * cols, size=2, replace=False)
    (sr, sc), (gr, gc) = divmod(int(cells[0]), cols), divmod(int(cells[1]), cols)
    walls = rng.random((rows, cols)) < wall_density
    steps = ["V"] * abs(gr - sr) + ["H"] * abs(gc - sc)
    r, c = sr, sc
    walls[r, c] = False
    for step in rng.permutation(steps):
        if step == "V":
            r += 1 if gr > r else -1
        else:
            c += 1 if gc > c else -1
        walls[r, c] = False
    grid = [["#" if walls[i, j] else "." for j in range(cols)] for i in range(rows)]
    grid[sr][sc], grid[gr][gc] = "S", "G"
    return ["".join(row) for row in grid]


class MazeEnv(TextTaskEnv):
    """Give a shortest sequence of moves from ``S`` to ``G`` in a text grid maze (a SynLogic-style task).

    ## Description
    A ``size`` x ``size`` grid of ``.`` (open), ``#`` (wall), ``S`` (start) and ``G`` (goal). A random monotone
    corridor from S to G is kept open, so the maze is always solvable; other cells are walls with probability
    ``wall_density``. The answer must be a path of shortest length (any shortest path is right).

    ## Action Space
    ``text_space(8192)``: ``<answer>`` holding moves ``U`` (up), ``D`` (down), ``L`` (left), ``R`` (right), e.g.
    ``RRDDL``, ``R, R, D`` or ``right right down``. Anything else inside the tag is a format error.

    ## Observation Space
    ``Dict(text=Text)``: the rules and the grid, one row per line.

    ## Rewards
    1.0 iff the moves never leave the grid or hit a wall, end on G, and are as few as the shortest path's
    (found by breadth-first search), else 0.0.

    ## Episode End
    After the first step. ``reset`` info: ``answer`` (a shortest move string), ``expert_action``,
    ``expert_thought``. ``step`` info: ``success``, ``format_error``, ``answer``, ``reward/accuracy`` (and every other reward component).

    ## Arguments
    ``size`` (3-12, default 5) and ``wall_density`` (0-0.9, default 0.35): the difficulty.

    ## Version History
    * v0: initial version.
    """

    max_question_length = 800

    def __init__(self, size: int = 5, wall_density: float = 0.35, reward_weights: dict[str, float] | None = None) -> None:
        int_in_range("size", size, 3, 12)
        if not 0.0 <= wall_density <= 0.9:
            raise ValueError(f"wall_density must be in [0, 0.9], got {wall_density!r}")
        self.size, self.wall_density = size, float(wall_density)
        super().__init__(reward_weights)

    def generate(self, rng: np.random.Generator) -> Problem:
        grid = generate_maze(rng, self.size, self.size, self.wall_density)
        path = shortest_path(grid)
        assert path is not None  # the corridor guarantees a path
        question = (
            "Find a shortest path from S to G in this maze. '.' is open, '#' is a wall; move one cell at a time "
            "with U (up), D (down), L (left) or R (right), never into a wall or off the grid.\n"
            + "\n".join(grid)
            + "\nAnswer with the moves only, e.g. <answer>RRDL</answer>."
        )
        return Problem(
            question=question,
            answer=path,
            expert_answer=path,
            expert_thought=f"Breadth-first search from S reaches G in {len(path)} move(s): {path}.",
            data={"grid": grid, "length": len(path)},
        )

    def check(self, answer: str, problem: Problem) -> bool | None:
        moves = parse_moves(answer)
        if moves is None:
            return None
        return len(moves) == problem.data["length"] and follows_to_goal(problem.data["grid"], moves)
