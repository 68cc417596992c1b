"""Generation backends: turn encoded prompts into sampled completions.

`HFBackend` runs `transformers` generate on the training model itself (CPU or one GPU). `VLLMBackend`
(`mmrl.rollout.vllm_backend`, imported lazily) runs the vLLM engine beside the trainer and is synced after updates.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from mmrl.config import Backend, RolloutConfig
from mmrl.models.policy import Policy, Prompt


@dataclass
class SamplingParams:
    max_new_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    """Seed of this generate call. Backends that seed each request (vLLM) derive request i's seed from it and i;
    the HF backend samples from the global torch RNG, which the trainer seeds and checkpoints."""


@dataclass
class Completion:
    token_ids: list[int]
    """Generated tokens, up to and including the stop token when one was produced."""
    text: str
    """Decoded response without special tokens."""
    finished: bool
    """True when the model stopped by itself, False when cut at max_new_tokens."""
    logprobs: list[float] | None = None
    """The sampler's log-prob of each token in `token_ids`, when the backend is a separate engine (vLLM) whose
    numbers can differ slightly from the trainer's; None when the trainer's own weights sampled them (HF)."""


def derive_seed(*parts: int) -> int:
    """A 31-bit seed determined by `parts` alone (e.g. run seed, step, rank, turn, request index)."""
    return int(np.random.SeedSequence([int(p) % 2**63 for p in parts]).generate_state(1)[0] >> 1)


class GenerationBackend(Protocol):
    def generate(self, prompts: list[Prompt], params: SamplingParams) -> list[Completion]: ...

    def sync(self) -> None:
        """Make generation use the policy's current weights (called by the trainer after optimiser steps)."""

    def idle(self) -> None:
        """No generation until the next `sync`: free what can be freed meanwhile (called after each rollout)."""

    def close(self) -> None:
        """Release the backend's resources (an engine, its process groups)."""


class HFBackend:
    """Batched `model.generate` on the policy's own weights (always in sync with training)."""

    def __init__(self, policy: Policy, batch_size: int = 64):
        self.policy = policy
        self.batch_size = batch_size
        self.synced_gpus = False
        """Set by the trainer under multi-process DeepSpeed ZeRO-3: every forward all-gathers the partitioned
        weights, so a process whose batch stops early keeps stepping until all have stopped (HF `synced_gpus`)."""

    def sync(self) -> None:
        """Nothing to do: generation runs on the training weights themselves."""

    def idle(self) -> None:
        """Nothing held apart from the training model."""

    def close(self) -> None:
        """Nothing to release."""

    @torch.no_grad()
    def generate(self, prompts: list[Prompt], params: SamplingParams) -> list[Completion]:
        out: list[Completion] = []
        for start in range(0, len(prompts), self.batch_size):
            out.extend(self._generate_batch(prompts[start : start + self.batch_size], params))
        return out

    def _generate_batch(self, prompts: list[Prompt], params: SamplingParams) -> list[Completion]:
        policy = self.policy
        batch = policy.collate(prompts)
        batch.pop("completion_mask")
        p_len = batch.pop("prompt_len")
        batch.pop("position_ids", None)  # generate derives positions from the attention mask
        sample = params.temperature > 0
        model = policy.model
        was_training = model.training
        model.eval()
        try:
            sequences = model.generate(
                **batch,
                max_new_tokens=params.max_new_tokens,
                do_sample=sample,
                temperature=params.temperature if sample else None,
                top_p=params.top_p if sample else None,
                top_k=None,
                suppress_tokens=policy.suppressed_ids or None,
                eos_token_id=policy.stop_ids,
                pad_token_id=policy.pad_id,
                synced_gpus=self.synced_gpus,
            )
        finally:
            model.train(was_training)
        completions = []
        for row in sequences[:, p_len:].tolist():
            ids, finished = [], False
            for tok in row:
                ids.append(tok)
                if tok in policy.stop_ids:
                    finished = True
                    break
            # Trailing pad after a stop is dropped above; a row cut at the limit keeps all its tokens.
            completions.append(Completion(ids, policy.decode(ids), finished))
        return completions


def make_backend(cfg: RolloutConfig, policy: Policy, model_path: str, seed: int = 0) -> GenerationBackend:
    """The configured backend for `policy`; vLLM loads the checkpoint folder `model_path` (the run's base weights)
    and then takes the policy's current weights."""
    if cfg.backend == "hf":
        return HFBackend(policy, cfg.generation_batch_size)
    if cfg.backend == "vllm":
        from mmrl.rollout.vllm_backend import VLLMBackend  # lazy: vLLM is an optional, heavy install

        return VLLMBackend(policy, model_path, cfg.vllm, seed)
    raise ValueError(f"rollout.backend: unknown backend {cfg.backend!r} (one of {typing.get_args(Backend)})")
