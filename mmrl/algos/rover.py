"""`rover`: Random Policy Valuation (He et al. 2025, arXiv:2509.24981): no critic, no KL; each token's Q-value is
the policy's log-ratio to the rollout policy, regressed onto the group-normalised outcome reward plus the mean
log-ratio over the vocabulary at the next state (`mmrl.algos.losses.rover_loss`)."""

from __future__ import annotations

import torch

from mmrl.algos.base import Sample, padded
from mmrl.algos.grpo import GRPO
from mmrl.algos.losses import rover_loss


class ROVER(GRPO):
    """Advantages are GRPO's group-normalised returns (r~); the loss is ROVER's squared error."""

    name = "rover"
    vocab_mean = True

    def loss(self, policy, batch: list[Sample], reference) -> tuple[torch.Tensor, dict[str, float]]:
        with_entropy = "grad" if self.cfg.algo.entropy_coef > 0 else True
        scores = policy.score([s.prompt for s in batch], [s.completion for s in batch], self.temperature,
                              with_entropy, with_vocab_mean=True)
        device = scores.mask.device
        width = scores.mask.shape[1]
        mask = scores.mask * self.sample_weights(batch, device).unsqueeze(1)  # (B, T)
        vocab_mean = scores.vocab_mean if scores.vocab_mean is not None else torch.zeros_like(mask)  # (B, T)
        old = self.old_logprobs(batch, scores)  # (B, T)
        if batch[0].old_logprobs is None:  # on-policy: the rollout policy is the current one
            old_vocab_mean = vocab_mean
        else:
            old_vocab_mean = padded([s.extra.get("old_vocab_mean", []) for s in batch], width, device)  # (B, T)
        rewards = torch.tensor([s.advantage for s in batch], device=device)  # (B,)
        loss = rover_loss(scores.logprobs, old, vocab_mean, old_vocab_mean, rewards, mask, self.cfg.algo.rover_rho,
                          self.is_weights(batch, old))
        stats = {"rover_loss": loss.item()}
        return self.regularised(loss, stats, policy, batch, reference, scores.logprobs, mask, scores.entropy), stats
