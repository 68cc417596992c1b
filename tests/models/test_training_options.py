"""The model options a real-size run needs, checked on the tiny models: gradient checkpointing (VL, text, LoRA, PPO's
value head) gives the same loss and gradients as without it; the attention kernel is the one configured, and
flash_attention_2 where it cannot run is one config error; bfloat16 weights train."""

from __future__ import annotations

import dataclasses
import importlib.util
import math

import numpy as np
import pytest
import torch
from transformers.modeling_layers import GradientCheckpointingLayer

from mmrl.config import ConfigError, LoraConfig, ModelConfig
from mmrl.logger import read_jsonl
from mmrl.models.loading import build_tiny_policy, load_pretrained_policy, load_run_policy, save_policy
from mmrl.models.value_head import VALUE_HEAD, attach_value_head
from tests.conftest import CORPUS
from tests.trainer.helpers import SMALL, run_mmrl


def _prompts(policy, n: int = 3) -> list:
    rng = np.random.default_rng(0)
    prompts = []
    for i in range(n):
        text = {"type": "text", "text": "Which colour? " * (i + 1)}
        if policy.is_vl:
            messages = [{"role": "user", "content": [{"type": "image"}, text]}]
            prompts.append(policy.encode(messages, [rng.integers(0, 256, (56, 56, 3), dtype=np.uint8)]))
        else:
            prompts.append(policy.encode([{"role": "user", "content": [text]}]))
    return prompts


def _completions(policy) -> list[list[int]]:
    return [policy.encode_completion(text) for text in ("red", "green circle", "blue square yellow")]


@pytest.fixture(scope="module")
def saved_tiny(tmp_path_factory) -> dict[str, str]:
    """The tiny VL and text models saved once, as a run's base_model is."""
    paths = {}
    for kind in ("vl", "text"):
        paths[kind] = str(tmp_path_factory.mktemp(kind))
        save_policy(build_tiny_policy(ModelConfig(tiny=kind), CORPUS), paths[kind])
    return paths


def _counted(forward, calls: list[int]):
    def run(*args, **kwargs):
        calls[0] += 1
        return forward(*args, **kwargs)

    return run


def _loss_and_grads(path: str, cfg: ModelConfig, ppo: bool) -> tuple[float, dict[str, torch.Tensor], int]:
    """Load the policy as the trainer does, take one GRPO-like (or PPO-like, with the value head) loss in train
    mode and backpropagate. Returns the loss, every gradient, and how many times the checkpointable layers ran
    forward (twice each with checkpointing: once more in backward)."""
    torch.manual_seed(1)  # LoRA's A matrices are drawn at load
    policy = load_run_policy(cfg, path)
    for name, param in policy.model.named_parameters():
        if "lora_B" in name:  # zero at init, which would leave lora_A without gradient
            param.data.normal_(0.0, 0.1)
    if ppo:
        head = attach_value_head(policy.model)
        torch.nn.init.normal_(head.weight, std=0.1)  # zero at init: the trunk would get no value gradient
    policy.model.train()
    calls = [0]
    layers = [m for m in policy.model.modules() if isinstance(m, GradientCheckpointingLayer)]
    for layer in layers:  # counted in forward itself: torch's checkpoint recompute skips module hooks
        layer.forward = _counted(layer.forward, calls)
    prompts = _prompts(policy)
    scores = policy.score(prompts, _completions(policy), with_entropy="grad", with_values=ppo)
    loss = -(scores.logprobs.sum() + 0.1 * scores.entropy.sum())
    if ppo:
        loss = loss + (scores.values - 1.0).square().sum()
    loss.backward()
    grads = {n: p.grad.clone() for n, p in policy.model.named_parameters() if p.requires_grad}
    assert grads and all(g is not None for g in grads.values())
    return loss.item(), grads, calls[0] // len(layers)


@pytest.mark.parametrize("kind, lora, ppo", [("vl", 0, False), ("text", 0, False), ("vl", 4, False),
                                             ("text", 4, True), ("vl", 0, True)])
