"""Process scores: how sound a response's reasoning steps are, as a number in [0, 1] (PROF's averaged process
value; Ye et al. 2025, "Beyond Correctness: Harmonizing Process and Outcome Rewards through RL Training",
arXiv:2509.03403).

- `RuleProcessScorer`: where the steps can be checked by rule, the share of the equations `expression = number`
  written in the thought (Countdown's and Arithmetic's intermediate steps, the formula of a Points24 thought) that
  hold exactly; 0 when the thought writes none. PROF averages a PRM's per-step values; here each equation is a step
  and its value is 1 or 0.
- `CorrectorProcessScorer`: elsewhere, a model's verdict on the thought through the GTR corrector endpoints
  (`gtr.corrector`: an OpenAI-compatible server or a local HF model): 1 when it judges the reasoning right, else 0.
"""

from __future__ import annotations

from typing import Any, Protocol

from mmrl.formats import ResponseFormat
from mmrl.judges import make_judge
from mmrl.rewards.reasoning import equation_share


class ProcessScorer(Protocol):
    def score(self, observation: str, response: str, info: dict[str, Any], response_format: ResponseFormat) -> float:
        """Process score in [0, 1] of one response (to `observation`, with the env's step `info`)."""


class RuleProcessScorer:
    def score(self, observation: str, response: str, info: dict[str, Any], response_format: ResponseFormat) -> float:
        return equation_share(response_format.thought(response))


class CorrectorProcessScorer:
    """The corrector judge's verdict (`mmrl.judges.CorrectorJudge`) as a 1/0 process score."""

    def __init__(self, gtr_cfg, device: str = "cpu"):
        self.judge = make_judge("corrector", gtr_cfg, device)

    def score(self, observation: str, response: str, info: dict[str, Any], response_format: ResponseFormat) -> float:
        return float(self.judge.judge(observation, response, info, response_format))


def make_process_scorer(name: str, gtr_cfg=None, device: str = "cpu") -> ProcessScorer:
    """The scorer named by `algo.prof_scorer`: 'rule' or 'corrector' (built from the `gtr` settings)."""
    if name == "rule":
        return RuleProcessScorer()
    if name == "corrector":
        return CorrectorProcessScorer(gtr_cfg, device)
    raise ValueError(f"algo.prof_scorer: unknown scorer {name!r} (rule or corrector)")
