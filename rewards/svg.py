"""SVG programs as responses (SGP): a safety screen, rendering with resvg, image similarity, a scene check.

SGP (Chen et al., 2025, "Symbolic Graphics Programming with Large Language Models") rewards an SVG program only
if it parses and renders (the format gate), then by text-image (SigLIP) and image-image (DINO) similarity of
the render. Those encoders cannot be downloaded here, so the similarity is pluggable (:data:`SIMILARITIES`, or
``module:function``) and the default, ``iou_ssim``, is computed from pixels:

    similarity = 0.5 * mean over the target's object colours of IoU(render mask, target mask)
               + 0.5 * max(0, SSIM(render, target))           (grey levels, scikit-image, data range 255)

A colour's mask holds the pixels within :data:`COLOR_TOLERANCE` (RGB distance) of it. The scene check counts, for
every palette colour, the connected regions of at least :data:`MIN_REGION` pixels of that colour in the render:
matches / (scene colours + palette colours in the render but not in the scene), where a scene colour matches when
its region count equals its number of scene objects (so a blank or a wrongly coloured drawing scores 0).

**Hostile SVG.** The response is untrusted. :func:`screen_svg` rejects (returns None) anything with a DOCTYPE or
entity declaration (so no entity expansion), and parses the rest with the standard library's expat parser (no
DTD, so no external entities); it keeps only the allow-listed shape elements and presentation attributes
(:data:`ELEMENTS`, :data:`ATTRIBUTES`), with no ``url(...)``, ``href`` or style sheet anywhere, at most
:data:`MAX_ELEMENTS` elements and :data:`MAX_SVG_CHARS` characters, and re-serialises that tree. Only the
re-serialised text reaches resvg (the renderer, from the ``resvg-py`` package), which renders it to a fixed
width x height whatever sizes the SVG declares, with system fonts skipped, in a daemon thread given
:data:`RENDER_TIMEOUT_S` seconds. So nothing a response writes can make the renderer read a file or fetch a URL.
"""

from __future__ import annotations

import importlib
import io
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

from mmrl.formats import THINK_ANSWER
from mmrl.rewards import register_reward
from mmrl.rewards.parsing import completion_text

SVG_NS = "http://www.w3.org/2000/svg"
ELEMENTS = frozenset({"svg", "g", "rect", "circle", "ellipse", "line", "polyline", "polygon", "path", "title",
                      "desc"})
ATTRIBUTES = frozenset({"width", "height", "viewBox", "x", "y", "cx", "cy", "r", "rx", "ry", "x1", "y1", "x2",
                        "y2", "points", "d", "fill", "stroke", "stroke-width", "opacity", "fill-opacity",
                        "stroke-opacity", "transform", "id", "version", "preserveAspectRatio"})
MAX_SVG_CHARS = 20_000
MAX_ELEMENTS = 300
RENDER_TIMEOUT_S = 5.0
COLOR_TOLERANCE = 60.0
MIN_REGION = 8
_DECLARATION = re.compile(r"<!\s*(doctype|entity|attlist|element)", re.IGNORECASE)
_FORBIDDEN_VALUE = re.compile(r"url\s*\(|javascript:|data:|file:|https?:", re.IGNORECASE)


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def screen_svg(text: str) -> str | None:
    """The allow-listed, re-serialised SVG of ``text``, or None when it is not a safe, well-formed SVG."""
    if not isinstance(text, str) or len(text) > MAX_SVG_CHARS or _DECLARATION.search(text):
        return None
    try:
        root = ET.fromstring(text.strip())
    except (ET.ParseError, ValueError):
        return None
    if _local(root.tag) != "svg":
        return None
    count = 0

    def copy(node: ET.Element, depth: int) -> ET.Element | None:
        nonlocal count
        count += 1
        tag = _local(node.tag) if isinstance(node.tag, str) else ""
        if count > MAX_ELEMENTS or depth > 20 or tag not in ELEMENTS or node.tag not in (tag, f"{{{SVG_NS}}}{tag}"):
            return None
        clean = ET.Element(f"{{{SVG_NS}}}{tag}")
        for key, value in node.attrib.items():
            if key not in ATTRIBUTES or len(value) > 4000 or _FORBIDDEN_VALUE.search(value):
                return None
            clean.set(key, value)
        if tag in ("title", "desc"):
            clean.text = (node.text or "")[:200]
        for child in node:
            kept = copy(child, depth + 1)
            if kept is None:
                return None
            clean.append(kept)
        return clean

    clean = copy(root, 0)
    return None if clean is None else ET.tostring(clean, encoding="unicode")


def _render_png(svg: str, width: int, height: int) -> bytes:
    import resvg_py

    return resvg_py.svg_to_bytes(svg_string=svg, width=width, height=height, background="white",
                                 skip_system_fonts=True)


@lru_cache(maxsize=256)
def render_svg(text: str, width: int, height: int) -> np.ndarray | None:
    """The ``(height, width, 3)`` uint8 render of a screened SVG on white, or None (rejected by
    :func:`screen_svg`, failed to render, or slower than :data:`RENDER_TIMEOUT_S`). Cached per text and size."""
    svg = screen_svg(text)
    if svg is None:
        return None
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["png"] = _render_png(svg, width, height)
        except Exception as err:  # noqa: BLE001 - a render failure is a format failure
            outcome["error"] = err

    worker = threading.Thread(target=work, name="mmrl-svg-render", daemon=True)
    worker.start()
    worker.join(RENDER_TIMEOUT_S)
    if "png" not in outcome:
        return None
    from PIL import Image

    image = np.asarray(Image.open(io.BytesIO(outcome["png"])).convert("RGB"))
    return image if image.shape == (height, width, 3) else None


