"""Image sources for ``mmrl/Classification-v0``.

A source has ``classes: list[str]`` and ``sample(rng, split) -> (image, label)``, where ``image`` is a fresh
``uint8`` array of shape ``(image_size, image_size, 3)`` (RGB) and ``label`` is one of ``classes``. All randomness
comes from ``rng`` (the env's seeded generator), so a seed fixes the sample. Splits are ``"train"`` and ``"test"``.
"""

from __future__ import annotations

import hashlib
import logging
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from mmrl.envs.images import check_image
from mmrl.jsonl import jsonl_objects

SPLITS = ("train", "test")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")

#: Colour names the ``shapes`` source can draw, as RGB. Saturated and far from the light background.
COLOR_RGB: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 160, 40),
    "blue": (30, 60, 220),
    "yellow": (235, 200, 0),
    "orange": (245, 130, 0),
    "purple": (130, 40, 170),
    "cyan": (0, 190, 210),
    "magenta": (220, 0, 180),
    "brown": (120, 70, 20),
    "black": (20, 20, 20),
    "gray": (110, 110, 110),
}
SHAPE_NAMES = ("circle", "square", "triangle", "diamond", "star")
SHAPE_LABELS = ("color", "shape", "shape_color")


class ImageSource(Protocol):
    classes: list[str]

    def sample(self, rng: np.random.Generator, split: str) -> tuple[np.ndarray, str]: ...


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def _is_test(key: str, test_fraction: float) -> bool:
    """Stable split assignment from a string key (sha1, not Python's per-process salted ``hash``)."""
    bucket = int.from_bytes(hashlib.sha1(key.encode("utf-8")).digest()[:8], "big") / 2.0**64
    return bucket < test_fraction


class ShapesSource:
    """Procedural images: one filled shape of one colour on a light, slightly noisy background.

    ``label`` picks the class: ``"color"`` (shape is a distractor), ``"shape"`` (colour is a distractor) or
    ``"shape_color"`` (e.g. ``"red circle"``). ``shape_scale`` bounds the shape's radius as a fraction of the
    image side (a larger shape is an easier image). Each sample is drawn from its own generator seeded by
    ``(split, a number drawn from rng)``, so the train and test streams never share a generator.
    """

    def __init__(
        self,
        image_size: int = 56,
        label: str = "shape_color",
        colors: list[str] | None = None,
        shapes: list[str] | None = None,
        shape_scale: tuple[float, float] = (0.18, 0.34),
    ) -> None:
        low, high = (float(v) for v in shape_scale)
        if not 0.05 <= low <= high <= 0.45:
            raise ValueError(f"shape_scale must be (low, high) with 0.05 <= low <= high <= 0.45, got {shape_scale}")
        self.shape_scale = (low, high)
        self.colors = list(colors) if colors is not None else ["red", "green", "blue", "yellow"]
        self.shapes = list(shapes) if shapes is not None else ["circle", "square", "triangle"]
        for kind, names, known in (("color", self.colors, COLOR_RGB), ("shape", self.shapes, SHAPE_NAMES)):
            unknown = [name for name in names if name not in known]
            if unknown or not names or len(set(names)) != len(names):
                raise ValueError(f"{kind}s must be distinct names from {sorted(known)}, got {names}")
        if label not in SHAPE_LABELS:
            raise ValueError(f"label must be one of {SHAPE_LABELS}, got {label!r}")
        self.image_size = image_size
        self.label = label
        if label == "color":
            self.classes = list(self.colors)
        elif label == "shape":
            self.classes = list(self.shapes)
        else:
            self.classes = [f"{color} {shape}" for color in self.colors for shape in self.shapes]

    def sample(self, rng: np.random.Generator, split: str) -> tuple[np.ndarray, str]:
        _check_split(split)
        draw = np.random.default_rng([SPLITS.index(split), int(rng.integers(2**63))])
        color = self.colors[draw.integers(len(self.colors))]
        shape = self.shapes[draw.integers(len(self.shapes))]
        label = {"color": color, "shape": shape, "shape_color": f"{color} {shape}"}[self.label]
        return self._draw(draw, color, shape), label

    def _draw(self, rng: np.random.Generator, color: str, shape: str) -> np.ndarray:
        size = self.image_size
        background = rng.integers(215, 251, size=3)
        image = np.empty((size, size, 3), dtype=np.uint8)
        image[:] = background
        radius = rng.uniform(*self.shape_scale) * size
        center = rng.uniform(radius + 1, size - radius - 1, size=2)
        angle = rng.uniform(0, 2 * np.pi)
        rgb = tuple(int(c) for c in COLOR_RGB[color])
        if shape == "circle":
            cv2.circle(image, tuple(int(round(c)) for c in center), int(round(radius)), rgb, -1, cv2.LINE_AA)
        else:
            # Regular polygons (square: 4 corners; diamond: a square stood on a corner; star: 10 alternating radii),
            # rotated by a small random angle except the diamond, whose orientation is what names it.
            corners = {"square": 4, "diamond": 4, "triangle": 3, "star": 10}[shape]
            spin = {"diamond": 0.0}.get(shape, (angle % (np.pi / 6)) - np.pi / 12)
            offset = {"square": np.pi / 4, "diamond": 0.0, "triangle": -np.pi / 2, "star": -np.pi / 2}[shape]
            theta = offset + spin + np.arange(corners) * 2 * np.pi / corners
            radii = (
                np.where(np.arange(corners) % 2 == 1, 0.45 * radius, radius) if shape == "star" else radius
            )
            points = np.stack([center[0] + radii * np.cos(theta), center[1] + radii * np.sin(theta)], axis=1)
            cv2.fillPoly(image, [np.round(points).astype(np.int32)], rgb, cv2.LINE_AA)
        noise = rng.integers(-6, 7, size=image.shape)
        return np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)


