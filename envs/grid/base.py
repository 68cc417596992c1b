"""What the grid puzzles share: one move per step (``up``/``down``/``left``/``right``) read from the response in
``action_tag`` (verl-agent's ``<think>...</think><action>up</action>``) or ``json`` format, the grid as text and as
an image, the reward components, and the info keys the warm-starts and GTR read (``expert_action`` after ``reset``
and after every step, ``admissible_actions``, ``good_actions``)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from mmrl.envs.spaces import text_space
from mmrl.formats import ACTION_TAG, JSON, MAX_RESPONSE_LENGTH, get_format
from mmrl.rewards.combine import RewardWeights

#: Moves and their (row, column) step.
MOVES: dict[str, tuple[int, int]] = {"up": (-1, 0), "down": (1, 0), "left": (0, -1), "right": (0, 1)}
FORMAT_INSTRUCTIONS = {
    ACTION_TAG.name: "Think inside <think> </think>, then give one action inside <action> </action>: "
                     "up, down, left or right.",
    JSON.name: 'Answer with one JSON object: {"thoughts": "your reasoning", "action": "up", "down", "left" or '
               '"right"}',
}


class GridGameEnv(gym.Env[dict[str, Any], str]):
    """Base of the grid puzzles. A subclass provides the episode (``_new_episode``), the rules (``_move``,
    ``_success``), the solver (``_plan``: a shortest move sequence from the current state, or None), the text
    (``_rules``, ``_grid_text``, ``_state_text``) and the picture (``_draw``)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}
    system_prompt: str | None = None
    default_reward_weights: dict[str, float] = {"game": 1.0, "format_error": -0.1}

    def __init__(self, max_steps: int, render_image: bool, image_size: int, response_format: str,
                 reward_weights: dict[str, float] | None, render_mode: str | None) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        if response_format not in FORMAT_INSTRUCTIONS:
            raise ValueError(f"response_format must be one of {sorted(FORMAT_INSTRUCTIONS)}, got {response_format!r}")
        if not (isinstance(max_steps, int) and max_steps >= 1):
            raise ValueError(f"max_steps must be an int >= 1, got {max_steps!r}")
        if not (isinstance(image_size, int) and image_size >= 16):
            raise ValueError(f"image_size must be an int >= 16, got {image_size!r}")
        self.max_steps = max_steps
        self.render_image = bool(render_image)
        self.image_size = image_size
        self.response_format = response_format
        self._format = get_format(response_format)
        self.rewards = RewardWeights(self.default_reward_weights, reward_weights)
        self.render_mode = render_mode
        observation = {"text": text_space(MAX_RESPONSE_LENGTH)}
        if self.render_image:
            observation["image"] = spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)
        self.observation_space = spaces.Dict(observation)
        self.action_space = text_space(MAX_RESPONSE_LENGTH)
        self._steps = 0
        self._active = False
        self._plan_cache: tuple[Any, list[str] | None] | None = None

    # -- what each puzzle provides --
    def _new_episode(self) -> None:
        raise NotImplementedError

    def _move(self, move: str) -> tuple[float, bool]:
        """Apply a move; return (game reward, terminated)."""
        raise NotImplementedError

    def _success(self) -> bool:
        raise NotImplementedError

    def _state_key(self) -> Any:
        """A hashable key of the state the solver sees (its plan is cached per key)."""
        raise NotImplementedError

    def _solve(self) -> list[str] | None:
        """A shortest move sequence from the current state to a win, or None when there is none."""
        raise NotImplementedError

    def _good_moves(self) -> list[str]:
        """Every move that starts some shortest solution (GTR's verdict); by default the plan's first."""
        plan = self._plan()
        return [plan[0]] if plan else []

    def _rules(self) -> str:
        raise NotImplementedError

    def _state_text(self) -> str:
        raise NotImplementedError

    def _draw(self) -> np.ndarray:
        raise NotImplementedError

    # -- Gymnasium API --
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._new_episode()
        self._steps = 0
        self._active = True
        self._plan_cache = None
        return self._observation(), self._info()

    def step(self, action: str):
        if not self._active:
            raise RuntimeError(f"{type(self).__name__}: the episode has ended; call reset() before step()")
        move = self.parse_move(action)
        self._steps += 1
        game_reward, terminated = (0.0, False) if move is None else self._move(move)
        truncated = not terminated and self._steps >= self.max_steps
        if terminated or truncated:
            self._active = False
        format_error = move is None
        reward, values = self.rewards.score(action, game=float(game_reward), format_error=format_error)
        info = self._info() | {"format_error": format_error} | RewardWeights.info(values)
        return self._observation(), float(reward), terminated, truncated, info

    def render(self) -> np.ndarray | None:
        return self._draw() if self.render_mode == "rgb_array" else None

    # -- helpers --
    def parse_move(self, response: Any) -> str | None:
        """The move a response gives (its action in the env's format, case-insensitive), or None."""
        action = self._format.action(response)
        if action is None:
            return None
        move = action.strip().lower()
        return move if move in MOVES else None

    def _plan(self) -> list[str] | None:
        key = self._state_key()
        if self._plan_cache is None or self._plan_cache[0] != key:
            self._plan_cache = (key, self._solve())
        return self._plan_cache[1]

    def compose(self, move: str, thought: str) -> str:
        """A well-formed response choosing ``move`` with ``thought``, in the env's format."""
        return self._format.compose(thought, move)

    def _observation(self) -> dict[str, Any]:
        text = f"{self._rules()}\n{FORMAT_INSTRUCTIONS[self.response_format]}\n"
        if self.render_image:
            text += "The current state is shown in the image.\n"
        text += f"{self._state_text()}\nMoves left: {self.max_steps - self._steps}."
        if self.render_image:
            return {"text": text, "image": self._draw()}
        return {"text": text}

    def _info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"success": self._success(), "expert_action": None, "expert_thought": None,
                                "good_actions": [], "admissible_actions": [], "solution_length": None}
        if self._active:
            plan = self._plan()
            if plan:
                n = len(plan)
                thought = f"The shortest solution from here takes {n} move{'s' if n > 1 else ''}; the next is {plan[0]}."
                info["expert_action"] = self.compose(plan[0], thought)
                info["expert_thought"] = thought
                info["solution_length"] = len(plan)
            info["good_actions"] = self._good_moves()
            info["admissible_actions"] = [self.compose(m, f"I move {m}.") for m in MOVES]
        return info
