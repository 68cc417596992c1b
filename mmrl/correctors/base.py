"""What every GTR corrector shares: the `Corrector` contract, the `Correction` it returns, and how a corrected
thought is put back into a response.

GTR (Wei et al. 2025, "GTR: Guided Thought Reinforcement Prevents Thought Collapse in RL-based VLM Agent
Training") checks the thought of every env step and, when it is wrong, writes a better one. The corrected thought
plus the policy's *own* action becomes a supervised label whose action tokens are masked, so cloning teaches how
to think and PPO alone decides what to do.

A corrector sees what the policy saw and what it answered: ``correct(observation, response, info, response_format)``
with ``info`` the env's info for that state (``expert_action``/``expert_thought`` where the env has an expert) and
``response_format`` the env's :class:`mmrl.formats.ResponseFormat` (how thought and action split). It returns a
`Correction`, or ``None`` for "no verdict" (a timeout, a failed request, an unreadable reply); training then goes
on without one. DESIGN.md's contract returns the corrected response alone; the verdict and the off-path flag are
returned too because GTR's truncation rule needs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from mmrl.formats import ResponseFormat


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
    def correct(self, observation: Any, response: str, info: dict[str, Any],
                response_format: ResponseFormat) -> Correction | None:
        """The verdict on `response` (in `response_format`) to `observation` (its info: `info`), or None for no
        verdict."""
        ...

    def close(self) -> None:
        ...


def check_formats(formats: dict[str, ResponseFormat]) -> None:
    """Raise ConfigError naming the first env (by name) whose response format has no thought: GTR corrects
    thoughts, so it needs a format that separates one from the action."""
    from mmrl.config import ConfigError

    for name, fmt in formats.items():
        if not fmt.has_thought:
            raise ConfigError(f"gtr.corrector needs envs whose responses carry a thought; {name} answers in the "
                              f"'{fmt.name}' response format (no thought to correct)")
