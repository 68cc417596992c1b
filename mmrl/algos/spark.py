"""SPARK: the policy as its own reward model, on top of GRPO (Liu et al. 2025, "SPARK: Synergistic Policy And
Reward Co-Evolving Framework"; from its abstract).

Rollouts of envs with a verifier are recycled into generative verification data, trained in the same update as
the solutions (RLVR on the judgements, as RISE does): pointwise ("is this solution correct?", `algo.verify_per_group`
solutions per group) and, when a group has both a right and a wrong solution, pairwise ("which of the two is
correct?", one pair per such group, in a random order); each prompt is answered `algo.verify_samples` times and a
verdict matching the verifier earns 1. Rollouts of the envs named in `algo.self_reward_envs` get no verifier reward:
the same policy judges each one (one pointwise judgement) and its verdict, 1 or 0, is the rollout's reward. The
verifier's reward of those rollouts is only compared with the verdicts to log the judge's accuracy.

Logged: spark/verify_accuracy (pointwise, on verified envs), spark/pairwise_accuracy, spark/self_judge_accuracy
(verdicts on self-rewarded rollouts against their hidden verifier), spark/self_reward_mean and
spark/self_true_success.

Simplified from the paper: no reflection-conditioned judgements; the self-reward is one sampled 1/0 verdict (the
paper's pointwise reward scores); one-step envs (the last turn's reward is replaced).
"""

from __future__ import annotations

import numpy as np

from mmrl.algos.base import Sample, StepTools
from mmrl.algos.rise import (
    RISE,
    choose_for_verification,
    verifiable,
    verification_advantages,
    verification_samples,
)
from mmrl.config import env_names
from mmrl.verification import (
    pairwise_messages,
    pairwise_verdict,
    pointwise_messages,
    pointwise_verdict,
    verification_reward,
)

PAIRWISE_ROUND, SELF_JUDGE_ROUND = 2, 3
"""`StepTools.generate` rounds of the pairwise judgements and of the self-reward judgements."""


def pairwise_samples(episodes, pairs: list[tuple[int, int, bool]], tools: StepTools, n_samples: int
                     ) -> list[Sample]:
    """`n_samples` pairwise judgements of each (right episode, wrong episode, right shown first?) triple; label: the
    position (1 or 2) of the right solution."""
    prompts, labels = [], []
    for right, wrong, right_first in pairs:
        a, b = (right, wrong) if right_first else (wrong, right)
        ta, tb = episodes[a].turns[-1], episodes[b].turns[-1]
        prompts.append(tools.policy.encode(pairwise_messages(ta.prompt.messages, ta.completion.text,
                                                             tb.completion.text), ta.prompt.images))
        labels.append(1 if right_first else 2)
    repeated = [p for p in prompts for _ in range(n_samples)]
    samples = []
    for k, completion in enumerate(tools.generate(repeated, PAIRWISE_ROUND)):
        pair, label = pairs[k // n_samples], labels[k // n_samples]
        verdict = pairwise_verdict(completion.text)
        samples.append(Sample(repeated[k], completion.token_ids, pair[0], 0, rollout_logprobs=completion.logprobs,
                              extra={"verify_label": label, "verdict": verdict, "pairwise": True,
                                     "verify_reward": verification_reward(verdict, label)}))
    return samples


def self_judge(episodes, indices: list[int], tools: StepTools) -> list[bool | None]:
    """The policy's pointwise verdict on the last turn of each episode in `indices` (None: unreadable)."""
    prompts = [tools.policy.encode(pointwise_messages(episodes[i].turns[-1].prompt.messages,
                                                      episodes[i].turns[-1].completion.text),
                                   episodes[i].turns[-1].prompt.images) for i in indices]
    return [pointwise_verdict(c.text) for c in tools.generate(prompts, SELF_JUDGE_ROUND)]


class SPARK(RISE):
    name = "spark"
    prefix = "spark"

    def __init__(self, cfg):
        super().__init__(cfg)
        names = env_names(cfg.envs)
        self.self_rewarded = {names.index(n) for n in cfg.algo.self_reward_envs}

    def extra_samples(self, episodes, tools: StepTools) -> tuple[list[Sample], dict[str, float]]:
        algo, g = self.cfg.algo, self.group_size
        rng = np.random.default_rng([self.cfg.train.seed, tools.step, 29])
        stats: dict[str, float] = {}
        # 1. the policy rewards the rollouts of envs without a verifier
        judged = [i for i in verifiable(episodes, range(len(episodes)))
                  if episodes[i].request.env_index in self.self_rewarded]
        if judged:
            verdicts = self_judge(episodes, judged, tools)
            truth = [episodes[i].success for i in judged]
            for i, verdict in zip(judged, verdicts):
                last = episodes[i].turns[-1]
                last.info["verifier_reward"] = last.reward
                last.reward = float(verdict is True)
            stats |= {"spark/self_judge_accuracy": float(np.mean([v == t for v, t in zip(verdicts, truth)])),
                      "spark/self_reward_mean": float(np.mean([v is True for v in verdicts])),
                      "spark/self_true_success": float(np.mean(truth))}
        # 2. verification data from the verified envs' rollouts: pointwise, and pairwise where a group has both
        chosen = choose_for_verification(episodes, g, algo.verify_per_group, rng, self.self_rewarded)
        samples = verification_samples(episodes, chosen, tools, algo.verify_samples)
        pairs = []
        for start in range(0, len(episodes), g):
            members = verifiable(episodes, range(start, min(start + g, len(episodes))), self.self_rewarded)
            right = [i for i in members if episodes[i].success]
            wrong = [i for i in members if not episodes[i].success]
            if right and wrong:
                pairs.append((int(rng.choice(right)), int(rng.choice(wrong)), bool(rng.integers(2))))
        samples += pairwise_samples(episodes, pairs, tools, algo.verify_samples)
        return samples, stats

    def advantages(self, episodes, samples: list[Sample]) -> dict[str, float]:
        pairwise = [s for s in samples if "pairwise" in s.extra]
        stats = super().advantages(episodes, [s for s in samples if "pairwise" not in s.extra])
        verification_advantages(pairwise, self.cfg.algo.verify_samples, self.cfg.algo.verify_coef,
                                self.cfg.algo.advantage == "grpo")
        if pairwise:
            stats["spark/pairwise_accuracy"] = float(np.mean([s.extra["verify_reward"] for s in pairwise]))
        return stats

