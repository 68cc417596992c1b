"""The one-step text task shared by every env in :mod:`mmrl.envs.text`: a question, one response, a rule verdict."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from mmrl.envs.spaces import text_space
from mmrl.formats import MAX_RESPONSE_LENGTH, THINK_ANSWER
from mmrl.rewards.combine import RewardWeights

DEFAULT_REWARD_WEIGHTS = {"accuracy": 1.0}
"""The verifier's verdict: 1 for a right answer (``reward_weights`` merge over it)."""
#: Appended to every question: the answer format all text tasks share.
INSTRUCTION = (
    "\nThink step by step inside <think> </think> tags, then give only the final answer inside "
    "<answer> </answer> tags."
)


@dataclass
class Problem:
    """One generated task instance.

    ``question`` is shown to the model (without the shared instruction), ``answer`` is the reference answer as
    text (reported in ``info["answer"]``), ``expert_answer`` is what an oracle puts inside ``<answer>`` and
    ``expert_thought`` its reasoning, ``data`` whatever the verifier needs (plain Python values only).
    """

    question: str
    answer: str
    expert_answer: str
    expert_thought: str
    data: Any = None


class TextTaskEnv(gym.Env[dict[str, Any], str]):
    """Base of the one-step text tasks. Subclasses implement :meth:`generate` and :meth:`check`.

    ``reset`` draws a :class:`Problem` from ``self.np_random``; ``step`` takes the whole response, reads its
    ``<answer>`` tag and asks :meth:`check` for a verdict: ``True`` (right), ``False`` (well-formed but wrong) or
    ``None`` (the answer cannot be read: a format error). Reward: the registered rewards named in
    ``reward_weights`` (a constructor argument of every text env) merged over ``{"accuracy": 1.0}`` (1.0 for a right
    answer), each reported as ``reward/<name>``; they get the columns ``answer``, ``verdict``, ``format_error`` and ``prompt`` (the question).
    """

    metadata: dict[str, Any] = {"render_modes": []}
    system_prompt: str | None = None
    response_format = THINK_ANSWER.name
    #: Longest question a subclass can produce (characters, before the instruction).
    max_question_length: int = 4000
    #: Characters outside :data:`mmrl.envs.spaces.TEXT_CHARSET` that questions may contain.
    question_chars: str = ""

    def __init__(self, reward_weights: dict[str, float] | None = None) -> None:
        self.rewards = RewardWeights(DEFAULT_REWARD_WEIGHTS, reward_weights)
        self.observation_space = spaces.Dict(
            text=text_space(self.max_question_length + len(INSTRUCTION), extra_chars=self.question_chars)
        )
        self.action_space = text_space(MAX_RESPONSE_LENGTH)
        self._problem: Problem | None = None
        self._episode_active = False

    # -- to implement -------------------------------------------------------------------------------------------
    def generate(self, rng: np.random.Generator) -> Problem:
        """A new problem drawn with ``rng``."""
        raise NotImplementedError

    def check(self, answer: str, problem: Problem) -> bool | None:
        """Is ``answer`` (the ``<answer>`` content) right for ``problem``? ``None`` when it cannot be read.
        Must never raise and never execute anything."""
        raise NotImplementedError

    def reward_columns(self, problem: Problem) -> dict[str, Any]:
        """Extra columns the registered rewards receive besides ``answer``/``verdict``/``format_error``."""
        return {}

    def rates(self, answer: str | None, problem: Problem) -> dict[str, float]:
        """Extra ``rate/<name>`` step-info entries (0/1 each) that training averages over the episodes reporting
        them, e.g. one per constraint kind. ``answer`` is ``None`` on a format error. Must never raise."""
        return {}

    # -- Gymnasium API ------------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._problem = self.generate(self.np_random)
        self._episode_active = True
        info = {
            "answer": self._problem.answer,
            "expert_action": THINK_ANSWER.compose(self._problem.expert_thought, self._problem.expert_answer),
            "expert_thought": self._problem.expert_thought,
        }
        return self._observation(), info

    def step(self, action: str):
        if not self._episode_active or self._problem is None:
            raise RuntimeError(f"{type(self).__name__} episodes last one step: call reset() before step()")
        if not isinstance(action, str):
            raise TypeError(f"the action must be the response text (str), got {type(action).__name__}")
        self._episode_active = False
        answer = THINK_ANSWER.action(action)
        verdict = None if answer is None else self.verdict(answer)
        reward, values = self.rewards.score(action, answer=self._problem.answer, verdict=verdict,
                                            format_error=verdict is None, prompt=self._problem.question,
                                            **self.reward_columns(self._problem))
        info = {"success": verdict is True, "format_error": verdict is None, "answer": self._problem.answer}
        return self._observation(), float(reward), True, False, info | RewardWeights.info(values) | self.rates(
            answer, self._problem
        )

    def verdict(self, answer: str) -> bool | None:
        """:meth:`check` for the current problem, with any exception of a subclass counted as unreadable."""
        assert self._problem is not None
        try:
            result = self.check(answer, self._problem)
        except Exception:  # noqa: BLE001 - a verifier bug must not crash a rollout; it scores a format error
            return None
        return None if result is None else bool(result)

    def _observation(self) -> dict[str, Any]:
        assert self._problem is not None
        return {"text": self._problem.question + INSTRUCTION}
