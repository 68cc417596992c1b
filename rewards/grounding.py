"""Grounding rewards: how well do the boxes in a response cover the true regions?

The ``bbox`` reward is SATORI-R1's (Shen et al., 2025, "SATORI-R1: Incentivizing Multimodal Reasoning with
Spatial Grounding and Verifiable Rewards"): area(union of predicted boxes ∩ union of true boxes) / area(union of
both). The model sees a resized image (Qwen2.5-VL's ``smart_resize``), so its boxes are in the resized image's
pixels; they are rescaled to the original image before scoring.

Box conventions (all of them documented here, used by the reward and by :func:`union_iou`):

* A box is ``[x1, y1, x2, y2]`` in pixel-edge coordinates: it covers pixels ``x1 .. x2-1`` and ``y1 .. y2-1``.
* Predicted coordinates are rescaled to the original size, then rounded to the nearest integer (half up), so the
  score is computed exactly on the original image's integer pixel grid (areas are counted exactly by coordinate
  compression, never by sampling).
* Swapped corners (``x2 < x1`` or ``y2 < y1``) are normalised by swapping them back.
* Boxes are clipped to the image; a box with zero area after clipping (a line, a point, or one wholly outside
  the image) is dropped.
* Parsing is tolerant and our own (numbers only, never ``eval``): every ``[a, b, c, d]`` group of four numbers
  inside the last ``<bbox>...</bbox>`` counts; anything else there is ignored. No usable box scores 0.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from mmrl.rewards import register_reward
from mmrl.rewards.parsing import completion_text, extract_tag

Box = tuple[float, float, float, float]

#: Coordinates are clamped to +-this before rounding, so cell areas stay exact in int64 whatever the input.
COORDINATE_LIMIT = 2**24
#: At most this many boxes of a response are scored (the first ones); bounds the cost of hostile responses.
MAX_BOXES = 64

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_BOX = re.compile(r"\[\s*" + r"\s*,\s*".join([f"({_NUMBER})"] * 4) + r"\s*\]")


def parse_boxes(text: str, limit: int = MAX_BOXES) -> list[Box]:
    """Every ``[x1, y1, x2, y2]`` group of four finite numbers in ``text``, in order, at most ``limit`` of them.

    Tolerant of the outer list and of junk between boxes (``[[1,2,3,4], foo, [5, 6, 7, 8]]`` gives two boxes);
    linear in ``len(text)``.
    """
    boxes: list[Box] = []
    for match in _BOX.finditer(text):
        values = tuple(float(group) for group in match.groups())
        if all(math.isfinite(v) for v in values):
            boxes.append(values)  # type: ignore[arg-type]
            if len(boxes) >= limit:
                break
    return boxes


def rescale_boxes(boxes: Iterable[Sequence[float]], sx: float, sy: float) -> list[Box]:
    """Boxes with x coordinates multiplied by ``sx`` and y coordinates by ``sy``."""
    return [(b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy) for b in boxes]


def _to_grid(box: Sequence[float], width: int | None, height: int | None) -> tuple[int, int, int, int] | None:
    """The box normalised (corners sorted), rounded half up to integers and clipped; None if it has no area or a
    coordinate is not finite."""
    try:
        values = [float(v) for v in box[:4]]
    except (TypeError, ValueError, OverflowError):
        return None
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        return None
    x1, y1, x2, y2 = (math.floor(min(max(v, -COORDINATE_LIMIT), COORDINATE_LIMIT) + 0.5) for v in values)
    x1, x2 = sorted((x1, x2))
    y1, y2 = sorted((y1, y2))
    if width is not None:
        x1, x2 = min(max(x1, 0), width), min(max(x2, 0), width)
    if height is not None:
        y1, y2 = min(max(y1, 0), height), min(max(y2, 0), height)
    return (x1, y1, x2, y2) if x2 > x1 and y2 > y1 else None


def union_iou(
    predicted: Iterable[Sequence[float]],
    truth: Iterable[Sequence[float]],
    width: int | None = None,
    height: int | None = None,
) -> float:
    """area(∪predicted ∩ ∪truth) / area(∪predicted ∪ ∪truth) on the integer pixel grid (module docstring).

    Both sets are normalised, rounded and clipped to ``width`` x ``height`` (no clipping where None). Areas are
    exact: the plane is cut at every box edge and each cell is marked covered by either union. 0.0 when the
    union is empty.
    """
    pred = [g for g in (_to_grid(b, width, height) for b in predicted) if g is not None]
    true = [g for g in (_to_grid(b, width, height) for b in truth) if g is not None]
    if not pred or not true:
        return 0.0
    xs = np.unique([c for b in pred + true for c in (b[0], b[2])])
    ys = np.unique([c for b in pred + true for c in (b[1], b[3])])
    cell_area = np.outer(np.diff(ys), np.diff(xs))  # (Y-1, X-1)

    def cover(boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
        mask = np.zeros(cell_area.shape, dtype=bool)
        for x1, y1, x2, y2 in boxes:
            i1, i2 = np.searchsorted(ys, (y1, y2))
            j1, j2 = np.searchsorted(xs, (x1, x2))
            mask[i1:i2, j1:j2] = True
        return mask

    pred_mask, true_mask = cover(pred), cover(true)
    union = int(cell_area[pred_mask | true_mask].sum())
    return int(cell_area[pred_mask & true_mask].sum()) / union if union else 0.0


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def bbox_score(
    completion: Any,
    boxes: Any,
    width: Any = None,
    height: Any = None,
    input_width: Any = None,
    input_height: Any = None,
) -> float | None:
    """The ``bbox`` reward of one completion (see :func:`bbox`); None when ``boxes`` gives no true box."""
    try:
        truth = [tuple(float(v) for v in box) for box in boxes]
        if not truth or any(len(box) != 4 for box in truth):
            return None
    except (TypeError, ValueError, OverflowError):
        return None
    content = extract_tag(completion_text(completion), "bbox")
    if content is None:
        return 0.0
    predicted = parse_boxes(content)
    w, h, iw, ih = (_number(v) for v in (width, height, input_width, input_height))
    sx = w / iw if w is not None and iw is not None else 1.0
    sy = h / ih if h is not None and ih is not None else 1.0
    grid_w = None if w is None else round(w)
    grid_h = None if h is None else round(h)
    return union_iou(rescale_boxes(predicted, sx, sy), truth, grid_w, grid_h)


@register_reward("bbox")
def bbox(
    completions: list[Any],
    *,
    bboxs: list[Any] | None = None,
    width: list[Any] | None = None,
    height: list[Any] | None = None,
    input_width: list[Any] | None = None,
    input_height: list[Any] | None = None,
    **kwargs: Any,
) -> list[float | None]:
    """SATORI-R1's box reward: union-IoU of the boxes in ``<bbox>`` (rescaled from the model's input size
    ``input_width`` x ``input_height`` to the original ``width`` x ``height``) with the true ``bboxs`` (original
    pixels). Conventions in the module docstring; missing tag or no parseable box → 0.0; a row without true boxes
    → None; no ``bboxs`` column at all → 0.0 for every row. Missing size columns mean no rescaling (and no
    clipping, for the original size)."""
    n = len(completions)
    if bboxs is None:
        return [0.0] * n
    columns = [col if col is not None else [None] * n for col in (width, height, input_width, input_height)]
    return [
        bbox_score(c, b, w, h, iw, ih)
        for c, b, w, h, iw, ih in zip(completions, bboxs, *columns, strict=True)
    ]
