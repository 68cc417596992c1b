"""VQA-Verify records from a user's JSONL file for ``mmrl/VQAGrounding-v0``.

Each line is ``{"image": "img/1.jpg", "question": ..., "possible_answers": [...], "image_caption": ...,
"bboxs": [[x1, y1, x2, y2], ...], "width": W, "height": H}`` (SATORI-R1's VQA-Verify layout), boxes in the
original image's pixels, image paths relative to the JSONL's folder. Blank lines are skipped.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from mmrl.envs.images import check_image
from mmrl.jsonl import jsonl_objects

REQUIRED_KEYS = ("image", "question", "possible_answers", "image_caption", "bboxs", "width", "height")


def _finite(value: Any) -> bool:
    """A real number (not a bool, not NaN or infinity: JSON readers accept `Infinity` and `NaN`)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_test(key: str, test_fraction: float) -> bool:
    """Stable split assignment from a string key (sha1, not Python's per-process salted ``hash``)."""
    bucket = int.from_bytes(hashlib.sha1(key.encode("utf-8")).digest()[:8], "big") / 2.0**64
    return bucket < test_fraction


def load_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """The records of a VQA-Verify JSONL file, each with ``image`` made an absolute path; clear errors for a
    missing file, a bad line, a missing key or a missing image."""
    file = Path(path)
    records = []
    for where, record in jsonl_objects(file, "VQA records"):
        missing = [key for key in REQUIRED_KEYS if key not in record]
        if missing:
            raise ValueError(
                f"{where}: missing keys {missing} (a record needs {list(REQUIRED_KEYS)})"
            )
        image = file.parent / str(record["image"])
        if not image.is_file():
            raise FileNotFoundError(f"{where}: image not found: {image}")
        boxes = record["bboxs"]
        if not (isinstance(boxes, list) and all(isinstance(b, list) and len(b) == 4 and all(map(_finite, b))
                                                for b in boxes)):
            raise ValueError(f"{where}: bboxs must be a list of [x1, y1, x2, y2] finite numbers, "
                             f"got {boxes!r}")
        sizes = (record["width"], record["height"])
        if not all(_finite(v) and v > 0 for v in sizes):
            raise ValueError(f"{where}: width and height must be positive finite numbers, got {sizes}")
        check_image(image, where)
        if not isinstance(record["possible_answers"], list) or not record["possible_answers"]:
            raise ValueError(f"{where}: possible_answers must be a non-empty list")
        records.append({**record, "image": str(image), "key": f"{record['image']}|{record['question']}"})
    return records


def split_records(records: list[dict[str, Any]], test_fraction: float) -> dict[str, list[int]]:
    """Indices of the train and test records, split by a stable hash of each record's image and question."""
    test = [_is_test(r["key"], test_fraction) for r in records]
    return {
        "train": [i for i, t in enumerate(test) if not t],
        "test": [i for i, t in enumerate(test) if t],
    }


def load_record(record: dict[str, Any], height: int, width: int) -> dict[str, Any]:
    """The record with its image loaded as RGB, resized to ``(height, width)``, and its boxes (and ``width``,
    ``height``) scaled to that size, so the env's observation has a fixed shape."""
    with Image.open(record["image"]) as image:
        pixels = np.asarray(image.convert("RGB"))
    sx, sy = width / float(record["width"]), height / float(record["height"])
    resized = cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA)
    boxes = [[b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy] for b in record["bboxs"]]
    return {
        "image": np.ascontiguousarray(resized, dtype=np.uint8),
        "question": str(record["question"]),
        "possible_answers": [str(a) for a in record["possible_answers"]],
        "image_caption": str(record["image_caption"]),
        "bboxs": boxes,
        "width": width,
        "height": height,
    }
