"""``mmrl/Classification-v0``: image classification as a one-step RL task, after CLS-RL."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from mmrl.envs.classification.sources import (
    SHAPE_LABELS,
    SPLITS,
    DigitsSource,
    FileSource,
    ImageSource,
    ShapesSource,
)
from mmrl.envs.spaces import text_space
from mmrl.formats import PLAIN, THINK_ANSWER
from mmrl.rewards.accuracy import answer_accuracy, exact_match
from mmrl.rewards.combine import RewardWeights
from mmrl.rewards.format import think_answer_format

SOURCES = ("shapes", "digits", "folder", "jsonl")
STYLES = ("think", "no_think")
QUESTION = "What type of object is in the photo?\n Please choose one from list [ {choices} ]."
STYLE_INSTRUCTIONS = {
    "think": " Output the thinking process in <think> </think> and final answer in <answer> </answer> tags.",
    "no_think": " Please directly output the answer.",
}
DEFAULT_REWARD_WEIGHTS = {
    "think": {"think_answer_format": 1.0, "answer_accuracy": 1.0},
    "no_think": {"exact_match": 1.0},
}
MAX_RESPONSE_LENGTH = 8192


class ClassificationEnv(gym.Env[dict[str, Any], str]):
    """Pick the class of the object in an image from a listed set of classes, in one step.

    ## Description
    Image classification posed as one-step RL, following CLS-RL (Li et al., 2025, "CLS-RL: Image Classification
    with Rule-Based Reinforcement Learning") and its no-thinking variant (Li et al., 2025, "Think or Not Think").
    Each episode shows one image and asks which of the listed candidate classes it shows. Images come from a
    ``source``: ``"shapes"`` (procedural coloured shapes, no files needed), ``"digits"`` (scikit-learn's 8x8
    handwritten digits), ``"folder"`` (ImageFolder layout ``path/<class>/*.png``) or ``"jsonl"`` (lines of
    ``{"image": "a.png", "label": "cat"}``, image paths relative to the JSONL's folder).

    ## Action Space
    ``text_space(8192)``: the model's whole response. Any string is accepted; longer or unusual ones just score 0.
    With ``style="think"`` the expected response is ``<think>...</think><answer>CLASS</answer>``; with
    ``style="no_think"`` it is exactly ``CLASS``.

    ## Observation Space
    ``Dict(text=Text, image=Box(0, 255, (image_size, image_size, 3), uint8))``. ``text`` is CLS-RL's question::

        What type of object is in the photo?\\n Please choose one from list [ red circle, blue square ].

    followed by `` Output the thinking process in <think> </think> and final answer in <answer> </answer> tags.``
    (think) or `` Please directly output the answer.`` (no_think). The candidates (``num_choices`` of them, all
    classes by default) always include the true class and are shuffled every episode. ``system_prompt`` is None.

    ## Rewards
    ``sum(weight * fn([action], answer=[label], choices=[choices]))`` over the reward weights (registered names of
    :mod:`mmrl.rewards`, or ``module:name``; a ``None`` component counts 0): ``reward_weights`` merged over the
    defaults, think: ``think_answer_format`` + ``answer_accuracy`` (max 2.0); no_think: ``exact_match`` (max 1.0).

    ## Episode End
    After the first step (``terminated=True``, ``truncated=False``). Stepping again before ``reset`` raises
    ``RuntimeError``.

    ``reset`` info: ``answer`` (the true class), ``choices`` (the listed candidates, in order), ``expert_action``
    (the oracle's response), ``expert_thought`` (``"The object is <label>."``) and ``admissible_actions`` (the
    well-formed response for each candidate, in the listed order). ``step`` info: ``success``
    (the answer is right by the style's rule: ``answer_accuracy`` for think, ``exact_match`` for no_think),
    ``answer``, ``format_error`` (think: the format reward is 0; no_think: the stripped response is not one of the
    candidates) and ``reward/<name>`` for each reward component.

    ## Arguments
    ``source``, ``path`` (folder or JSONL file, for those sources), ``style`` (``"think"``/``"no_think"``),
    ``label`` (shapes only: ``"color"``, ``"shape"``, ``"shape_color"``), ``colors`` and ``shapes`` (shapes only;
    defaults: red, green, blue, yellow and circle, square, triangle), ``shape_scale`` (shapes only: the shape's
    radius range as a fraction of the image side, default (0.18, 0.34)), ``num_choices`` (None = all classes),
    ``image_size`` (56), ``split`` (``"train"``/``"test"``), ``test_fraction`` (0.2; digits, folder, jsonl),
    ``reward_weights`` (dict name -> weight, merged over the defaults; 0 turns a reward off), ``render_mode`` (None or ``"rgb_array"``: the image).

    ## Version History
    * v0: initial version.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 1}
    system_prompt: str | None = None
    response_format = THINK_ANSWER.name
    """``think_answer``; ``plain`` under ``style="no_think"`` (set per instance)."""

    def __init__(
        self,
        source: str = "shapes",
        path: str | None = None,
        style: str = "think",
        label: str = "shape_color",
        colors: list[str] | None = None,
        shapes: list[str] | None = None,
        shape_scale: tuple[float, float] | None = None,
        num_choices: int | None = None,
        image_size: int = 56,
        split: str = "train",
        test_fraction: float = 0.2,
        reward_weights: dict[str, float] | None = None,
        render_mode: str | None = None,
    ) -> None:
        for name, value, allowed in (
            ("source", source, SOURCES),
            ("style", style, STYLES),
            ("split", split, SPLITS),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}"
            )
        if not (isinstance(image_size, int) and image_size >= 8):
            raise ValueError(f"image_size must be an int >= 8, got {image_size!r}")
        if not 0.0 <= test_fraction <= 1.0:
            raise ValueError(f"test_fraction must be in [0, 1], got {test_fraction!r}")
        if source != "shapes" and (label != "shape_color" or colors is not None or shapes is not None
                                   or shape_scale is not None):
            raise ValueError("label, colors, shapes and shape_scale apply only to source='shapes'")
        if label not in SHAPE_LABELS:
            raise ValueError(f"label must be one of {SHAPE_LABELS}, got {label!r}")
        if (path is None) != (source in ("shapes", "digits")):
            raise ValueError(f"source={source!r} {'needs' if path is None else 'takes no'} path")

        self.source: ImageSource
        if source == "shapes":
            scale = {} if shape_scale is None else {"shape_scale": tuple(shape_scale)}
            self.source = ShapesSource(image_size=image_size, label=label, colors=colors, shapes=shapes, **scale)
        elif source == "digits":
            self.source = DigitsSource(image_size=image_size, test_fraction=test_fraction)
        elif source == "folder":
            self.source = FileSource.from_folder(path, image_size=image_size, test_fraction=test_fraction)
        else:
            self.source = FileSource.from_jsonl(path, image_size=image_size, test_fraction=test_fraction)
        split_indices = getattr(self.source, "split_indices", None)
        if split_indices is not None and len(split_indices[split]) == 0:
            raise ValueError(
                f"the {split!r} split of source={source!r} is empty (test_fraction={test_fraction})"
            )

        self.classes = list(self.source.classes)
        if num_choices is not None and not 1 <= num_choices <= len(self.classes):
            raise ValueError(
                f"num_choices must be in [1, {len(self.classes)}] (the number of classes), got {num_choices}"
            )
        self.rewards = RewardWeights(DEFAULT_REWARD_WEIGHTS[style], reward_weights)
        self.reward_weights = self.rewards.weights

        self.style = style
        self.response_format = (THINK_ANSWER if style == "think" else PLAIN).name
        self.split = split
        self.num_choices = num_choices
        self.image_size = image_size
        self.render_mode = render_mode

        class_chars = "".join(self.classes)
        longest_question = (
            len(QUESTION) + len(STYLE_INSTRUCTIONS[style]) + sum(len(c) + 2 for c in self.classes)
        )
        self.observation_space = spaces.Dict(
            text=text_space(max(MAX_RESPONSE_LENGTH, longest_question), extra_chars=class_chars),
            image=spaces.Box(0, 255, (image_size, image_size, 3), np.uint8),
        )
        self.action_space = text_space(MAX_RESPONSE_LENGTH, extra_chars=class_chars)

        self._question = ""
        self._image: np.ndarray | None = None
        self._label = ""
        self._choices: list[str] = []
        self._episode_active = False

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._image, self._label = self.source.sample(self.np_random, self.split)
        if self.num_choices is None:
            choices = list(self.classes)
        else:
            others = [c for c in self.classes if c != self._label]
            picked = self.np_random.choice(len(others), size=self.num_choices - 1, replace=False)
            choices = [self._label] + [others[i] for i in picked]
        self._choices = [choices[i] for i in self.np_random.permutation(len(choices))]
        self._question = QUESTION.format(choices=", ".join(self._choices)) + STYLE_INSTRUCTIONS[self.style]
        self._episode_active = True
        info = {
            "answer": self._label,
            "choices": list(self._choices),
            "expert_action": self._response(self._label),
            "expert_thought": f"The object is {self._label}.",
            "admissible_actions": [self._response(c) for c in self._choices],
        }
        return self._observation(), info

    def _response(self, label: str) -> str:
        """The well-formed response that answers `label` in this env's style."""
        if self.style == "think":
            return THINK_ANSWER.compose(f"The object is {label}.", label)
        return label

    def step(self, action: str):
        if not self._episode_active:
            raise RuntimeError("ClassificationEnv episodes last one step: call reset() before step()")
        if not isinstance(action, str):
            raise TypeError(f"the action must be the response text (str), got {type(action).__name__}")
        self._episode_active = False
        info: dict[str, Any] = {"answer": self._label}
        reward, values = self.rewards.score(action, answer=self._label, choices=list(self._choices))
        info |= RewardWeights.info(values)
        if self.style == "think":
            info["success"] = answer_accuracy([action], answer=[self._label])[0] == 1.0
            info["format_error"] = think_answer_format([action])[0] == 0.0
        else:
            info["success"] = exact_match([action], answer=[self._label])[0] == 1.0
            info["format_error"] = action.strip() not in self._choices
        return self._observation(), float(reward), True, False, info

    def render(self) -> np.ndarray | None:
        if self.render_mode == "rgb_array" and self._image is not None:
            return self._image.copy()
        return None

    def _observation(self) -> dict[str, Any]:
        assert self._image is not None
        return {"text": self._question, "image": self._image.copy()}
