"""``mmrl/VQAGrounding-v0``: visual question answering with SATORI-R1's caption, box and answer rewards."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from mmrl.envs.spaces import text_space
from mmrl.envs.vqa.records import load_jsonl, load_record, split_records
from mmrl.envs.vqa.scenes import OBJECT_COUNT, check_scene_options, procedural_record
from mmrl.formats import SATORI
from mmrl.rewards.combine import RewardWeights
from mmrl.rewards.grounding import bbox_score
from mmrl.rewards.satori import answer_score, matches_satori_format
from mmrl.vision import QWEN_MAX_PIXELS, QWEN_MIN_PIXELS

SOURCES = ("procedural", "jsonl")
SPLITS = ("train", "test")
INSTRUCTION = (
    "\nThe image is shown to you at {input_width}x{input_height} pixels (width x height); give box coordinates"
    " in those pixels. First describe the image in <caption> </caption>, then give the bounding boxes of the"
    " regions the question is about as [[x1, y1, x2, y2], ...] in <bbox> </bbox>, then give the final answer"
    " in <answer> </answer>. Output format: <caption>...</caption> <bbox>[[x1, y1, x2, y2], ...]</bbox>"
    " <answer>...</answer>"
)
MAX_RESPONSE_LENGTH = 8192
DEFAULT_REWARD_WEIGHTS = {"satori_format": 1.0, "caption": 1.0, "bbox": 1.0, "answer": 1.0}
"""SATORI-R1's four rewards, weight 1 each (``reward_weights`` merge over them)."""