def test_gradient_checkpointing_gives_the_same_loss_and_gradients(saved_tiny, kind, lora, ppo):
    cfg = ModelConfig(tiny=kind, lora=LoraConfig(r=lora))
    plain = _loss_and_grads(saved_tiny[kind], cfg, ppo)
    checkpointed = _loss_and_grads(saved_tiny[kind], dataclasses.replace(cfg, gradient_checkpointing=True), ppo)
    assert (plain[2], checkpointed[2]) == (1, 2)  # the layers really recomputed their forward in backward
    assert checkpointed[0] == pytest.approx(plain[0], rel=1e-6)
    assert plain[1].keys() == checkpointed[1].keys()
    if lora:
        assert all("lora_" in n or n.endswith(VALUE_HEAD + ".weight") or n.endswith(VALUE_HEAD + ".bias")
                   for n in plain[1])
    if ppo:
        assert plain[1][next(n for n in plain[1] if n.endswith(VALUE_HEAD + ".weight"))].abs().sum() > 0
    for name, grad in plain[1].items():
        assert grad.abs().sum() > 0 or "lora_A" not in name, name
        torch.testing.assert_close(checkpointed[1][name], grad, rtol=1e-4, atol=1e-6, msg=name)


def test_the_configured_attention_kernel_is_used_and_eager_matches_sdpa(saved_tiny):
    logprobs = {}
    for kernel in ("sdpa", "eager"):
        policy = load_pretrained_policy(saved_tiny["vl"], ModelConfig(attn_implementation=kernel))
        assert policy.model.config._attn_implementation == kernel
        with torch.no_grad():
            logprobs[kernel] = policy.completion_logprobs(_prompts(policy), _completions(policy))[0]
    torch.testing.assert_close(logprobs["eager"], logprobs["sdpa"], rtol=1e-4, atol=1e-5)


FLASH_RUNS_HERE = importlib.util.find_spec("flash_attn") is not None and torch.cuda.is_available()


@pytest.mark.skipif(FLASH_RUNS_HERE, reason="flash-attn and CUDA are both here: flash_attention_2 is valid")
def test_flash_attention_where_it_cannot_run_is_one_config_error(saved_tiny, tmp_path):
    cfg = ModelConfig(attn_implementation="flash_attention_2", dtype="bfloat16")
    with pytest.raises(ConfigError, match=r"^'model\.attn_implementation' flash_attention_2 cannot run here: "):
        load_pretrained_policy(saved_tiny["text"], cfg)
    done = run_mmrl("train", "configs/quickstart.yaml", "model.attn_implementation=flash_attention_2",
                    "model.dtype=bfloat16", *SMALL, f"train.output_dir={tmp_path / 'run'}", timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("mmrl train: error: 'model.attn_implementation' flash_attention_2 cannot run here")
    assert "Traceback" not in done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("config, extra", [
    ("configs/quickstart.yaml", ["model.gradient_checkpointing=true"]),
    ("configs/numberline_ppo.yaml", ["model.gradient_checkpointing=true", "model.lora.r=8", "rollout.groups_per_step=4",
                                     "rollout.max_episode_steps=2", "rollout.max_new_tokens=16"]),
])
def test_bfloat16_weights_train_with_finite_losses(tmp_path, config, extra):
    """A few steps with bfloat16 weights (GRPO on the VL model; PPO with its value head and LoRA on the text model),
    gradient checkpointing on: the weights are bfloat16, and losses and gradient norms are finite and non-zero."""
    run = tmp_path / "run"
    done = run_mmrl("train", config, "model.dtype=bfloat16", *SMALL, *extra, "train.total_steps=3",
                    "train.eval_every=0", "eval.episodes=2", f"train.output_dir={run}", timeout=300)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "torch.bfloat16" in next(line for line in (done.stdout + done.stderr).splitlines() if "policy:" in line)
    rows = [r for r in read_jsonl(run / "metrics.jsonl") if "losses/loss" in r]
    assert [r["step"] for r in rows] == [1, 2, 3]
    for row in rows:
        assert math.isfinite(row["losses/loss"]) and math.isfinite(row["losses/grad_norm"])
    assert any(r["losses/grad_norm"] > 0 for r in rows)
