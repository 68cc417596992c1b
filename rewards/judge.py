"""A model judge as a reward: RLBFF-style binary principles asked of any OpenAI-compatible chat endpoint.

RLBFF (Wang et al., 2025, "RLBFF: Binary Flexible Feedback to bridge between Human Feedback & Verifiable
Rewards"): a response is judged against principles that have a yes/no answer ("the answer is correct", "the
response is concise"); the reward is the weighted share of principles answered yes. Simplified: the judge is any
chat model prompted per principle (RLBFF trains a dedicated reward model), one request per principle.

The endpoint is the kind the GTR correctors use (``gtr.corrector: openai``): a local ``vllm serve`` server, a
stand-in, or a hosted API, through the ``openai`` client. Each request has a timeout; a failed request or an
unreadable reply (not starting with yes/no) is retried ``retries`` times; if a principle still has no verdict
the reward is ``None`` (not applicable; an env counts it 0). The judge's reply is untrusted text: only its first
word is read.

Two ways to use it:

- ``make_judge_reward(name, base_url=..., model=..., principles={...})`` registers a reward ``name`` that any
  env can weight in ``reward_weights`` (envs/YAML name it; the module that calls this must be imported first,
  e.g. ``reward_weights: {"mymodule:myjudge": 1.0}``).
- the built-in ``judge`` reward reads its settings from the environment when first called:
  ``MMRL_JUDGE_URL`` (base URL, required), ``MMRL_JUDGE_MODEL`` (default ``judge``), ``MMRL_JUDGE_PRINCIPLES``
  (a JSON object principle -> weight; default :data:`DEFAULT_PRINCIPLES`), ``MMRL_JUDGE_API_KEY_ENV`` (the
  name of the variable holding the key; none for a local server), ``MMRL_JUDGE_TIMEOUT_S`` (default 30),
  ``MMRL_JUDGE_RETRIES`` (default 2). Unset ``MMRL_JUDGE_URL`` gives ``None`` for every row.

Columns: ``prompt`` (the question the response answers; text envs pass it) and ``answer`` (a reference, shown
to the judge when given).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from typing import Any

from mmrl.rewards import RewardFn, register_reward
from mmrl.rewards.parsing import completion_text

log = logging.getLogger("mmrl.rewards")

DEFAULT_PRINCIPLES = {"The response answers the prompt correctly.": 1.0}
SYSTEM = ("You judge one response against one principle. Read the prompt, the response (and the reference answer "
          "when one is given) and the principle. Reply with Yes if the response satisfies the principle, else No. "
          "Reply with the single word Yes or No.")
#: Longest prompt / response / reference text sent to the judge (characters; longer text is cut).
MAX_TEXT = 6000


def principle_messages(prompt: str, response: str, principle: str, reference: str | None) -> list[dict[str, str]]:
    """The chat request that asks whether ``response`` to ``prompt`` satisfies ``principle``."""
    parts = [f"Prompt:\n{prompt[:MAX_TEXT]}", f"Response:\n{response[:MAX_TEXT]}"]
    if reference is not None:
        parts.append(f"Reference answer:\n{reference[:MAX_TEXT]}")
    parts.append(f"Principle: {principle}\nDoes the response satisfy the principle? Yes or No.")
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


def read_yes_no(text: Any) -> bool | None:
    """True/False for a reply whose first word is yes/no (any case, punctuation around it), else None."""
    if not isinstance(text, str):
        return None
    first = text.strip()[:20].split(maxsplit=1)
    word = first[0].strip(".,!:;*\"'`").lower() if first else ""
    return {"yes": True, "no": False}.get(word)


class PrincipleJudge:
    """Asks an OpenAI-compatible chat endpoint one yes/no question per principle; see the module docstring."""

    def __init__(self, base_url: str | None, model: str, principles: Mapping[str, float] | None = None,
                 api_key_env: str | None = None, timeout_s: float = 30.0, retries: int = 2,
                 temperature: float = 0.0):
        principles = dict(DEFAULT_PRINCIPLES if principles is None else principles)
        if not principles or any(not isinstance(p, str) or not p.strip() for p in principles):
            raise ValueError(f"judge principles must be non-empty strings, got {list(principles)!r}")
        if any(isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0 for w in principles.values()) or \
                sum(principles.values()) <= 0:
            raise ValueError(f"judge principle weights must be >= 0 with a positive sum, got {principles!r}")
        if not (isinstance(retries, int) and retries >= 0) or not timeout_s > 0:
            raise ValueError(f"judge needs timeout_s > 0 and retries >= 0, got {timeout_s!r}, {retries!r}")
        key = os.environ.get(api_key_env) if api_key_env else None
        if api_key_env and key is None:
            raise ValueError(f"judge: the API key variable ${api_key_env} is not set")
        from openai import OpenAI

        # The client's own retries are off: ours also cover unreadable replies, and bound the time per principle.
        self.client = OpenAI(base_url=base_url, api_key=key or "none", timeout=timeout_s, max_retries=0)
        self.model, self.principles, self.retries, self.temperature = model, principles, retries, temperature

    def verdict(self, prompt: str, response: str, principle: str, reference: str | None) -> bool | None:
        """The judge's yes/no on one principle, or None after ``retries`` + 1 failed or unreadable attempts."""
        for _ in range(self.retries + 1):
            try:
                reply = self.client.chat.completions.create(
                    model=self.model, messages=principle_messages(prompt, response, principle, reference),
                    temperature=self.temperature, max_tokens=4,
                )
                answer = read_yes_no(reply.choices[0].message.content)
            except Exception as err:  # noqa: BLE001 - any failure is "no verdict"; the key is never logged
                log.warning("judge request failed: %s", type(err).__name__)
                continue
            if answer is not None:
                return answer
        return None

    def score(self, prompt: str, response: str, reference: str | None = None) -> float | None:
        """Weighted share of principles answered yes; None when one has no verdict."""
        total = 0.0
        for principle, weight in self.principles.items():
            answer = self.verdict(prompt, response, principle, reference)
            if answer is None:
                return None
            total += weight * answer
        return total / sum(self.principles.values())

    def __call__(self, completions: list[Any], *, prompt: list[Any] | None = None, answer: list[Any] | None = None,
                 **kwargs: Any) -> list[float | None]:
        prompts = prompt if prompt is not None else [""] * len(completions)
        references = answer if answer is not None else [None] * len(completions)
        return [self.score(str(p or ""), completion_text(c), None if r is None else str(r))
                for c, p, r in zip(completions, prompts, references, strict=True)]

    def close(self) -> None:
        self.client.close()


