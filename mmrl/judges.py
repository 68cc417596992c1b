"""Judges of a response's reasoning, for CoT-pass@k (Wen et al. 2025, "Reinforcement Learning with Verifiable
Rewards Implicitly Incentivizes Correct Reasoning in Base LLMs", arXiv:2506.14245): a sample counts only when its
answer is right *and* its reasoning is judged right.

- `RuleJudge`: where the reasoning can be checked by rule: every equation `expression = number` written in the
  thought (Countdown's and Arithmetic's intermediate steps, the formula in a Points24 thought) must hold exactly,
  and there must be at least one.
- `CorrectorJudge`: a model's verdict, through the GTR corrector endpoints (`gtr.corrector`: an OpenAI-compatible
  server or a local HF model; the oracle corrector uses the env's expert).
"""

from __future__ import annotations

from typing import Any, Protocol

from mmrl.formats import ResponseFormat
from mmrl.rewards.reasoning import equations_hold


class Judge(Protocol):
    def judge(self, observation: str, response: str, info: dict[str, Any], response_format: ResponseFormat) -> bool:
        """Whether the reasoning of `response` (to `observation`, with the env's step `info`; its thought as the env's
        response format reads it) is right."""

    def close(self) -> None:
        """Release what the judge holds (a model, a client)."""


class RuleJudge:
    def judge(self, observation: str, response: str, info: dict[str, Any], response_format: ResponseFormat) -> bool:
        return equations_hold(response_format.thought(response))

    def close(self) -> None:
        """Nothing to release."""


class CorrectorJudge:
    """A corrector's verdict on the thought (GTR's YES/NO) as the judge; no verdict counts as not right."""

    def __init__(self, corrector):
        self.corrector = corrector

    def judge(self, observation: str, response: str, info: dict[str, Any], response_format: ResponseFormat) -> bool:
        verdict = self.corrector.correct({"text": observation}, response, info, response_format)
        return bool(verdict is not None and verdict.correct)

    def close(self) -> None:
        self.corrector.close()


def make_judge(name: str, gtr_cfg=None, device: str = "cpu") -> Judge | None:
    """The judge named by `eval.cot_judge`: 'none', 'rule' or 'corrector' (built from the `gtr` settings)."""
    if name == "none":
        return None
    if name == "rule":
        return RuleJudge()
    if name == "corrector":
        from mmrl.correctors import make_corrector

        corrector = make_corrector(gtr_cfg, device)
        if corrector is None:
            raise ValueError("eval.cot_judge: corrector needs gtr.corrector set (oracle, openai or hf)")
        return CorrectorJudge(corrector)
    raise ValueError(f"eval.cot_judge: unknown judge {name!r} (none, rule or corrector)")
