"""``mmrl/Judge-v0``: the policy is the judge: say which candidate answer to a verifiable question is right."""

from __future__ import annotations

import logging
import re
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from mmrl.envs.checks import int_in_range
from mmrl.envs.spaces import TEXT_CHARSET, text_space
from mmrl.envs.text.arithmetic import random_expression
from mmrl.envs.text.expression import evaluate, format_number
from mmrl.formats import MAX_RESPONSE_LENGTH, THINK_ANSWER
from mmrl.rewards.combine import RewardWeights

log = logging.getLogger("mmrl.envs")
_NUMBER = re.compile(r"-?\d{1,9}(?:/\d{1,9})?")
_INSTRUCTION = ("\nThink step by step inside <think> </think> tags, then give only your verdict inside <answer> "
                "</answer> tags.")


def read_choice(answer: str, options: tuple[str, ...]) -> str | None:
    """The option named by ``answer`` (case-insensitive, punctuation and 'Response' around it ignored)."""
    word = answer.strip().strip(".!*\"'`()[]").lower().removeprefix("response").strip()
    return next((o for o in options if o.lower() == word), None)


class JudgeEnv(gym.Env[dict[str, Any], str]):
    """Judge candidate answers to arithmetic questions; the label comes from the exact verifier (J1-style).

    Paper: the J1 line of LLM-as-a-judge RL (Chen et al., 2025, "J1: Exploring Simple Test-Time Scaling for
    LLM-as-a-Judge"; the position-swap consistency reward of Whitehouse et al., 2025, "J1: Incentivizing
    Thinking in LLM-as-a-Judge via Reinforcement Learning"): a judge trained with verifiable rewards, where a
    pairwise verdict counts only if it survives swapping the two candidates. Simplified: the questions are
    generated arithmetic (:mod:`mmrl.envs.text.arithmetic`) and, by default, so are the candidates (the right
    value and a nearby wrong one).

    ## Description
    ``mode="pairwise"``: two turns. Turn 1 shows the question and responses A and B (one right, one wrong, in a
    random order); turn 2 shows the same pair swapped. ``mode="pointwise"``: one turn, one candidate, the verdict
    ``correct`` or ``incorrect``. With ``candidate_url`` (an OpenAI-compatible endpoint, as the GTR correctors
    use) one candidate is a model's answer (labelled by the verifier) and the other is generated with the
    opposite label; a failed request falls back to a generated candidate (``info["candidate_source"]``). A
    model's answers do not follow the env's seed.

    ## Action Space
    ``text_space(8192)``: ``<answer>A</answer>`` / ``<answer>B</answer>`` (pairwise) or ``<answer>correct</answer>``
    / ``<answer>incorrect</answer>`` (pointwise); anything else is a format error.

    ## Observation Space
    ``Dict(text=Text)``: the question, the candidate(s) and the instruction.

    ## Rewards
    ``accuracy`` on the last turn: pairwise, 1.0 iff both verdicts pick the right response (J1's position-swap
    consistency: a judge that always says "A" earns nothing); pointwise, 1.0 iff the verdict is right. Turn 1 of
    a pairwise episode gives 0.

    ## Episode End
    After the last turn. Info: ``success``, ``format_error``, ``answer`` (the right verdict), ``expert_action``
    (for the next turn), ``reward/*``, ``rate/position_consistent`` (pairwise: both verdicts name the same
    candidate) and ``rate/first_order_correct``.

    ## Arguments
    ``mode`` (``pairwise``), ``operations`` (1-6, default 2: the difficulty), ``candidate_url`` /
    ``candidate_model`` / ``timeout_s``. ``max_steps``: the runner's episode cap (it offers
    ``rollout.max_episode_steps``); pairwise needs 2.

    ## Version History
    * v0: initial version.
    """

    metadata: dict[str, Any] = {"render_modes": []}
    response_format = THINK_ANSWER.name

    def __init__(self, mode: str = "pairwise", operations: int = 2, candidate_url: str | None = None,
                 candidate_model: str = "candidate", timeout_s: float = 30.0,
                 reward_weights: dict[str, float] | None = None, max_steps: int | None = None) -> None:
        if mode not in ("pairwise", "pointwise"):
            raise ValueError(f"mode must be 'pairwise' or 'pointwise', got {mode!r}")
        if mode == "pairwise" and max_steps is not None and max_steps < 2:  # the runner's episode cap, offered
            raise ValueError(f"pairwise judging takes two turns: set rollout.max_episode_steps: 2 (got {max_steps})")
        int_in_range("operations", operations, 1, 6)
        self.mode, self.operations = mode, operations
        self.candidate_url, self.candidate_model, self.timeout_s = candidate_url, candidate_model, timeout_s
        self.rewards = RewardWeights({"accuracy": 1.0}, reward_weights)
        self.observation_space = spaces.Dict(text=text_space(1500))
        self.action_space = text_space(MAX_RESPONSE_LENGTH)
        self._client = None
        self._turn = -1

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__ | {"_client": None}  # a client does not pickle; it is rebuilt on use

    # -- candidates -------------------------------------------------------------------------------------------
    def _model_candidate(self, question: str) -> str | None:
        if self.candidate_url is None:
            return None
        try:
            if self._client is None:
                from openai import OpenAI

                self._client = OpenAI(base_url=self.candidate_url, api_key="none", timeout=self.timeout_s,
                                      max_retries=1)
            reply = self._client.chat.completions.create(
                model=self.candidate_model, messages=[{"role": "user", "content": f"{question} Reply with the "
                                                       "exact value only."}], temperature=1.0, max_tokens=32)
            text = reply.choices[0].message.content
        except Exception as err:  # noqa: BLE001 - any failure falls back to a generated candidate
            log.warning("Judge-v0 candidate request failed: %s", type(err).__name__)
            return None
        if not isinstance(text, str):
            return None
        kept = "".join(ch for ch in text.strip()[:200] if ch in TEXT_CHARSET)  # the observation space's characters
        return kept or None

    def _wrong_value(self, rng: np.random.Generator, value) -> str:
        offset = int(rng.integers(1, 4)) * (1 if rng.random() < 0.5 else -1)
        return format_number(value + offset)

    def _is_right(self, candidate: str, value) -> bool:
        found = _NUMBER.findall(candidate)
        parsed = evaluate(found[-1]) if found else None
        return parsed is not None and parsed.value == value

    # -- Gymnasium API ----------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        rng = self.np_random
        expression = random_expression(rng, self.operations, 9)
        value = evaluate(expression).value  # type: ignore[union-attr]
        self._question = f"Question: compute the exact value of {expression}."
        right, wrong = format_number(value), self._wrong_value(rng, value)
        model = self._model_candidate(self._question)
        self._source = "generated" if model is None else "model"
        if self.mode == "pointwise":
            if model is not None:
                candidate, label = model, self._is_right(model, value)
            else:
                label = bool(rng.random() < 0.5)
                candidate = right if label else wrong
            self._candidates, self._labels = [f"The answer is {candidate}." if model is None else candidate], [label]
        else:
            if model is not None:  # the model's answer, and a generated one of the opposite label
                label = self._is_right(model, value)
                pair, labels = [model, f"The answer is {wrong if label else right}."], [label, not label]
            else:
                pair, labels = [f"The answer is {right}.", f"The answer is {wrong}."], [True, False]
            order = [0, 1] if rng.random() < 0.5 else [1, 0]
            self._candidates, self._labels = [pair[i] for i in order], [labels[i] for i in order]
        self._turn, self._verdicts = 0, []
        return self._observation(), self._info()

    def _shown(self) -> tuple[list[str], list[bool]]:
        """Candidates and labels in the order of the current turn (turn 1 of pairwise: swapped)."""
        if self._turn == 1:
            return self._candidates[::-1], self._labels[::-1]
        return self._candidates, self._labels

    def _right_verdict(self) -> str:
        _, labels = self._shown()
        if self.mode == "pointwise":
            return "correct" if labels[0] else "incorrect"
        return "A" if labels[0] else "B"

    def _observation(self) -> dict[str, Any]:
        candidates, _ = self._shown()
        if self.mode == "pointwise":
            body = (f"{self._question}\nResponse: {candidates[0]}\nIs the response correct? Answer correct or "
                    "incorrect.")
        else:
            body = (f"{self._question}\nResponse A: {candidates[0]}\nResponse B: {candidates[1]}\nExactly one "
                    "response is correct. Which one? Answer A or B.")
        return {"text": body + _INSTRUCTION}

    def _info(self) -> dict[str, Any]:
        verdict = self._right_verdict()
        return {"answer": verdict, "expert_action": THINK_ANSWER.compose("I compute the value myself.", verdict),
                "expert_thought": "I compute the value myself.", "candidate_source": self._source}

    def step(self, action: str):
        if self._turn < 0:
            raise RuntimeError("call reset() before step()")
        if not isinstance(action, str):
            raise TypeError(f"the action must be the response text (str), got {type(action).__name__}")
        options = ("correct", "incorrect") if self.mode == "pointwise" else ("A", "B")
        answer = THINK_ANSWER.action(action)
        choice = None if answer is None else read_choice(answer, options)
        right = self._right_verdict()
        self._verdicts.append(choice)
        last = self.mode == "pointwise" or self._turn == 1
        info: dict[str, Any] = {"format_error": choice is None, "answer": right}
        if not last:
            self._turn = 1
            info |= {k: v for k, v in self._info().items() if k.startswith("expert")}
            return self._observation(), 0.0, False, False, info
        if self.mode == "pointwise":
            correct = choice == right
        else:
            first, second = self._verdicts
            correct = (first == ("A" if self._labels[0] else "B")) and choice == right
            picked = [first == "A", second == "B"]  # turn 2 swaps: the same candidate is A then B
            info["rate/position_consistent"] = float(first is not None and choice is not None and picked[0] ==
                                                      picked[1])
            info["rate/first_order_correct"] = float(first == ("A" if self._labels[0] else "B"))
        reward, values = self.rewards.score(action, answer=right, verdict=correct, format_error=choice is None,
                                            prompt=self._observation()["text"])
        self._turn = -1
        return self._observation(), float(reward), True, False, info | {"success": correct} | RewardWeights.info(
            values)
