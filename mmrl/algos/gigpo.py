"""`gigpo`: Group-in-Group Policy Optimization (Feng et al. 2025, arXiv:2505.10978; verl-agent's gigpo) for
multi-turn envs: an episode-level group advantage plus a step-level advantage over anchor-state groups.

Episodes of one group start from the same reset seed. Within a group, turns whose observations are identical (the
same current observation text and images) form a step group; each turn's discounted step return
R_t = sum_k gamma^k r_{t+k} is compared with its step group's mean. A = A^E + omega * A^S (Eq. 9), with A^E the
episode return minus its group's mean (divided by the std when `algo.gigpo_std_norm`), and A^S likewise per step
group (0 for a step group of one). Critic-free, no extra rollouts.
"""

from __future__ import annotations

import hashlib

import torch

from mmrl.algos.advantages import anchor_group_advantages, discounted_returns, group_relative_advantages
from mmrl.algos.base import Sample
from mmrl.algos.grpo import GRPO, healthy


def state_key(sample: Sample) -> str:
    """The anchor state of a turn: the text of its prompt's last user message plus a digest of the prompt's images
    (earlier turns kept as history do not count: two turns that see the same observation share a state)."""
    content = sample.prompt.messages[-1]["content"]
    text = content if isinstance(content, str) else "\n".join(p.get("text", "") for p in content
                                                              if p.get("type") == "text")
    digest = hashlib.blake2b(digest_size=8)
    for image in sample.prompt.images:
        digest.update(image.tobytes())
    return text + "\x00" + digest.hexdigest()


class GiGPO(GRPO):
    name = "gigpo"

    def advantages(self, episodes, samples: list[Sample]) -> dict[str, float]:
        algo = self.cfg.algo
        returns, stats = self.episode_returns(episodes)
        ok = healthy(episodes)  # (N,) an episode whose env failed joins no episode group and no anchor-state group
        episode_adv = group_relative_advantages(returns, self.group_size, algo.gigpo_std_norm, keep=ok)  # (N,)
        width = max((len(ep.turns) for ep in episodes), default=0)
        rewards = torch.zeros(len(episodes), width)  # (N, T)
        for i, ep in enumerate(episodes):
            rewards[i, : len(ep.turns)] = torch.tensor([t.reward for t in ep.turns], dtype=torch.float32)
        step_returns = discounted_returns(rewards, algo.gamma)  # (N, T)
        ids: dict[tuple, int] = {}
        group_of = [ids.setdefault((episodes[s.episode].request.group, state_key(s)) if ok[s.episode]
                                   else ("failed", s.episode, s.turn), len(ids)) for s in samples]
        values = torch.tensor([float(step_returns[s.episode, s.turn]) for s in samples])  # (S,)
        step_adv, sizes = anchor_group_advantages(values, torch.tensor(group_of), algo.gigpo_std_norm)  # (S,), (S,)
        for s, a_step in zip(samples, step_adv.tolist()):
            s.advantage = float(episode_adv[s.episode]) + algo.gigpo_omega * a_step
        first = {}
        for g, size in zip(group_of, sizes.tolist()):
            first.setdefault(g, size)
        stats["train/step_groups_gt1"] = sum(size > 1 for size in first.values()) / max(len(first), 1)
        stats["train/step_group_size_mean"] = sum(first.values()) / max(len(first), 1)
        return stats
