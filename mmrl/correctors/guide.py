"""One GTR step over a batch of finished episodes: ask the corrector about every turn, apply GTR's options
(truncation, format reward), and turn the corrections into thought-cloning examples.

The runner plays episodes to the end in batches, so GTR's truncation is applied afterwards: the episode is cut at
the first off-path turn, which gets `truncate_reward` and ends the episode. What the trainer learns from is then
exactly what stopping the episode there would have produced; only the env steps after the cut were wasted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from mmrl.config import GTRConfig
from mmrl.correctors.base import Correction, Corrector
from mmrl.correctors.dagger import Clone
from mmrl.models.policy import Policy
from mmrl.rollout.calls import run_calls
from mmrl.rollout.runner import Episode


@dataclass
class GuideResult:
    clones: list[Clone] = field(default_factory=list)
    stats: dict[str, float] = field(default_factory=dict)


def observation_text(prompt_messages: list[dict]) -> str:
    """The text of the last user message of a prompt: the observation the policy answered."""
    content = prompt_messages[-1]["content"]
    if isinstance(content, str):
        return content
    return "\n".join(part["text"] for part in content if part.get("type") == "text")


def state_info(episode: Episode, t: int) -> dict[str, Any]:
    """The env's info for the state turn `t` acted in: the reset info, or the previous step's."""
    return episode.reset_info if t == 0 else episode.turns[t - 1].info


def ask_corrector(corrector: Corrector, episodes: list[Episode], cfg: GTRConfig) -> list[list[Correction | None]]:
    """The corrector's verdict on every turn (None where it failed, timed out or gave no verdict)."""
    calls, where = [], []
    for i, ep in enumerate(episodes):
        for t, turn in enumerate(ep.turns):
            if "env_error" in turn.info:
                continue
            observation = {"text": observation_text(turn.prompt.messages)}
            if turn.prompt.images:  # the image the policy saw with this observation
                observation["image"] = turn.prompt.images[-1]
            calls.append(partial(corrector.correct, observation, turn.completion.text, state_info(ep, t),
                                 ep.response_format))
            where.append((i, t))
    outcomes = run_calls(calls, cfg.workers, cfg.timeout_s, "corrector") if calls else []
    verdicts: list[list[Correction | None]] = [[None] * len(ep.turns) for ep in episodes]
    for (i, t), outcome in zip(where, outcomes):
        if isinstance(outcome, Correction):
            verdicts[i][t] = outcome
    return verdicts


def guide(episodes: list[Episode], verdicts: list[list[Correction | None]], policy: Policy, cfg: GTRConfig
          ) -> GuideResult:
    """Apply the verdicts to `episodes` (in place: truncation, format reward) and build the cloning examples: the
    corrected response's thought tokens (before its action, split by the episode's response format) are cloned."""
    result = GuideResult()
    n_turns = n_verdicts = n_wrong = n_truncated = 0
    for ep, ep_verdicts in zip(episodes, verdicts):
        if cfg.truncate:
            cut = next((t for t, v in enumerate(ep_verdicts) if v is not None and v.off_path), None)
            if cut is not None and not ep.turns[cut].info.get("success", False):
                del ep.turns[cut + 1 :]
                del ep_verdicts[cut + 1 :]
                ep.turns[cut].reward = cfg.truncate_reward
                ep.turns[cut].info["gtr_truncated"] = True
                ep.truncated = False  # ended by the trainer: no bootstrapping from the next state
                n_truncated += 1
        for turn, verdict in zip(ep.turns, ep_verdicts):
            n_turns += 1
            if cfg.format_reward and turn.info.get("format_error") is False:
                turn.reward += cfg.format_reward
            if verdict is None:
                continue
            n_verdicts += 1
            n_wrong += not verdict.correct
            turn.info["gtr_verdict"] = "YES" if verdict.correct else "NO"
            if verdict.correct or verdict.response is None:
                continue
            turn.info["gtr_thought"] = ep.response_format.thought(turn.completion.text)
            turn.info["gtr_corrected_thought"] = verdict.thought
            ids = policy.encode_completion(verdict.response)
            split = ep.response_format.action_token_start(ids, policy.decode)
            if split == 0:  # no action found in the corrected response: nothing to mask, nothing to clone
                continue
            result.clones.append(Clone(turn.prompt, ids, [1.0] * split + [0.0] * (len(ids) - split)))
            turn.info["gtr_cloned_tokens"] = split  # thought tokens cloned (shown in samples.jsonl)
    result.stats = {
        "gtr/verdict_rate": n_verdicts / max(n_turns, 1),
        "gtr/wrong_rate": n_wrong / max(n_verdicts, 1),
        "gtr/correction_rate": len(result.clones) / max(n_turns, 1),
        "gtr/truncated_episodes": n_truncated / max(len(episodes), 1),
    }
    return result
