"""Drawing of the grid puzzles with OpenCV (no image assets). Functions return new ``uint8`` RGB arrays."""

from __future__ import annotations

import cv2
import numpy as np

WALL = (110, 60, 40)
FLOOR = (225, 215, 190)
TARGET = (200, 40, 40)
BOX = (190, 130, 50)
BOX_ON_TARGET = (60, 170, 70)
PLAYER = (40, 80, 200)
ICE = (200, 230, 250)
HOLE = (35, 35, 45)
GOAL = (240, 200, 30)
GRID_LINE = (150, 150, 150)


def _cells(rows: int, cols: int, size: int) -> tuple[np.ndarray, int, int, int]:
    """A blank canvas and (cell size, left, top) offsets that centre a rows x cols grid."""
    cell = max(1, size // max(rows, cols))
    canvas = np.full((size, size, 3), 255, np.uint8)
    return canvas, cell, (size - cell * cols) // 2, (size - cell * rows) // 2


def draw_sokoban(walls: np.ndarray, targets: set[tuple[int, int]], boxes: set[tuple[int, int]],
                 player: tuple[int, int], size: int) -> np.ndarray:
    """Walls as bricks, floor, targets as red rings, boxes as crossed squares (green on a target), the player as
    a blue disc."""
    rows, cols = walls.shape
    canvas, cell, left, top = _cells(rows, cols, size)
    pad = max(1, cell // 8)
    for r in range(rows):
        for c in range(cols):
            x, y = left + c * cell, top + r * cell
            if walls[r, c]:
                cv2.rectangle(canvas, (x, y), (x + cell - 1, y + cell - 1), WALL, -1)
                cv2.line(canvas, (x, y + cell // 2), (x + cell - 1, y + cell // 2), FLOOR, 1)
                continue
            cv2.rectangle(canvas, (x, y), (x + cell - 1, y + cell - 1), FLOOR, -1)
            centre, radius = (x + cell // 2, y + cell // 2), max(2, cell // 3)
            if (r, c) in targets:
                cv2.circle(canvas, centre, radius, TARGET, max(1, cell // 12), cv2.LINE_AA)
            if (r, c) in boxes:
                color = BOX_ON_TARGET if (r, c) in targets else BOX
                cv2.rectangle(canvas, (x + pad, y + pad), (x + cell - 1 - pad, y + cell - 1 - pad), color, -1)
                cv2.line(canvas, (x + pad, y + pad), (x + cell - 1 - pad, y + cell - 1 - pad), (80, 50, 20), 1)
                cv2.line(canvas, (x + cell - 1 - pad, y + pad), (x + pad, y + cell - 1 - pad), (80, 50, 20), 1)
            if (r, c) == player:
                cv2.circle(canvas, centre, radius, PLAYER, -1, cv2.LINE_AA)
    return canvas


def draw_frozen_lake(desc: list[str], player: tuple[int, int], size: int) -> np.ndarray:
    """Ice tiles, holes as dark discs, the goal as a yellow star-like diamond, the player as a blue disc."""
    rows, cols = len(desc), len(desc[0])
    canvas, cell, left, top = _cells(rows, cols, size)
    for r in range(rows):
        for c in range(cols):
            x, y = left + c * cell, top + r * cell
            cv2.rectangle(canvas, (x, y), (x + cell - 1, y + cell - 1), ICE, -1)
            cv2.rectangle(canvas, (x, y), (x + cell - 1, y + cell - 1), GRID_LINE, 1)
            centre, radius = (x + cell // 2, y + cell // 2), max(2, cell // 3)
            tile = desc[r][c]
            if tile == "H":
                cv2.circle(canvas, centre, radius, HOLE, -1, cv2.LINE_AA)
            elif tile == "G":
                h = radius
                diamond = np.array([[centre[0], centre[1] - h], [centre[0] + h, centre[1]],
                                    [centre[0], centre[1] + h], [centre[0] - h, centre[1]]], np.int32)
                cv2.fillPoly(canvas, [diamond], GOAL, lineType=cv2.LINE_AA)
            if (r, c) == player:
                cv2.circle(canvas, centre, max(2, cell // 4), PLAYER, -1, cv2.LINE_AA)
    return canvas
