"""A schematic top-down drawing of what an ALFWorld agent knows (OpenCV, no simulator, no camera view).

Receptacles sit at the floor positions their AI2-THOR ids carry (``Cabinet|x|y|z``; on a circle when an id has
none), over the scene's reachable floor when the scene is known. Receptacles the agent has visited are filled and
list the objects it saw there; the agent is the red dot; what it holds is written at the bottom. The banner says
"SCHEMATIC": the image is a map of the agent's knowledge, not what a camera would see.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX
BACKGROUND = (245, 242, 235)
FLOOR = (222, 214, 196)
UNSEEN = (150, 150, 150)
SEEN = (70, 120, 200)
AGENT = (220, 40, 40)
INK = (20, 20, 20)
BANNER = 16


def entity_position(entity_id: str) -> tuple[float, float] | None:
    """``(x, z)`` from an id such as ``cabinet_bar__minus_01_dot_05_bar__plus_00_dot_34_bar__minus_01_dot_33``
    (alfworld's PDDL-safe spelling of ``Cabinet|-01.05|+00.34|-01.33``), or ``None``."""
    text = entity_id
    for old, new in (("_bar_", "|"), ("_minus_", "-"), ("_plus_", "+"), ("_dot_", "."), ("_comma_", ",")):
        text = text.replace(old, new)
    parts = text.split("|")
    try:
        return float(parts[1]), float(parts[3])
    except (IndexError, ValueError):
        return None


def draw_schematic(
    receptacles: Mapping[str, tuple[float, float] | None],
    seen: Mapping[str, Sequence[str]],
    agent_at: str | None,
    holding: str | None,
    floor: np.ndarray | None = None,
    size: int = 320,
) -> np.ndarray:
    """``(size, size, 3)`` uint8 RGB: ``receptacles`` maps names (``"cabinet 1"``) to ``(x, z)`` or ``None``;
    ``seen`` maps visited receptacles to the objects seen in them; ``agent_at`` is where the agent stands."""
    image = np.full((size, size, 3), BACKGROUND, np.uint8)
    names = sorted(receptacles)
    points = {n: p for n, p in receptacles.items() if p is not None}
    for k, name in enumerate(n for n in names if n not in points):  # no position: spread on a circle
        angle = 2 * np.pi * k / max(1, len(names))
        points[name] = (np.cos(angle), np.sin(angle))
    coords = np.array(list(points.values()) + ([] if floor is None else list(map(tuple, floor))), float)
    coords = coords.reshape(-1, 2) if coords.size else np.zeros((1, 2))
    low, high = coords.min(axis=0) - 0.3, coords.max(axis=0) + 0.3
    scale = (size - 2 * 14) / max(float((high - low).max()), 1e-6)
    top = BANNER + 6

    def to_pixel(x: float, z: float) -> tuple[int, int]:  # z grows north: up in the image
        return int(14 + (x - low[0]) * scale), int(top + (high[1] - z) * scale * (size - top - 40) / (size - 28))

    if floor is not None:
        for x, z in floor:
            cv2.circle(image, to_pixel(x, z), max(2, int(0.12 * scale)), FLOOR, -1)
    for name in names:
        px, py = to_pixel(*points[name])
        visited = name in seen
        cv2.rectangle(image, (px - 5, py - 5), (px + 5, py + 5), SEEN if visited else UNSEEN,
                      -1 if visited else 1)
        label = name if not seen.get(name) else f"{name}: {', '.join(seen[name])}"
        cv2.putText(image, label[:40], (px + 7, py + 3), FONT, 0.3, INK, 1, cv2.LINE_AA)
        if name == agent_at:
            cv2.circle(image, (px, py - 9), 5, AGENT, -1, cv2.LINE_AA)
    cv2.rectangle(image, (0, 0), (size - 1, BANNER), (60, 60, 60), -1)
    cv2.putText(image, "SCHEMATIC map of what the agent knows", (4, BANNER - 4), FONT, 0.38, (255, 255, 255), 1,
                cv2.LINE_AA)
    status = f"at: {agent_at or 'start'}   holding: {holding or 'nothing'}"
    cv2.putText(image, status[:60], (4, size - 6), FONT, 0.35, AGENT, 1, cv2.LINE_AA)
    return image
