"""PROF: process-consistency filtering on top of GRPO (Ye et al. 2025, "Beyond Correctness: Harmonizing Process and
Outcome Rewards through RL Training", arXiv:2509.03403, Algorithm 1).

Each group's rollouts get a process score (`mmrl.process_scores`: a rule check of the thought's equations, or a
model's verdict through the corrector endpoints). Then, in every group of G rollouts with n+ correct and n- wrong
ones, `algo.prof_drop` of them are dropped: among the correct ones those with the *lowest* process scores, among the
wrong ones those with the *highest* (the rollouts whose reasoning disagrees with their outcome). How many come from
each side keeps the kept correct/wrong counts as balanced as possible (the larger side loses more). GRPO's
advantages are then computed over the kept rollouts of each group only; dropped rollouts weigh 0 in the loss.

Simplified from the paper: a rule check or a 1/0 model verdict stands in for a trained PRM's per-step values, and the
drop count is fixed per group (the paper samples n and keeps m).
"""

from __future__ import annotations

import math

import torch

from mmrl.algos.advantages import group_relative_advantages, zero_advantage_group_fraction
from mmrl.algos.base import Sample
from mmrl.algos.grpo import GRPO, healthy
from mmrl.process_scores import make_process_scorer


def balanced_drop_counts(n_pos: int, n_neg: int, n_drop: int) -> tuple[int, int]:
    """(correct, wrong) rollouts to drop from a group of n_pos correct and n_neg wrong so that n_drop go in all
    (at most the group) and the kept counts are as balanced as possible; an odd leftover comes off the correct side."""
    n_drop = min(n_drop, n_pos + n_neg)
    drop_pos = math.ceil((n_drop + n_pos - n_neg) / 2)
    drop_pos = max(n_drop - n_neg, 0, min(drop_pos, n_drop, n_pos))
    return drop_pos, n_drop - drop_pos


def prof_keep_mask(correct: torch.Tensor, process: torch.Tensor, n_drop: int) -> torch.Tensor:
    """(G,) bool: which rollouts of one group PROF keeps. `correct` (G,) bool outcome, `process` (G,) process scores.
    Correct rollouts go lowest process score first, wrong ones highest first; ties drop the later rollout."""
    keep = torch.ones_like(correct, dtype=torch.bool)  # (G,)
    pos, neg = correct.nonzero().flatten(), (~correct).nonzero().flatten()
    drop_pos, drop_neg = balanced_drop_counts(len(pos), len(neg), n_drop)
    if drop_pos:
        order = sorted(pos.tolist(), key=lambda i: (process[i].item(), -i))  # lowest first; later index first on ties
        keep[order[:drop_pos]] = False
    if drop_neg:
        order = sorted(neg.tolist(), key=lambda i: (-process[i].item(), -i))  # highest first
        keep[order[:drop_neg]] = False
    return keep



def process_score_gap(process: torch.Tensor, correct: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean process score of the correct rollouts minus that of the wrong ones, over `mask`; 0 without both."""
    pos, neg = mask & correct, mask & ~correct
    if not pos.any() or not neg.any():
        return 0.0
    return float(process[pos].mean() - process[neg].mean())


class PROF(GRPO):
    name = "prof"

    def __init__(self, cfg):
        super().__init__(cfg)
        self.scorer = make_process_scorer(cfg.algo.prof_scorer, cfg.gtr)

    def episode_process_score(self, episode) -> float:
        """The mean process score of an episode's turns (PROF's averaged process value)."""
        if not episode.turns:
            return 0.0
        scores = [self.scorer.score(t.prompt.text, t.completion.text, t.info, episode.response_format)
                  for t in episode.turns]
        return sum(scores) / len(scores)

    def advantages(self, episodes, samples: list[Sample]) -> dict[str, float]:
        returns, stats = self.episode_returns(episodes)  # (N,)
        correct = torch.tensor([ep.success for ep in episodes])  # (N,)
        process = torch.tensor([self.episode_process_score(ep) for ep in episodes])  # (N,)
        g = self.group_size
        keep = torch.cat([prof_keep_mask(correct[i : i + g], process[i : i + g], self.cfg.algo.prof_drop)
                          for i in range(0, len(episodes), g)])  # (N,)
        keep &= healthy(episodes)  # an episode whose env failed is dropped too
        per_episode = group_relative_advantages(returns, g, self.cfg.algo.advantage == "grpo", keep=keep).tolist()
        for s in samples:
            s.advantage = float(per_episode[s.episode])
            if not keep[s.episode]:
                s.weight = 0.0
        everyone = torch.ones_like(keep)
        stats |= {
            "train/zero_adv_groups": zero_advantage_group_fraction(returns, g),
            "prof/dropped": float((~keep).sum()),
            "prof/dropped_correct": float((~keep & correct).sum()),
            "prof/dropped_wrong": float((~keep & ~correct).sum()),
            "prof/process_score_mean": float(process.mean()) if len(process) else 0.0,
            "prof/process_gap_before": process_score_gap(process, correct, everyone),
            "prof/process_gap_after": process_score_gap(process, correct, keep),
        }
        return stats