@lru_cache(maxsize=64)
def model_input_size(height: int, width: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """(height, width) of the image as Qwen2-VL/Qwen2.5-VL's processor resizes it: transformers' ``smart_resize``
    (sides multiples of 28, area within [min_pixels, max_pixels], aspect ratio kept as far as possible).

    Imported on first use (transformers takes seconds to import); the torchvision-free PIL processor module
    first, since transformers 5's default one needs torchvision.
    """
    try:
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize
    except ImportError:
        from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize
    resized_height, resized_width = smart_resize(
        height, width, factor=28, min_pixels=min_pixels, max_pixels=max_pixels
    )
    return int(resized_height), int(resized_width)


def _coordinate(value: float) -> str:
    """A coordinate with at most two decimals and no trailing zeros (``12.5``, ``40``)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def satori_response(caption: str, boxes: list[list[float]], answer: str) -> str:
    """A well-formed SATORI response: ``<caption>..</caption> <bbox>[[x1, y1, x2, y2], ...]</bbox> <answer>..</answer>``."""
    listed = ", ".join("[" + ", ".join(_coordinate(v) for v in box) + "]" for box in boxes)
    return f"<caption>{caption}</caption> <bbox>[{listed}]</bbox> <answer>{answer}</answer>"


class VQAGroundingEnv(gym.Env[dict[str, Any], str]):
    """Answer a question about an image after captioning it and boxing the regions the question is about.

    ## Description
    SATORI-R1 (Shen et al., 2025, "SATORI-R1: Incentivizing Multimodal Reasoning with Spatial Grounding and
    Verifiable Rewards") as a one-step env. Each episode serves one VQA-Verify record ``{image, question,
    possible_answers, image_caption, bboxs, width, height}``: from a user's JSONL file (``source="jsonl"``,
    ``path``; see :mod:`mmrl.envs.vqa.records`) or from our procedural scene generator (``source="procedural"``,
    the default; :mod:`mmrl.envs.vqa.scenes`): 2-5 (``object_count``) flat shapes (circle, square, triangle) of
    distinct colour-and-shape, small or large, on a plain background, asked about an object's colour, a colour's count,
    an object's half of the image (left/right, top/bottom) or the relation of two objects (left of, right of,
    above); the generator writes the caption and the boxes of the objects the question is about.

    The model sees the image resized by Qwen2.5-VL's processor (``smart_resize`` with ``min_pixels`` and
    ``max_pixels``) and is told that size in the prompt; its boxes are in those pixels and are rescaled to the
    original image before scoring.

    ## Action Space
    ``text_space(8192)``: the model's whole response, expected as
    ``<caption>...</caption> <bbox>[[x1, y1, x2, y2], ...]</bbox> <answer>...</answer>``. Any string is accepted.

    ## Observation Space
    ``Dict(text=Text, image=Box(0, 255, (H, W, 3), uint8))`` with ``(H, W) = image_size``. ``text`` is the
    question followed by :data:`INSTRUCTION` (the input size and SATORI's output format). JSONL images are
    resized to ``image_size`` (their boxes scaled with them), so that size is the "original" the rewards use.
    ``system_prompt`` is None.

    ## Rewards
    ``sum(weight * component)`` over the registered rewards named in ``reward_weights``, merged over SATORI's
    ``{satori_format: 1, caption: 1, bbox: 1, answer: 1}`` (max 4.0; ``{satori_format: 0, caption: 0, bbox: 0}``
    is the answer-only baseline; a weight of 0 still reports the component). Components: ``satori_format``
    (the whole format), ``caption`` ((BLEU-4 + ROUGE-L F1)/2), ``bbox`` (IoU of the box unions, after
    rescaling), ``answer`` (exact match with a possible answer); see :mod:`mmrl.rewards.satori`. Reward functions
    get the record as columns: ``caption``, ``bboxs``, ``width``, ``height``, ``input_width``, ``input_height``,
    ``possible_answers``.

    ## Episode End
    After the first step (``terminated=True``, ``truncated=False``). Stepping again before ``reset`` raises
    ``RuntimeError``.

    ``reset`` and ``step`` info: ``expert_action`` (a perfect response: the true caption, the true boxes in the
    input's resized pixels, the first possible answer), ``admissible_actions`` (that response for each possible
    answer), ``possible_answers``, ``input_width``, ``input_height``. ``step`` info adds ``success`` (the answer is
    right), ``format_error`` (the format reward is 0), ``reward/satori_format``, ``reward/caption``, ``reward/bbox``,
    ``reward/answer`` (unweighted components) and ``iou`` (= ``reward/bbox``).

    ## Arguments
    ``source`` (``"procedural"``/``"jsonl"``), ``path`` (the JSONL file, jsonl only), ``split``
    (``"train"``/``"test"``: procedural scenes come from disjoint seed streams; JSONL records are split by a
    stable hash of image and question), ``test_fraction`` (0.2, jsonl), ``image_size`` ((height, width), default
    (240, 320)), ``min_pixels`` and ``max_pixels`` (under mmrl they come from ``model.min_pixels``/``max_pixels``, the bounds the model's processor uses;
    defaults: Qwen2.5-VL's, :mod:`mmrl.vision`),
    ``reward_weights``, ``object_count`` ((low, high), the inclusive range of objects per procedural scene, 2-5 by
    default) and ``size_scale`` (object radii times this, 1.0 by default; procedural only: fewer, larger objects
    make the boxes easier to hit), ``render_mode`` (None or ``"rgb_array"``).

    ## Version History
    * v0: initial version.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 1}
    system_prompt: str | None = None
    response_format = SATORI.name

    def __init__(
        self,
        source: str = "procedural",
        path: str | None = None,
        split: str = "train",
        test_fraction: float = 0.2,
        image_size: tuple[int, int] = (240, 320),
        min_pixels: int = QWEN_MIN_PIXELS,
        max_pixels: int = QWEN_MAX_PIXELS,
        reward_weights: dict[str, float] | None = None,
        object_count: tuple[int, int] = OBJECT_COUNT,
        size_scale: float = 1.0,
        render_mode: str | None = None,
    ) -> None:
        for name, value, allowed in (("source", source, SOURCES), ("split", split, SPLITS)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}"
            )
        if (path is None) != (source == "procedural"):
            raise ValueError(f"source={source!r} {'needs' if path is None else 'takes no'} path")
        height, width = (int(v) for v in image_size)
        if height < 32 or width < 32:
            raise ValueError(f"image_size must be (height, width) with both >= 32, got {image_size!r}")
        if not 0.0 <= test_fraction <= 1.0:
            raise ValueError(f"test_fraction must be in [0, 1], got {test_fraction!r}")
        if source == "procedural":
            check_scene_options(width, height, object_count, size_scale)
        if not 0 < min_pixels <= max_pixels:
            raise ValueError(f"need 0 < min_pixels <= max_pixels, got {min_pixels} and {max_pixels}")
        self.rewards = RewardWeights(DEFAULT_REWARD_WEIGHTS, reward_weights)
        self.reward_weights = self.rewards.weights

        self.source = source
        self.split = split
        self.object_count = (int(object_count[0]), int(object_count[1]))
        self.size_scale = float(size_scale)
        self.height, self.width = height, width
        self.input_height, self.input_width = model_input_size(
            height, width, int(min_pixels), int(max_pixels)
        )
        self.render_mode = render_mode

        self._records: list[dict[str, Any]] = []
        self._indices: list[int] = []
        extra_chars = ""
        if source == "jsonl":
            self._records = load_jsonl(path)
            self._indices = split_records(self._records, test_fraction)[split]
            if not self._indices:
                raise ValueError(f"the {split!r} split of {path} is empty (test_fraction={test_fraction})")
            extra_chars = "".join(
                sorted(
                    {
                        ch
                        for r in self._records
                        for ch in r["question"]
                        + r["image_caption"]
                        + "".join(map(str, r["possible_answers"]))
                    }
                )
            )
        instruction = INSTRUCTION.format(input_width=self.input_width, input_height=self.input_height)
        longest_question = max((len(r["question"]) for r in self._records), default=200)
        self._instruction = instruction
        self.observation_space = spaces.Dict(
            text=text_space(
                max(MAX_RESPONSE_LENGTH, longest_question + len(instruction)), extra_chars=extra_chars
            ),
            image=spaces.Box(0, 255, (height, width, 3), np.uint8),
        )
        self.action_space = text_space(MAX_RESPONSE_LENGTH, extra_chars=extra_chars)

        self._record: dict[str, Any] | None = None
        self._episode_active = False

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if self.source == "procedural":
            # Each scene has its own generator keyed by (split, a number drawn from the env's generator), so the
            # train and test streams never share a generator.
            draw = np.random.default_rng([SPLITS.index(self.split), int(self.np_random.integers(2**63))])
            record = procedural_record(draw, self.width, self.height, self.object_count, self.size_scale)
        else:
            index = self._indices[int(self.np_random.integers(len(self._indices)))]
            record = load_record(self._records[index], self.height, self.width)
        record["input_width"], record["input_height"] = self.input_width, self.input_height
        self._record = record
        self._episode_active = True
        return self._observation(), self._episode_info()

    def _episode_info(self) -> dict[str, Any]:
        record = self._record
        assert record is not None
        sx, sy = self.input_width / self.width, self.input_height / self.height
        boxes = [[b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy] for b in record["bboxs"]]
        responses = [satori_response(record["image_caption"], boxes, a) for a in record["possible_answers"]]
        return {
            "expert_action": responses[0],
            "admissible_actions": responses,
            "possible_answers": list(record["possible_answers"]),
            "input_width": self.input_width,
            "input_height": self.input_height,
        }

    def step(self, action: str):
        if not self._episode_active:
            raise RuntimeError("VQAGroundingEnv episodes last one step: call reset() before step()")
        if not isinstance(action, str):
            raise TypeError(f"the action must be the response text (str), got {type(action).__name__}")
        self._episode_active = False
        assert self._record is not None
        record = self._record
        reward, values = self.rewards.score(
            action, caption=record["image_caption"], bboxs=record["bboxs"], width=record["width"],
            height=record["height"], input_width=record["input_width"], input_height=record["input_height"],
            possible_answers=record["possible_answers"])
        info = self._episode_info() | RewardWeights.info(values)
        # What the episode achieved is measured whatever the weights (an answer-only run still reports its boxes).
        info["success"] = answer_score(action, record["possible_answers"]) == 1.0
        info["format_error"] = not matches_satori_format(action)
        info["iou"] = bbox_score(action, record["bboxs"], record["width"], record["height"], record["input_width"],
                                 record["input_height"]) or 0.0
        return self._observation(), float(reward), True, False, info

    def render(self) -> np.ndarray | None:
        if self.render_mode == "rgb_array" and self._record is not None:
            return self._record["image"].copy()
        return None

    def _observation(self) -> dict[str, Any]:
        assert self._record is not None
        return {"text": self._record["question"] + self._instruction, "image": self._record["image"].copy()}
