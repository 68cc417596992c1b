"""What every GTR corrector shares: the `Corrector` contract, the `Correction` it returns, and how a corrected
thought is put back into a response.

GTR (Wei et al. 2025, "GTR: Guided Thought Reinforcement Prevents Thought Collapse in RL-based VLM Agent
Training") checks the thought of every env step and, when it is wrong, writes a better one. The corrected thought
plus the policy's *own* action becomes a supervised label whose action tokens are masked, so cloning teaches how
to think and PPO alone decides what to do.

A corrector sees what the policy saw and what it answered: ``correct(observation, response, info)`` with ``info``
the env's info for that state (``expert_action``/``expert_thought`` where the env has an expert). It returns a
`Correction`, or ``None`` for "no verdict" (a timeout, a failed request, an unreadable reply); training then goes
on without one. DESIGN.md's contract returns the corrected response alone; the verdict and the off-path flag are
returned too because GTR's truncation rule needs them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from mmrl.envs.cards.answer import last_json_object


@dataclass
class Correction:
    correct: bool
    """The corrector's verdict on the thought (GTR's evaluation YES/NO)."""
    thought: str | None = None
    """The corrected thought when the verdict is NO and a correction exists."""
    response: str | None = None
    """The corrected response: the policy's response with `thought` in place of its own (its action kept)."""
    off_path: bool = False
    """The step left every solution (no solution, invalid action): GTR truncates the episode here."""


class Corrector(Protocol):
    def correct(self, observation: Any, response: str, info: dict[str, Any]) -> Correction | None:
        """The verdict on `response` to `observation` (its info: `info`), or None for no verdict."""
        ...

    def close(self) -> None:
        ...


def thought_of(response: str) -> str:
    """The thought in a response: the ``"thoughts"`` field of its last JSON object (RL4VLM's format), else the
    text inside ``<think>...</think>``, else the text before the last JSON object or ``<answer>`` tag."""
    obj = last_json_object(response)
    if obj is not None and isinstance(obj.get("thoughts"), str):
        return obj["thoughts"]
    if "<think>" in response and "</think>" in response:
        return response.split("<think>", 1)[1].split("</think>", 1)[0].strip()
    for mark in ("<answer>", "{"):
        if mark in response:
            return response[: response.rfind(mark)].strip()
    return response.strip()


def with_thought(response: str, thought: str, fields: dict[str, Any] | None = None) -> str | None:
    """`response` with its thought replaced by `thought` (and any JSON `fields` set), its action untouched; None
    when the response has no action to keep (then there is nothing to clone)."""
    obj = last_json_object(response)
    if obj is not None and "action" in obj:
        fixed = {k: v for k, v in obj.items() if k not in ("thoughts", "action")}
        fixed |= {k: v for k, v in (fields or {}).items() if k not in ("thoughts", "action")}
        fixed["thoughts"] = thought
        fixed["action"] = obj["action"]  # the action goes last, so its tokens follow the thought's
        return json.dumps(fixed)
    if "<answer>" in response:
        return f"<think>{thought}</think>" + response[response.rfind("<answer>") :]
    return None
