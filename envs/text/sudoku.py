"""``mmrl/Sudoku-v0``: fill a 4x4 or 6x6 Sudoku (a SynLogic-style puzzle)."""

from __future__ import annotations

import numpy as np

from mmrl.envs.checks import int_in_range
from mmrl.envs.text.base import Problem, TextTaskEnv

#: Grid size -> (box rows, box columns).
BOXES = {4: (2, 2), 6: (2, 3)}

Grid = list[list[int]]  # 0 = blank


def is_valid_solution(solution: Grid, puzzle: Grid) -> bool:
    """``solution`` is a complete grid (each row, column and box holds 1..n once) agreeing with every given of
    ``puzzle``. A pure function; never raises on grids of ``puzzle``'s shape."""
    n = len(puzzle)
    box_rows, box_cols = BOXES[n]
    if len(solution) != n or any(len(row) != n for row in solution):
        return False
    digits = set(range(1, n + 1))
    if any(set(row) != digits for row in solution):
        return False
    if any({solution[r][c] for r in range(n)} != digits for c in range(n)):
        return False
    for top in range(0, n, box_rows):
        for left in range(0, n, box_cols):
            box = {solution[top + r][left + c] for r in range(box_rows) for c in range(box_cols)}
            if box != digits:
                return False
    return all(puzzle[r][c] in (0, solution[r][c]) for r in range(n) for c in range(n))


def solve(puzzle: Grid, limit: int = 2) -> list[Grid]:
    """Up to ``limit`` solutions of ``puzzle`` by backtracking (fast for 4x4 and 6x6)."""
    n = len(puzzle)
    box_rows, box_cols = BOXES[n]
    grid = [row[:] for row in puzzle]
    solutions: list[Grid] = []

    def candidates(r: int, c: int) -> list[int]:
        used = set(grid[r]) | {grid[i][c] for i in range(n)}
        top, left = r - r % box_rows, c - c % box_cols
        used |= {grid[top + i][left + j] for i in range(box_rows) for j in range(box_cols)}
        return [d for d in range(1, n + 1) if d not in used]

    def search() -> None:
        if len(solutions) >= limit:
            return
        blanks = [(r, c) for r in range(n) for c in range(n) if grid[r][c] == 0]
        if not blanks:
            solutions.append([row[:] for row in grid])
            return
        r, c = min(blanks, key=lambda cell: len(candidates(*cell)))
        for digit in candidates(r, c):
            grid[r][c] = digit
            search()
            grid[r][c] = 0

    search()
    return solutions


def generate_sudoku(rng: np.random.Generator, size: int, blanks: int) -> tuple[Grid, Grid]:
    """``(puzzle, solution)``: a random valid grid (a shuffled pattern grid) with up to ``blanks`` cells removed
    while the puzzle keeps a unique solution."""
    box_rows, box_cols = BOXES[size]
    # Pattern grid: row r, column c holds (box_cols * (r % box_rows) + r // box_rows + c) % size + 1.
    base = [
        [(box_cols * (r % box_rows) + r // box_rows + c) % size for c in range(size)] for r in range(size)
    ]
    digits = rng.permutation(size) + 1
    bands = rng.permutation(size // box_rows)
    rows = [int(b) * box_rows + int(r) for b in bands for r in rng.permutation(box_rows)]
    stacks = rng.permutation(size // box_cols)
    cols = [int(s) * box_cols + int(c) for s in stacks for c in rng.permutation(box_cols)]
    solution = [[int(digits[base[r][c]]) for c in cols] for r in rows]
    puzzle = [row[:] for row in solution]
    removed = 0
    for cell in rng.permutation(size * size):
        if removed >= blanks:
            break
        r, c = divmod(int(cell), size)
        kept = puzzle[r][c]
        puzzle[r][c] = 0
        if len(solve(puzzle, limit=2)) == 1:
            removed += 1
        else:
            puzzle[r][c] = kept
    return puzzle, solution


def format_grid(grid: Grid) -> str:
    """Rows of digits separated by newlines, ``.`` for a blank."""
    return "\n".join("".join(str(d) if d else "." for d in row) for row in grid)


def parse_grid(text: str, size: int) -> Grid | None:
    """The ``size * size`` digits of ``text`` read row by row (any separators ignored), or ``None`` when it does
    not hold exactly that many digits."""
    digits = [int(char) for char in text if char in "0123456789"]
    if len(digits) != size * size:
        return None
    return [digits[r * size : (r + 1) * size] for r in range(size)]


class SudokuEnv(TextTaskEnv):
    """Fill in a small Sudoku so every row, column and box holds each digit once (a SynLogic-style task).

    ## Description
    A ``size`` x ``size`` grid (4x4 with 2x2 boxes, or 6x6 with 2x3 boxes) with ``blanks`` cells to fill. The
    generator shuffles a valid pattern grid (digits, rows within bands, bands, columns within stacks, stacks) and
    removes cells only while the solution stays unique. Any valid completion is accepted by the rule verifier.

    ## Action Space
    ``text_space(8192)``: ``<answer>`` holding the full grid, row by row; only digits are read, so ``1234\\n3412..``,
    ``1 2 3 4 / 3 4 1 2 ..`` and ``[[1,2,3,4],...]`` all work. A count of digits other than size² is a format error.

    ## Observation Space
    ``Dict(text=Text)``: the rules and the grid, one row per line, ``.`` for a blank.

    ## Rewards
    1.0 iff the grid is a valid Sudoku that keeps every given digit, else 0.0.

    ## Episode End
    After the first step. ``reset`` info: ``answer`` (the solution as text), ``expert_action``,
    ``expert_thought``. ``step`` info: ``success``, ``format_error``, ``answer``, ``reward/accuracy`` (and every other reward component).

    ## Arguments
    ``size`` (4 or 6, default 4), ``blanks`` (cells to empty; default 8 for 4x4, 18 for 6x6; fewer when
    uniqueness would break).

    ## Version History
    * v0: initial version.
    """

    max_question_length = 600

    def __init__(self, size: int = 4, blanks: int | None = None, reward_weights: dict[str, float] | None = None) -> None:
        if size not in BOXES:
            raise ValueError(f"size must be one of {sorted(BOXES)}, got {size!r}")
        blanks = {4: 8, 6: 18}[size] if blanks is None else blanks
        int_in_range("blanks", blanks, 0, size * size)
        self.size, self.blanks = size, blanks
        super().__init__(reward_weights)

    def generate(self, rng: np.random.Generator) -> Problem:
        puzzle, solution = generate_sudoku(rng, self.size, self.blanks)
        box_rows, box_cols = BOXES[self.size]
        question = (
            f"Solve this {self.size}x{self.size} Sudoku: fill each '.' with a digit 1-{self.size} so that every "
            f"row, every column and every {box_rows}x{box_cols} box contains each digit exactly once.\n"
            f"{format_grid(puzzle)}\nAnswer with the completed grid, one row per line."
        )
        answer = format_grid(solution)
        return Problem(
            question=question,
            answer=answer,
            expert_answer=answer,
            expert_thought="Fill each blank with the only digit its row, column and box allow.",
            data=puzzle,
        )

    def check(self, answer: str, problem: Problem) -> bool | None:
        grid = parse_grid(answer, self.size)
        if grid is None:
            return None
        return is_valid_solution(grid, problem.data)
