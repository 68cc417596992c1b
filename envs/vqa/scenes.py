"""Procedural VQA scenes for ``mmrl/VQAGrounding-v0``: 2-5 (by default) flat shapes on a plain background, with a
question, its possible answers, a caption and the boxes of the objects the question is about (a VQA-Verify
record).

Shapes are drawn without anti-aliasing, so every object pixel has exactly its colour's RGB value and no two
objects touch (their boxes are at least :data:`GAP` pixels apart): a test can check every answer from pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from mmrl.envs.classification.sources import COLOR_RGB

#: Object colours (RGB), saturated and far from every background: the classification shapes' palette.
COLORS: dict[str, tuple[int, int, int]] = {
    name: COLOR_RGB[name] for name in ("red", "green", "blue", "yellow", "purple", "orange")
}
#: Background colours (RGB).
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "white": (255, 255, 255),
    "light gray": (225, 225, 225),
    "beige": (240, 230, 200),
}
SHAPES = ("circle", "square", "triangle")
#: Object radius range per size word, as a fraction of the image's shorter side.
SIZES: dict[str, tuple[float, float]] = {"small": (0.06, 0.09), "large": (0.12, 0.16)}
QUESTION_KINDS = ("color", "count", "position", "relation")
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five")
#: Smallest gap in pixels between two objects' boxes.
GAP = 4
#: Default range of the number of objects drawn per scene (inclusive).
OBJECT_COUNT = (2, 5)


@dataclass(frozen=True)
class SceneObject:
    color: str
    shape: str
    size: str
    box: tuple[int, int, int, int]
    """[x1, y1, x2, y2] in pixel edges: the object covers pixels x1..x2-1, y1..y2-1 (tight)."""

    @property
    def name(self) -> str:
        return f"{self.color} {self.shape}"

    @property
    def center(self) -> tuple[float, float]:
        x1, y1, x2, y2 = self.box
        return (x1 + x2) / 2, (y1 + y2) / 2


def _draw_shape(
    canvas: np.ndarray, shape: str, center: np.ndarray, radius: float, rgb: tuple[int, ...]
) -> None:
    cx, cy = (int(round(v)) for v in center)
    r = int(round(radius))
    if shape == "circle":
        cv2.circle(canvas, (cx, cy), r, rgb, -1, cv2.LINE_8)
    elif shape == "square":
        cv2.rectangle(canvas, (cx - r, cy - r), (cx + r, cy + r), rgb, -1, cv2.LINE_8)
    else:  # triangle, point up
        points = np.array([[cx, cy - r], [cx - r, cy + r], [cx + r, cy + r]], dtype=np.int32)
        cv2.fillPoly(canvas, [points], rgb, cv2.LINE_8)


def _where(obj: SceneObject, width: int, height: int) -> str:
    """Coarse place of an object in a 3x3 grid: 'top left', 'center', 'bottom', ..."""
    cx, cy = obj.center
    row = ("top", "", "bottom")[min(int(3 * cy / height), 2)]
    col = ("left", "", "right")[min(int(3 * cx / width), 2)]
    return " ".join(word for word in (row, col) if word) or "center"


def render_scene(
    rng: np.random.Generator,
    width: int,
    height: int,
    object_count: tuple[int, int] = OBJECT_COUNT,
    size_scale: float = 1.0,
) -> tuple[np.ndarray, str, list[SceneObject]]:
    """Draw ``object_count`` (inclusive range, 2-5 by default) objects with distinct (colour, shape) on a plain
    background, their radii :data:`SIZES` times ``size_scale``; returns (image, background, objects).

    An object that finds no free spot in 50 tries is left out (so large objects in a small image can make a
    scene hold fewer than the drawn count), but every scene holds at least ``object_count[0]`` objects.
    """
    low, high = object_count
    background = list(BACKGROUNDS)[rng.integers(len(BACKGROUNDS))]
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[:] = BACKGROUNDS[background]
    kinds = [(c, s) for c in COLORS for s in SHAPES]
    picked = rng.permutation(len(kinds))[: int(rng.integers(low, high + 1))]
    side = min(width, height)
    objects: list[SceneObject] = []
    for index in picked:
        color, shape = kinds[index]
        for _ in range(50):  # rejection sampling for a spot that keeps GAP pixels from every other object
            size = ("small", "large")[rng.integers(2)]
            radius = rng.uniform(*SIZES[size]) * size_scale * side
            center = rng.uniform(radius + 2, np.array([width, height]) - radius - 2)
            mask = np.zeros((height, width), dtype=np.uint8)
            _draw_shape(mask, shape, center, radius, (1,))
            ys, xs = np.nonzero(mask)
            box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
            if all(
                box[0] >= o.box[2] + GAP
                or o.box[0] >= box[2] + GAP
                or box[1] >= o.box[3] + GAP
                or o.box[1] >= box[3] + GAP
                for o in objects
            ):
                image[mask.astype(bool)] = COLORS[color]
                objects.append(SceneObject(color, shape, size, box))
                break
    if len(objects) < low:  # rare (crowded scene); draw another one from the same stream
        return render_scene(rng, width, height, object_count, size_scale)
    return image, background, objects


def check_scene_options(width: int, height: int, object_count: tuple[int, int], size_scale: float) -> None:
    """Raise ``ValueError`` unless scenes of these options can be drawn: 2 <= low <= high <= 5 objects (questions
    about relations need two), every object fits the image, and two small objects fit side by side (so a scene
    of ``low`` objects can always be found)."""
    low, high = (int(v) for v in object_count)
    if not 2 <= low <= high <= len(NUMBER_WORDS) - 1:
        raise ValueError(f"object_count must be (low, high) with 2 <= low <= high <= 5, got {object_count!r}")
    side = min(width, height)
    largest, small = max(r for _, r in SIZES.values()) * size_scale * side, SIZES["small"][1] * size_scale * side
    if not (size_scale > 0 and largest + 3 < side / 2 and 2 * (2 * small + 1) + GAP + 6 < max(width, height)):
        raise ValueError(
            f"size_scale={size_scale!r} must be > 0, fit the largest object (radius {largest:.1f} px) in a"
            f" {width}x{height} image and two small ones (radius {small:.1f} px) side by side"
        )


def scene_caption(background: str, objects: list[SceneObject], width: int, height: int) -> str:
    parts = [f"a {o.size} {o.name} at the {_where(o, width, height)}" for o in objects]
    listing = ", ".join(parts[:-1]) + f" and {parts[-1]}"
    return f"A {background} background with {NUMBER_WORDS[len(objects)]} objects: {listing}."


def _ask(
    rng: np.random.Generator, objects: list[SceneObject], width: int, height: int
) -> tuple[str, list[str], list[SceneObject]]:
    """(question, possible answers, objects the question is about) of one randomly chosen kind."""
    kind = QUESTION_KINDS[rng.integers(len(QUESTION_KINDS))]
    if kind == "color":
        # Refer to an object by its shape when that is unique, else by size and shape, else fall through.
        for obj in (objects[i] for i in rng.permutation(len(objects))):
            same_shape = [o for o in objects if o.shape == obj.shape]
            if len(same_shape) == 1:
                return f"What color is the {obj.shape}?", [obj.color], [obj]
            if sum(o.size == obj.size for o in same_shape) == 1:
                return f"What color is the {obj.size} {obj.shape}?", [obj.color], [obj]
        kind = "count"
    if kind == "position":
        obj = objects[rng.integers(len(objects))]
        cx, cy = obj.center
        if rng.integers(2) == 0:
            question = f"Is the {obj.name} in the left half or the right half of the image?"
            side = "left" if cx < width / 2 else "right"
            clear = abs(cx - width / 2) >= 2
        else:
            question = f"Is the {obj.name} in the top half or the bottom half of the image?"
            side = "top" if cy < height / 2 else "bottom"
            clear = abs(cy - height / 2) >= 2
        if clear:
            return question, [side], [obj]
        kind = "relation"
    if kind == "relation":
        i, j = (int(v) for v in rng.permutation(len(objects))[:2])
        a, b = objects[i], objects[j]
        # The relation is decided by the boxes' separation; objects separated only vertically are asked about
        # above/below.
        if a.box[2] <= b.box[0] or b.box[2] <= a.box[0]:
            truth = a.box[2] <= b.box[0]
            if rng.integers(2) == 0:
                return f"Is the {a.name} to the left of the {b.name}?", ["yes" if truth else "no"], [a, b]
            return f"Is the {b.name} to the right of the {a.name}?", ["yes" if truth else "no"], [a, b]
        truth = a.box[3] <= b.box[1]
        return f"Is the {a.name} above the {b.name}?", ["yes" if truth else "no"], [a, b]
    color = objects[rng.integers(len(objects))].color
    chosen = [o for o in objects if o.color == color]
    return f"How many {color} objects are there?", [str(len(chosen)), NUMBER_WORDS[len(chosen)]], chosen


def procedural_record(
    rng: np.random.Generator,
    width: int,
    height: int,
    object_count: tuple[int, int] = OBJECT_COUNT,
    size_scale: float = 1.0,
) -> dict[str, Any]:
    """One VQA-Verify record ``{image, question, possible_answers, image_caption, bboxs, width, height}`` drawn
    from ``rng`` (scene options as in :func:`render_scene`); ``image`` is an RGB ``uint8`` array of shape
    ``(height, width, 3)``."""
    image, background, objects = render_scene(rng, width, height, object_count, size_scale)
    question, answers, about = _ask(rng, objects, width, height)
    return {
        "image": image,
        "question": question,
        "possible_answers": answers,
        "image_caption": scene_caption(background, objects, width, height),
        "bboxs": [list(o.box) for o in about],
        "width": width,
        "height": height,
    }
