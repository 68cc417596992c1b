"""``TryAgain``: turn a one-step env into a multi-turn one with unary feedback, after UFO ("Try Again").

Liu et al., 2025, "A Simple 'Try Again' Can Elicit Multi-Turn LLM Reasoning" (lichengliu03/unary-feedback): after
a wrong answer the model sees the question again with "Incorrect. Please think again."; the episode stops on a
right answer or after ``max_turns``. Reward at turn t (from 0) is ``gamma**t`` if right, else 0; an invalid format
costs 0.1; at the episode's end ``-lambda * (1 - unique answers / answers)`` penalises
repeating an answer. Evaluated with succ@k (:func:`mmrl.metrics.succ_at_k`), solved within k turns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from mmrl.formats import ResponseFormat, format_of
from mmrl.rewards.combine import RewardWeights
from mmrl.rewards.parsing import normalize_answer

DEFAULT_FEEDBACK = "Incorrect. Please think again."
DEFAULT_REWARD_WEIGHTS = {"solved": 1.0, "format_error": -0.1, "repetition": -0.5}
"""UFO's reward: gamma**t for a right answer at turn t, -0.1 per invalid format, -lambda (0.5) times the share of
repeated answers at the end (``reward_weights`` merge over it)."""
#: Info keys of the inner env's expert, repeated at every turn (the problem does not change).
EXPERT_KEYS = ("expert_action", "expert_thought")
#: Between the original observation text and the feedback.
FEEDBACK_SEPARATOR = "\n\n"
#: Longest normalised answer kept in ``info["answers"]`` (longer ones are cut; compared after cutting).
MAX_KEPT_ANSWER_LENGTH = 2000


def response_answer(response: str, response_format: ResponseFormat) -> str:
    """The answer a response gives, for the repetition penalty: its action in the inner env's format (the whole
    response without one), normalised with :func:`normalize_answer`."""
    action = response_format.action(response)
    return normalize_answer(response if action is None else action)[:MAX_KEPT_ANSWER_LENGTH]


class TryAgain(gym.Wrapper):
    """Multi-turn "try again" episodes over a one-step env.

    ## Description
    Each episode is one problem of the inner env, answered up to ``max_turns`` times. After a wrong answer the
    next observation is the original one (image kept) with ``feedback`` appended to its text after a blank line;
    with a ``feedback_pool`` the text is drawn from the pool each time, with the wrapper's own generator (seeded
    by ``reset(seed=...)``). The inner env must be seeded-deterministic (every registered mmrl env is): each turn
    it is reset with the episode's seed (and ``reset`` options), which restores the same problem, then stepped with
    the new response.

    ## Action Space
    The inner env's: the model's whole response.

    ## Observation Space
    The inner env's ``Dict``, with a ``text`` space long enough for the feedback and holding its characters.

    ## Rewards
    A weighted sum of registered rewards, ``reward_weights`` merged over UFO's ``{solved: 1.0, format_error: -0.1,
    repetition: -0.5}``: ``solved`` is ``gamma**t`` at turn ``t`` (from 0) when the inner env reports
    ``success``, else 0; ``format_error`` is 1 when the inner info has a true ``format_error``; ``repetition`` is,
    at the last turn, ``1 - unique answers / answers`` (answers: the actions in the inner env's response format
    (:mod:`mmrl.formats`), or the whole responses, normalised with :func:`normalize_answer`). Reward functions get
    the columns ``solved_discount``, ``format_error``, ``repetition`` and ``answer`` (the inner info's). The inner
    env's own reward is not used; it stays in ``info["inner_reward"]``.

    ## Episode End
    Terminated on success or after ``max_turns`` turns. ``step`` info: the inner env's step info, plus
    ``success`` (this turn's answer is right), ``turn`` (this turn, from 0), ``succ_turn`` (the turn solved, or
    None), ``answers`` (normalised answers so far), ``inner_reward`` and ``reward/<name>`` for every reward
    component (unweighted); ``expert_action`` / ``expert_thought``: the inner env's (from its reset: the problem
    is the same at every turn) while the episode goes on, None at its end. ``reset`` info: the inner env's, plus
    ``turn=0``.

    ## Arguments
    ``env`` (a one-step env with ``Dict(text=...)`` observations), ``max_turns`` (5), ``gamma`` (0.5),
    ``reward_weights`` (merged over UFO's, above), ``feedback``
    ("Incorrect. Please think again."), ``feedback_pool`` (a list of feedback texts, or None).

    ## Version History
    * v0: initial version.
    """

    def __init__(
        self,
        env: gym.Env,
        max_turns: int = 5,
        gamma: float = 0.5,
        reward_weights: dict[str, float] | None = None,
        feedback: str = DEFAULT_FEEDBACK,
        feedback_pool: Sequence[str] | None = None,
    ) -> None:
        super().__init__(env)
        if not (isinstance(max_turns, int) and max_turns >= 1):
            raise ValueError(f"max_turns must be an int >= 1, got {max_turns!r}")
        if feedback_pool is not None and (
            len(feedback_pool) == 0 or not all(isinstance(text, str) for text in feedback_pool)
        ):
            raise ValueError("feedback_pool must be a non-empty list of strings (or None)")
        inner_space = env.observation_space
        if not (isinstance(inner_space, spaces.Dict) and isinstance(inner_space.get("text"), spaces.Text)):
            raise TypeError(
                f"TryAgain needs an env with Dict(text=Text, ...) observations, got {inner_space}"
            )
        self.max_turns = max_turns
        self._format = format_of(env)
        self.gamma = float(gamma)
        self.rewards = RewardWeights(DEFAULT_REWARD_WEIGHTS, reward_weights)
        self.feedback = feedback
        self.feedback_pool = None if feedback_pool is None else list(feedback_pool)

        texts = [feedback] if self.feedback_pool is None else self.feedback_pool
        text_space: spaces.Text = inner_space["text"]
        extra = "".join(
            dict.fromkeys(c for c in "".join(texts) + FEEDBACK_SEPARATOR if c not in text_space.character_set)
        )
        self.observation_space = spaces.Dict(
            {
                **{key: space for key, space in inner_space.spaces.items() if key != "text"},
                "text": spaces.Text(
                    max_length=text_space.max_length + len(FEEDBACK_SEPARATOR) + max(map(len, texts)),
                    min_length=text_space.min_length,
                    charset=text_space.characters + extra,
                ),
            }
        )
        self._rng: np.random.Generator | None = None
        self._episode_seed = 0
        self._options: dict[str, Any] | None = None
        self._first_observation: dict[str, Any] | None = None
        self._turn = 0
        self._answers: list[str] = []
        self._succ_turn: int | None = None
        self._episode_active = False
        self._expert: dict[str, Any] = {}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
            self._episode_seed = int(seed)
        else:
            if self._rng is None:
                self._rng = np.random.default_rng()
            self._episode_seed = int(self._rng.integers(2**31 - 1))
        self._options = options
        observation, info = self.env.reset(seed=self._episode_seed, options=options)
        self._first_observation = observation
        self._expert = {k: info[k] for k in EXPERT_KEYS if k in info}
        self._turn = 0
        self._answers = []
        self._succ_turn = None
        self._episode_active = True
        return self._copy(observation), {**info, "turn": 0}

    def step(self, action: str):
        if not self._episode_active or self._first_observation is None:
            raise RuntimeError("the TryAgain episode is over: call reset() before step()")
        if self._turn > 0:  # restore the same problem: the one-step inner env ended its episode last turn
            self.env.reset(seed=self._episode_seed, options=self._options)
        _, inner_reward, _, _, inner_info = self.env.step(action)
        turn = self._turn
        success = bool(inner_info.get("success", False))
        self._answers.append(response_answer(action, self._format) if isinstance(action, str) else "")
        if success:
            self._succ_turn = turn
        self._turn += 1
        terminated = success or self._turn >= self.max_turns
        repeated = 1.0 - len(set(self._answers)) / len(self._answers) if terminated else 0.0
        reward, values = self.rewards.score(action, solved_discount=self.gamma**turn if success else 0.0,
                                            format_error=bool(inner_info.get("format_error", False)),
                                            repetition=repeated, answer=inner_info.get("answer"))
        info = {
            **inner_info,
            **RewardWeights.info(values),
            "success": success,
            "turn": turn,
            "succ_turn": self._succ_turn,
            "answers": list(self._answers),
            "inner_reward": float(inner_reward),
            **{k: None if terminated else v for k, v in self._expert.items()},
        }
        observation = self._copy(self._first_observation)
        if terminated:
            self._episode_active = False
        else:
            observation["text"] = observation["text"] + FEEDBACK_SEPARATOR + self._next_feedback()
        return observation, float(reward), terminated, False, info

    def _next_feedback(self) -> str:
        if self.feedback_pool is None:
            return self.feedback
        assert self._rng is not None
        return self.feedback_pool[int(self._rng.integers(len(self.feedback_pool)))]

    @staticmethod
    def _copy(observation: dict[str, Any]) -> dict[str, Any]:
        return {
            key: value.copy() if isinstance(value, np.ndarray) else value
            for key, value in observation.items()
        }


def make_try_again(env_id: str, *, try_again: dict[str, Any] | None = None,
                   reward_weights: dict[str, float] | None = None, **env_kwargs: Any) -> TryAgain:
    """``TryAgain(inner, reward_weights=reward_weights, **try_again)`` around the registered one-step env
    ``env_id`` built with ``env_kwargs`` (the bare env, without Gymnasium's checker wrappers: ``gym.make`` adds its
    own around the result). ``reward_weights`` are the wrapper's: its reward is the one trained on."""
    inner = gym.make(env_id, **env_kwargs).unwrapped
    return TryAgain(inner, reward_weights=reward_weights, **(try_again or {}))


def make_try_again_countdown(*, try_again: dict[str, Any] | None = None, **env_kwargs: Any) -> TryAgain:
    """Entry point of ``mmrl/TryAgain-Countdown-v0``: ``mmrl/Countdown-v0`` (``env_kwargs``: count, low, high)
    wrapped in :class:`TryAgain` (``try_again``: its keyword arguments, e.g. ``{"max_turns": 3}``)."""
    return make_try_again("mmrl/Countdown-v0", try_again=try_again, **env_kwargs)


def make_try_again_classification(*, try_again: dict[str, Any] | None = None, **env_kwargs: Any) -> TryAgain:
    """Entry point of ``mmrl/TryAgain-Classification-v0``: ``mmrl/Classification-v0`` (``env_kwargs``: its
    arguments) wrapped in :class:`TryAgain` (``try_again``: its keyword arguments)."""
    return make_try_again("mmrl/Classification-v0", try_again=try_again, **env_kwargs)


def make_try_again_math_qa(*, try_again: dict[str, Any] | None = None, **env_kwargs: Any) -> TryAgain:
    """Entry point of ``mmrl/TryAgain-MathQA-v0``: ``mmrl/MathQA-v0`` (``env_kwargs``: path) wrapped in
    :class:`TryAgain` (``try_again``: its keyword arguments)."""
    return make_try_again("mmrl/MathQA-v0", try_again=try_again, **env_kwargs)