def color_mask(image: np.ndarray, rgb: tuple[int, int, int]) -> np.ndarray:
    """Pixels within :data:`COLOR_TOLERANCE` of ``rgb``."""
    distance = np.linalg.norm(image.astype(np.float32) - np.asarray(rgb, np.float32), axis=-1)  # (H, W)
    return distance < COLOR_TOLERANCE


def iou_ssim(render: np.ndarray, target: np.ndarray, colors: list[tuple[int, int, int]]) -> float:
    """The default similarity (module docstring): half mean per-colour mask IoU, half SSIM (clipped at 0)."""
    from skimage.metrics import structural_similarity

    ious = []
    for rgb in colors:
        a, b = color_mask(render, rgb), color_mask(target, rgb)
        union = np.logical_or(a, b).sum()
        ious.append(float(np.logical_and(a, b).sum() / union) if union else 1.0)
    grey = [img.astype(np.float64) @ np.array([0.299, 0.587, 0.114]) for img in (render, target)]
    ssim = float(structural_similarity(grey[0], grey[1], data_range=255.0))
    return 0.5 * (float(np.mean(ious)) if ious else 1.0) + 0.5 * max(0.0, ssim)


#: name -> similarity(render, target, object colours) in [0, 1]; ``module:function`` names import a module's.
SIMILARITIES: dict[str, Callable[[np.ndarray, np.ndarray, list[tuple[int, int, int]]], float]] = {
    "iou_ssim": iou_ssim,
}


def get_similarity(name: str) -> Callable[..., float]:
    """The similarity ``name`` (:data:`SIMILARITIES`) or ``module:function``; ValueError naming it otherwise."""
    module, sep, short = name.rpartition(":")
    if sep:
        try:
            return getattr(importlib.import_module(module), short)
        except (ImportError, AttributeError) as err:
            raise ValueError(f"similarity {name!r}: {err}") from None
    if name not in SIMILARITIES:
        raise ValueError(f"unknown similarity {name!r}; known: {sorted(SIMILARITIES)} or module:function")
    return SIMILARITIES[name]


def region_counts(image: np.ndarray, palette: dict[str, tuple[int, int, int]]) -> dict[str, int]:
    """Connected regions (8-connectivity, at least :data:`MIN_REGION` pixels) of each palette colour."""
    from skimage.measure import label

    counts = {}
    for name, rgb in palette.items():
        labels = label(color_mask(image, rgb), connectivity=2)  # (H, W)
        sizes = np.bincount(labels.ravel())[1:]
        counts[name] = int((sizes >= MIN_REGION).sum())
    return counts


def _renders(completions: list[Any], size: list[Any] | None) -> list[np.ndarray | None]:
    if size is None:
        return [None] * len(completions)
    out = []
    for completion, wh in zip(completions, size, strict=True):
        answer = THINK_ANSWER.action(completion_text(completion))
        out.append(None if answer is None or wh is None else render_svg(answer, int(wh[0]), int(wh[1])))
    return out


def _scored_renders(completions: list[Any], size: list[Any],
                    score: Callable[[int, np.ndarray], float]) -> list[float | None]:
    """0.0 for a row whose SVG does not render (the format gate), else `score(row, render)`."""
    return [0.0 if render is None else score(i, render) for i, render in enumerate(_renders(completions, size))]


@register_reward("svg_render")
def svg_render(completions: list[Any], *, size: list[Any] | None = None, **kwargs: Any):
    """SGP's format gate: 1.0 iff the ``<answer>`` holds an SVG that passes the screen and renders at ``size``
    (``(width, height)`` per row) in time; ``None`` without a ``size`` column."""
    if size is None:
        return [None] * len(completions)
    return [float(r is not None) for r in _renders(completions, size)]


@register_reward("svg_similarity")
def svg_similarity(completions: list[Any], *, size: list[Any] | None = None, target_image: list[Any] | None = None,
                   colors: list[Any] | None = None, similarity: list[Any] | None = None, **kwargs: Any):
    """0 unless the SVG renders; then the similarity (``similarity`` column: a name, default ``iou_ssim``) of the
    render to ``target_image`` over the scene's object ``colors``."""
    if size is None or target_image is None:
        return [None] * len(completions)

    def score(i: int, render: np.ndarray) -> float:
        fn = get_similarity(similarity[i] if similarity is not None else "iou_ssim")
        row_colors = [tuple(c) for c in (colors[i] if colors is not None else [])]
        return float(np.clip(fn(render, np.asarray(target_image[i]), row_colors), 0.0, 1.0))

    return _scored_renders(completions, size, score)


@register_reward("svg_scene")
def svg_scene(completions: list[Any], *, size: list[Any] | None = None, scene_counts: list[Any] | None = None,
              palette: list[Any] | None = None, **kwargs: Any):
    """0 unless the SVG renders; then the scene check of the module docstring (``scene_counts``: objects per colour
    name in the scene; ``palette``: colour name -> RGB)."""
    if size is None or scene_counts is None or palette is None:
        return [None] * len(completions)

    def score(i: int, render: np.ndarray) -> float:
        counts = region_counts(render, {k: tuple(v) for k, v in palette[i].items()})
        wanted = {c: n for c, n in scene_counts[i].items() if n > 0}
        extra = [c for c, n in counts.items() if n > 0 and c not in wanted]
        matched = sum(counts.get(c) == n for c, n in wanted.items())
        return matched / max(1, len(wanted) + len(extra))

    return _scored_renders(completions, size, score)
