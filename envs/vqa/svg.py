"""``mmrl/SVG-v0``: write the SVG program of a described scene of shapes (SGP, symbolic graphics programming)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from mmrl.envs.checks import int_in_range
from mmrl.envs.spaces import text_space
from mmrl.envs.vqa.scenes import BACKGROUNDS, COLORS, SceneObject, render_scene
from mmrl.formats import MAX_RESPONSE_LENGTH, THINK_ANSWER
from mmrl.rewards.combine import RewardWeights
from mmrl.rewards.svg import get_similarity, render_svg

DEFAULT_REWARD_WEIGHTS = {"svg_render": 0.1, "svg_similarity": 0.45, "svg_scene": 0.45}


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def shape_element(obj: SceneObject) -> str:
    """The SVG element of one scene object, from its tight pixel box."""
    x1, y1, x2, y2 = obj.box
    fill = _hex(COLORS[obj.color])
    if obj.shape == "circle":
        return f'<circle cx="{(x1 + x2) / 2:g}" cy="{(y1 + y2) / 2:g}" r="{(x2 - x1) / 2:g}" fill="{fill}"/>'
    if obj.shape == "square":
        return f'<rect x="{x1}" y="{y1}" width="{x2 - x1}" height="{y2 - y1}" fill="{fill}"/>'
    return f'<polygon points="{(x1 + x2) / 2:g},{y1} {x1},{y2} {x2},{y2}" fill="{fill}"/>'


def scene_svg(background: str, objects: list[SceneObject], width: int, height: int) -> str:
    """The SVG program of a scene (the expert answer)."""
    body = "".join(shape_element(o) for o in objects)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
            f'<rect width="{width}" height="{height}" fill="{_hex(BACKGROUNDS[background])}"/>{body}</svg>')


def describe(obj: SceneObject) -> str:
    x1, y1, x2, y2 = obj.box
    if obj.shape == "circle":
        return f"a {obj.color} circle centred at ({(x1 + x2) / 2:g}, {(y1 + y2) / 2:g}) with radius {(x2 - x1) / 2:g}"
    if obj.shape == "square":
        return f"a {obj.color} square from ({x1}, {y1}) to ({x2}, {y2})"
    return f"a {obj.color} triangle pointing up with corners ({(x1 + x2) / 2:g}, {y1}), ({x1}, {y2}), ({x2}, {y2})"


class SVGEnv(gym.Env[dict[str, Any], str]):
    """Write SVG code that draws a described scene of coloured shapes (SGP).

    Paper: Chen et al., 2025, "Symbolic Graphics Programming with Large Language Models" (SGP): RL with a
    format-validity gate (the SVG must parse and render) and a cross-modal reward from SigLIP / DINO similarity of
    the render. Simplified: the scenes are :mod:`mmrl.envs.vqa.scenes`' flat shapes described with their
    coordinates, and the similarity is computed from pixels (:mod:`mmrl.rewards.svg`: per-colour mask IoU plus
    SSIM) because the encoders cannot be downloaded offline; ``similarity`` plugs in another one.

    ## Description
    A scene of 2-5 shapes (circle, square, triangle; six colours) on a plain background of ``width`` x
    ``height`` pixels. The prompt lists the background and each shape's geometry; with ``show_image`` the
    observation also holds the picture. The target is the resvg render of the scene's own SVG.

    ## Action Space
    ``text_space(8192)``: ``<think>...</think><answer><svg ...>...</svg></answer>``.

    ## Observation Space
    ``Dict(text=Text)``, plus ``image=Box(0, 255, (height, width, 3), uint8)`` with ``show_image``.

    ## Rewards
    ``svg_render`` (0.1): the gate, 1.0 iff the SVG passes the safety screen and renders in time. ``svg_similarity``
    (0.45) and ``svg_scene`` (0.45): 0 unless it renders; then the similarity to the target and the scene check (region
    counts per colour against the scene's) (:mod:`mmrl.rewards.svg`). So an unrenderable answer
    scores 0.

    ## Episode End
    After the first step. Info: ``success`` (the render matches: similarity >= 0.9 and scene check 1.0),
    ``format_error`` (no answer or no render), ``answer`` (the scene's SVG), ``reward/*``.

    ## Arguments
    ``width``/``height`` (32-256, default 64), ``object_count`` (default (2, 3): the difficulty),
    ``show_image`` (default False), ``similarity`` (default ``iou_ssim``).

    ## Version History
    * v0: initial version.
    """

    metadata: dict[str, Any] = {"render_modes": []}
    response_format = THINK_ANSWER.name

    def __init__(self, width: int = 64, height: int = 64, object_count: tuple[int, int] = (2, 3),
                 show_image: bool = False, similarity: str = "iou_ssim",
                 reward_weights: dict[str, float] | None = None) -> None:
        for name, value in (("width", width), ("height", height)):
            int_in_range(name, value, 32, 256)
        low, high = (int(v) for v in object_count)
        if not 2 <= low <= high <= 5:
            raise ValueError(f"object_count must be (low, high) with 2 <= low <= high <= 5, got {object_count!r}")
        get_similarity(similarity)  # fail early on a typo
        try:
            import resvg_py  # noqa: F401
            import skimage  # noqa: F401
        except ImportError as err:
            raise ImportError(f"mmrl/SVG-v0 needs the svg extra: pip install 'mmrl-vlm[svg]' ({err})") from None
        self.width, self.height, self.object_count = width, height, (low, high)
        self.show_image, self.similarity = bool(show_image), similarity
        self.rewards = RewardWeights(DEFAULT_REWARD_WEIGHTS, reward_weights)
        fields: dict[str, spaces.Space] = {"text": text_space(1500)}
        if self.show_image:
            fields["image"] = spaces.Box(0, 255, (height, width, 3), np.uint8)
        self.observation_space = spaces.Dict(fields)
        self.action_space = text_space(MAX_RESPONSE_LENGTH)
        self._scene: dict[str, Any] | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        _, background, objects = render_scene(self.np_random, self.width, self.height, self.object_count)
        svg = scene_svg(background, objects, self.width, self.height)
        target = render_svg(svg, self.width, self.height)
        assert target is not None  # the expert's SVG always passes the screen
        text = (f"Write an SVG image of {self.width} x {self.height} pixels: a {background} background "
                f"({_hex(BACKGROUNDS[background])}) with " + "; ".join(describe(o) for o in objects)
                + ". Colours: " + ", ".join(f"{o.color} {_hex(COLORS[o.color])}" for o in objects)
                + ".\nThink inside <think> </think> tags, then give only the SVG code inside <answer> </answer> tags.")
        self._scene = {"svg": svg, "target": target, "text": text,
                       "counts": dict(Counter(o.color for o in objects)),
                       "colors": [list(COLORS[c]) for c in dict.fromkeys(o.color for o in objects)]}
        info = {"answer": svg, "expert_action": THINK_ANSWER.compose("I draw the background, then each shape.", svg),
                "expert_thought": "I draw the background, then each shape."}
        return self._observation(), info

    def _observation(self) -> dict[str, Any]:
        assert self._scene is not None
        obs: dict[str, Any] = {"text": self._scene["text"]}
        if self.show_image:
            obs["image"] = self._scene["target"].copy()
        return obs

    def step(self, action: str):
        if self._scene is None:
            raise RuntimeError("call reset() before step()")
        if not isinstance(action, str):
            raise TypeError(f"the action must be the response text (str), got {type(action).__name__}")
        scene = self._scene
        reward, values = self.rewards.score(
            action, size=(self.width, self.height), target_image=scene["target"], colors=scene["colors"],
            similarity=self.similarity, scene_counts=scene["counts"],
            palette={k: list(v) for k, v in COLORS.items()}, answer=scene["svg"], prompt=scene["text"],
        )
        rendered = values.get("svg_render", 0.0) == 1.0
        success = rendered and values.get("svg_similarity", 0.0) >= 0.9 and values.get("svg_scene", 0.0) == 1.0
        info = {"success": bool(success), "format_error": not rendered, "answer": scene["svg"]}
        observation = self._observation()
        self._scene = None
        return observation, float(reward), True, False, info | RewardWeights.info(values)
