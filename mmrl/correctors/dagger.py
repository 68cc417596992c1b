"""GTR's DAgger buffer: every corrected (observation, thought) pair of the run, sampled with each PPO minibatch.

Entries are the encoded prompt, the corrected response's token ids and a mask that is 1 on the thought tokens and
0 on the action (and stop) tokens, so cloning teaches thoughts only. The buffer is saved with each checkpoint, so
a resumed run clones from everything the uninterrupted run had collected.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mmrl.models.policy import Prompt


@dataclass
class Clone:
    prompt: Prompt
    completion: list[int]
    thought_mask: list[float]


class DAggerBuffer:
    def __init__(self) -> None:
        self.items: list[Clone] = []

    def __len__(self) -> int:
        return len(self.items)

    def add(self, clones: list[Clone]) -> None:
        self.items.extend(clones)

    def sample(self, n: int, rng: np.random.Generator) -> list[Clone]:
        """`n` entries drawn uniformly without replacement (all of them when the buffer holds fewer)."""
        if n <= 0 or not self.items:
            return []
        if len(self.items) <= n:
            return list(self.items)
        return [self.items[i] for i in rng.choice(len(self.items), size=n, replace=False)]

    def save(self, path: Path) -> None:
        torch.save(self.items, path)

    def load(self, path: Path) -> None:
        self.items = torch.load(path, weights_only=False) if path.is_file() else []