def make_judge_reward(name: str, **settings: Any) -> RewardFn:
    """Register (and return) a judge reward ``name`` built from :class:`PrincipleJudge`'s ``settings``."""
    judge = PrincipleJudge(**settings)

    def reward(completions: list[Any], **columns: Any) -> list[float | None]:
        return judge(completions, **columns)

    reward.__name__ = name
    reward.judge = judge  # type: ignore[attr-defined]
    return register_reward(name)(reward)


_ENV_JUDGE: dict[str, PrincipleJudge | None] = {}
_ENV_LOCK = threading.Lock()


def judge_from_environment() -> PrincipleJudge | None:
    """The judge configured by the ``MMRL_JUDGE_*`` variables (built once per process), or None without a URL."""
    with _ENV_LOCK:
        if "judge" not in _ENV_JUDGE:
            url = os.environ.get("MMRL_JUDGE_URL")
            if not url:
                log.warning("the 'judge' reward needs MMRL_JUDGE_URL; it returns None")
                _ENV_JUDGE["judge"] = None
            else:
                principles = os.environ.get("MMRL_JUDGE_PRINCIPLES")
                _ENV_JUDGE["judge"] = PrincipleJudge(
                    url, os.environ.get("MMRL_JUDGE_MODEL", "judge"),
                    json.loads(principles) if principles else None, os.environ.get("MMRL_JUDGE_API_KEY_ENV"),
                    float(os.environ.get("MMRL_JUDGE_TIMEOUT_S", "30")), int(os.environ.get("MMRL_JUDGE_RETRIES", "2")),
                )
        return _ENV_JUDGE["judge"]


def reset_environment_judge() -> None:
    """Forget the judge built from the environment (tests, or after changing the variables)."""
    with _ENV_LOCK:
        judge = _ENV_JUDGE.pop("judge", None)
    if judge is not None:
        judge.close()


@register_reward("judge")
def judge(completions: list[Any], **columns: Any) -> list[float | None]:
    """The RLBFF principle judge configured by the ``MMRL_JUDGE_*`` environment variables (module docstring)."""
    configured = judge_from_environment()
    return [None] * len(completions) if configured is None else configured(completions, **columns)
