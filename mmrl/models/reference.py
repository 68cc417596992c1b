"""The KL reference policy: one object with one log-prob method, whatever it is made of.

- `FrozenModel`: a separate, frozen copy of the weights RL started from (the warm-started model after a
  warm-start, else the initial one).
- `AdapterOff`: LoRA without a warm-start: the base model is the starting point, so the reference is the policy
  with its adapters switched off (no second copy of the weights).
- `SavedAdapter`: LoRA after a warm-start: the warm-started adapter, loaded a second time into the same peft model
  as a frozen adapter named 'reference' and switched on only while scoring.
"""

from __future__ import annotations

from typing import Protocol

import torch

from mmrl.models.policy import Policy, Prompt

REFERENCE_ADAPTER = "reference"


class Reference(Protocol):
    def logprobs(self, policy: Policy, prompts: list[Prompt], completions: list[list[int]],
                 temperature: float) -> torch.Tensor:
        """(B, Tc) per-token log-probs of the completions under the reference policy (no gradient)."""


class FrozenModel:
    def __init__(self, model: torch.nn.Module):
        self.model = model.eval().requires_grad_(False)

    @torch.no_grad()
    def logprobs(self, policy, prompts, completions, temperature):
        trained = policy.model
        policy.model = self.model
        try:
            return policy.completion_logprobs(prompts, completions, temperature)[0]
        finally:
            policy.model = trained


class AdapterOff:
    @torch.no_grad()
    def logprobs(self, policy, prompts, completions, temperature):
        with policy.model.disable_adapter():
            return policy.completion_logprobs(prompts, completions, temperature)[0]


class SavedAdapter:
    def __init__(self, policy: Policy, adapter_dir: str):
        model = policy.model
        if REFERENCE_ADAPTER in model.peft_config:
            model.delete_adapter(REFERENCE_ADAPTER)
        active = model.active_adapter
        model.load_adapter(adapter_dir, adapter_name=REFERENCE_ADAPTER, is_trainable=False)
        model.set_adapter(active)  # loading must not change which adapter trains
        self.active = active

    @torch.no_grad()
    def logprobs(self, policy, prompts, completions, temperature):
        model = policy.model
        trainable = {name: p.requires_grad for name, p in model.named_parameters()}
        model.set_adapter(REFERENCE_ADAPTER)
        try:
            return policy.completion_logprobs(prompts, completions, temperature)[0]
        finally:
            model.set_adapter(self.active)
            for name, p in model.named_parameters():  # set_adapter flips requires_grad: put every flag back
                p.requires_grad_(trainable[name])


class ReferenceSamples:
    """DPH-RL's stored samples of the reference policy: (prompt, completion, the reference's per-token log-probs)
    for prompts it solved, drawn uniformly for each minibatch; saved with each checkpoint."""

    def __init__(self) -> None:
        self.items: list[tuple[Prompt, list[int], list[float]]] = []

    def __len__(self) -> int:
        return len(self.items)

    def add(self, prompts: list[Prompt], completions: list[list[int]], ref_logprobs: torch.Tensor) -> None:
        for prompt, ids, row in zip(prompts, completions, ref_logprobs.tolist()):
            self.items.append((prompt, ids, row[: len(ids)]))

    def sample(self, n: int, rng) -> list[tuple[Prompt, list[int], list[float]]]:
        if n <= 0 or not self.items:
            return []
        if len(self.items) <= n:
            return list(self.items)
        return [self.items[i] for i in rng.choice(len(self.items), size=n, replace=False)]

    def save(self, path) -> None:
        torch.save(self.items, path)

    def load(self, path) -> None:
        self.items = torch.load(path, weights_only=False) if path.is_file() else []