@lru_cache(maxsize=1)
def _digit_images() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # bundled with scikit-learn; no download

    digits = load_digits()
    # 0..16 ink intensity -> dark ink on a white background, as uint8.
    images = (255 - np.round(digits.images * (255 / 16))).astype(np.uint8)
    images.setflags(write=False)
    targets = digits.target.astype(np.int64)
    targets.setflags(write=False)
    return images, targets


class DigitsSource:
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images), upscaled (nearest) to RGB ``image_size``.

    The split is a fixed permutation (seed 0) of the indices: the first ``round(test_fraction * n)`` are test.
    """

    def __init__(self, image_size: int = 56, test_fraction: float = 0.2) -> None:
        images, targets = _digit_images()
        self.image_size = image_size
        self.classes = [str(digit) for digit in range(10)]
        order = np.random.default_rng(0).permutation(len(images))
        n_test = int(round(test_fraction * len(images)))
        self.split_indices = {"test": np.sort(order[:n_test]), "train": np.sort(order[n_test:])}

    def sample(self, rng: np.random.Generator, split: str) -> tuple[np.ndarray, str]:
        _check_split(split)
        indices = self.split_indices[split]
        if len(indices) == 0:
            raise ValueError(f"the digits {split!r} split is empty; change test_fraction")
        return self.image(int(indices[rng.integers(len(indices))]))

    def image(self, index: int) -> tuple[np.ndarray, str]:
        images, targets = _digit_images()
        big = cv2.resize(images[index], (self.image_size, self.image_size), interpolation=cv2.INTER_NEAREST)
        return np.repeat(big[:, :, None], 3, axis=2), str(targets[index])


_WARNED: set[str] = set()


def _warn_once(message: str) -> None:
    """Log `message` once per process (every env copy loads the same folder)."""
    if message not in _WARNED:
        _WARNED.add(message)
        logging.getLogger("mmrl.envs").warning("warning: %s", message)


class FileSource:
    """Image files with labels, split by a stable hash of each file's key (its path as listed).

    Build it with :meth:`from_folder` (ImageFolder layout ``root/<class>/*.png``) or :meth:`from_jsonl` (lines of
    ``{"image": path, "label": name}``, paths relative to the JSONL's folder). Images load lazily with PIL.
    """

    def __init__(
        self,
        items: list[tuple[str, Path, str]],
        *,
        origin: str,
        image_size: int = 56,
        test_fraction: float = 0.2,
    ) -> None:
        if not items:
            raise ValueError(f"no images found in {origin}")
        self.origin = origin
        self.image_size = image_size
        self.files = [path for _, path, _ in items]
        self.labels = [label for _, _, label in items]
        self.classes = sorted(set(self.labels))
        test = [_is_test(key, test_fraction) for key, _, _ in items]
        self.split_indices = {
            "train": np.array([i for i, is_test in enumerate(test) if not is_test], dtype=np.int64),
            "test": np.array([i for i, is_test in enumerate(test) if is_test], dtype=np.int64),
        }

    @classmethod
    def from_folder(cls, root: str | Path, *, image_size: int = 56, test_fraction: float = 0.2) -> FileSource:
        root = Path(root)
        if not root.is_dir():
            raise ValueError(f"image folder {str(root)!r} does not exist or is not a directory")
        items, empty = [], []
        for class_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            found = [file for file in sorted(class_dir.iterdir())
                     if file.is_file() and file.suffix.lower() in IMAGE_EXTENSIONS]
            for file in found:
                check_image(file, f"image folder {str(root)!r}")
                items.append((f"{class_dir.name}/{file.name}", file, class_dir.name))
            if not found:
                empty.append(class_dir.name)
        if empty and items:
            _warn_once(f"image folder {str(root)!r}: class folder(s) {', '.join(empty)} hold no "
                       f"{'/'.join(sorted(IMAGE_EXTENSIONS))} image and are left out of the classes")
        return cls(
            items,
            origin=f"folder {str(root)!r} (expected <class>/*.png|jpg|jpeg|bmp)",
            image_size=image_size,
            test_fraction=test_fraction,
        )

    @classmethod
    def from_jsonl(cls, file: str | Path, *, image_size: int = 56, test_fraction: float = 0.2) -> FileSource:
        file = Path(file)
        items = []
        for where, record in jsonl_objects(file, "labelled images"):
            if not isinstance(record.get("image"), str) or "label" not in record:
                raise ValueError(f'{where}: expected an object like {{"image": "path.png", "label": "cat"}}')
            label = record["label"]
            if not isinstance(label, (str, int)) or isinstance(label, bool) or not str(label).strip():
                raise ValueError(f"{where}: label must be a non-empty string, got {label!r}")
            image = file.parent / record["image"]  # an absolute path replaces the folder
            if not image.is_file():
                raise ValueError(f"{where}: image file {str(image)!r} does not exist")
            check_image(image, where)
            items.append((record["image"], image, str(label)))
        return cls(
            items, origin=f"JSONL file {str(file)!r}", image_size=image_size, test_fraction=test_fraction
        )

    def sample(self, rng: np.random.Generator, split: str) -> tuple[np.ndarray, str]:
        _check_split(split)
        indices = self.split_indices[split]
        if len(indices) == 0:
            raise ValueError(
                f"the {split!r} split of {self.origin} is empty; add images or change test_fraction"
            )
        return self.image(int(indices[rng.integers(len(indices))]))

    def image(self, index: int) -> tuple[np.ndarray, str]:
        from PIL import Image

        path = self.files[index]
        try:
            with Image.open(path) as opened:
                rgb = opened.convert("RGB").resize(
                    (self.image_size, self.image_size), Image.Resampling.BILINEAR
                )
        except OSError as error:
            raise ValueError(f"cannot read image {str(path)!r}: {error}") from error
        return np.asarray(rgb, dtype=np.uint8).copy(), self.labels[index]
