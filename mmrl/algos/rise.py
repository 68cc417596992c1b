"""RISE: online self-verification on top of GRPO ("RISE: Reinforcing Reasoning with Self-Verification", 2025; from
its abstract in the project's seed-paper notes).

Each step, after the solutions are played and scored by the env's outcome verifier, `algo.verify_per_group`
solutions of every group (right and wrong alternately, when the group has both) become verification prompts
(`mmrl.verification.pointwise_messages`: the problem, the solution, "is it correct?"). The policy answers each
`algo.verify_samples` times; a verification response earns 1 when its verdict matches the verifier's label, else
0. Verification responses of one prompt form one group: GRPO's advantage within it, times `algo.verify_coef`. The
solution samples and the verification samples go through the same clipped policy-gradient update.

Logged: `rise/solve_accuracy` (share of solutions the verifier accepted) and `rise/verify_accuracy` (share of
verification responses whose verdict matched), plus the verdict-readable share and the accuracy on right and on
wrong solutions separately.

Simplified from the paper: the verdict is a 1/0 in the answer tag (RISE asks for a score in a box), and the
verification prompts are made from a fixed number of solutions per group.
"""

from __future__ import annotations

import numpy as np
import torch

from mmrl.algos.advantages import group_relative_advantages
from mmrl.algos.base import Sample, StepTools
from mmrl.algos.grpo import GRPO
from mmrl.verification import pick_balanced, pointwise_messages, pointwise_verdict, verification_reward

VERIFY_ROUND = 1
"""`StepTools.generate` round of the verification responses."""


def verification_samples(episodes, chosen: list[int], tools: StepTools, n_samples: int, round_: int = VERIFY_ROUND
                         ) -> list[Sample]:
    """`n_samples` sampled pointwise verifications of the last turn of each episode in `chosen`, labelled with the
    episode's outcome (extra: verify_label, verdict, verify_reward); consecutive samples of one episode are a group."""
    prompts = []
    for i in chosen:
        turn = episodes[i].turns[-1]
        prompts.append(tools.policy.encode(pointwise_messages(turn.prompt.messages, turn.completion.text),
                                           turn.prompt.images))
    repeated = [p for p in prompts for _ in range(n_samples)]
    completions = tools.generate(repeated, round_)
    samples = []
    for k, completion in enumerate(completions):
        episode = chosen[k // n_samples]
        label = episodes[episode].success
        verdict = pointwise_verdict(completion.text)
        samples.append(Sample(repeated[k], completion.token_ids, episode, 0, rollout_logprobs=completion.logprobs,
                              extra={"verify_label": label, "verdict": verdict,
                                     "verify_reward": verification_reward(verdict, label)}))
    return samples


def verifiable(episodes, indices, skip: set[int] = frozenset()) -> list[int]:
    """The indices among `indices` whose episode can be judged: it has a turn, its env did not fail (its success says
    nothing then) and its env index is not in `skip`."""
    return [i for i in indices
            if episodes[i].turns and episodes[i].error is None and episodes[i].request.env_index not in skip]


def choose_for_verification(episodes, group_size: int, per_group: int, rng: np.random.Generator,
                            skip: set[int] = frozenset()) -> list[int]:
    """Indices of `per_group` episodes of every group, right and wrong alternately, among its `verifiable` ones."""
    chosen = []
    for g in range(0, len(episodes), group_size):
        members = verifiable(episodes, range(g, min(g + group_size, len(episodes))), skip)
        right = [i for i in members if episodes[i].success]
        wrong = [i for i in members if not episodes[i].success]
        rng.shuffle(right)
        rng.shuffle(wrong)
        chosen += pick_balanced(right, wrong, per_group)
    return chosen


def verification_stats(samples: list[Sample], prefix: str) -> dict[str, float]:
    """Verification accuracy overall, on right and on wrong solutions, and the share of readable verdicts."""
    if not samples:
        return {}
    rewards = np.array([s.extra["verify_reward"] for s in samples])
    labels = np.array([bool(s.extra["verify_label"]) for s in samples])
    stats = {f"{prefix}/verify_accuracy": float(rewards.mean()),
             f"{prefix}/verdict_readable": float(np.mean([s.extra["verdict"] is not None for s in samples])),
             f"{prefix}/verify_samples": float(len(samples))}
    if labels.any():
        stats[f"{prefix}/verify_accuracy_on_right"] = float(rewards[labels].mean())
    if (~labels).any():
        stats[f"{prefix}/verify_accuracy_on_wrong"] = float(rewards[~labels].mean())
    return stats


def verification_advantages(samples: list[Sample], group: int, coef: float, normalize_std: bool) -> None:
    """Set each verification sample's advantage: GRPO over its group of `group` consecutive samples, times coef."""
    if not samples:
        return
    rewards = torch.tensor([s.extra["verify_reward"] for s in samples])  # (V,)
    adv = group_relative_advantages(rewards, group, normalize_std) * coef  # (V,)
    for s, a in zip(samples, adv.tolist()):
        s.advantage = float(a)


class RISE(GRPO):
    name = "rise"
    prefix = "rise"

    def extra_samples(self, episodes, tools: StepTools) -> tuple[list[Sample], dict[str, float]]:
        algo = self.cfg.algo
        rng = np.random.default_rng([self.cfg.train.seed, tools.step, 17])
        chosen = choose_for_verification(episodes, self.group_size, algo.verify_per_group, rng)
        return verification_samples(episodes, chosen, tools, algo.verify_samples), {}

    def advantages(self, episodes, samples: list[Sample]) -> dict[str, float]:
        solutions = [s for s in samples if "verify_label" not in s.extra]
        verifications = [s for s in samples if "verify_label" in s.extra]
        stats = super().advantages(episodes, solutions)
        verification_advantages(verifications, self.cfg.algo.verify_samples, self.cfg.algo.verify_coef,
                                self.cfg.algo.advantage == "grpo")
        solved = [ep.success for ep in episodes]
        stats[f"{self.prefix}/solve_accuracy"] = float(np.mean(solved)) if solved else 0.0
        return stats | verification_stats(verifications, self.prefix)
