"""The single-process optimiser path: gradient accumulation, clipping and the LR schedule."""

from __future__ import annotations

import math

import pytest
import torch

from mmrl.config import OptimConfig
from mmrl.distributed import DistContext, Updater, lr_factor


def _fit(accum: int, data: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    updater = Updater(model, OptimConfig(lr=0.1, grad_accum_steps=accum, max_grad_norm=0.0), 10, 4,
                      DistContext(), None)
    norms = []
    for chunk_x, chunk_y in zip(data.chunk(accum), target.chunk(accum)):
        norms.append(updater.micro_step(((model(chunk_x) - chunk_y) ** 2).mean()))
    assert norms[:-1] == [None] * (accum - 1) and norms[-1] > 0  # steps once, at the last micro-batch
    return torch.cat([model.weight.detach().flatten(), model.bias.detach()])


def test_accumulating_equal_micro_batches_equals_one_big_batch():
    data, target = torch.randn(8, 3), torch.randn(8, 1)
    torch.testing.assert_close(_fit(1, data, target), _fit(4, data, target))


def test_gradients_are_clipped_and_the_norm_is_reported_before_clipping():
    model = torch.nn.Linear(2, 1, bias=False)
    seen = []
    model.weight.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.clone()))
    updater = Updater(model, OptimConfig(lr=1.0, max_grad_norm=0.5), 10, 1, DistContext(), None)
    clipped = []
    updater.optimizer.register_step_pre_hook(lambda *_: clipped.append(model.weight.grad.norm().item()))
    norm = updater.micro_step(model.weight.sum() * 1e3)  # gradient (1000, 1000)
    assert norm == pytest.approx(1e3 * math.sqrt(2), rel=1e-5)
    assert seen[0].norm().item() == pytest.approx(norm, rel=1e-5)
    assert clipped == [pytest.approx(0.5, rel=1e-4)]


def _constant_steps(cfg: OptimConfig, total_steps: int, per_step: int, sft: int = 0, scale: float = 1.0):
    """The factor of update u when every RL step makes `per_step` updates (clock = RL updates done / per_step)."""
    return lambda u: lr_factor(cfg, u, max(u - sft, 0) / per_step, total_steps, per_step, sft, scale)


def test_lr_schedule_warmup_then_cosine_to_zero_after_the_warm_start():
    f = _constant_steps(OptimConfig(warmup_steps=2, schedule="cosine"), total_steps=12, per_step=1, sft=3, scale=5.0)
    assert [f(u) for u in range(3)] == [5.0, 5.0, 5.0]
    assert f(3) == pytest.approx(0.5) and f(4) == pytest.approx(1.0)
    assert f(3 + 2 + 5) == pytest.approx(0.5) and f(3 + 12) == pytest.approx(0.0)
    linear = _constant_steps(OptimConfig(schedule="linear"), total_steps=5, per_step=2)
    assert linear(5) == pytest.approx(0.5)  # 5 of 10 updates
    assert _constant_steps(OptimConfig(), 10, 1)(9) == 1.0


def test_a_schedule_over_steps_of_varying_update_counts_ends_exactly_after_the_last_update():
    """Three RL steps making 1, 4 and 2 updates: the linear decay follows the RL-step clock and reaches 0 exactly
    after the 7th update, never before."""
    model = torch.nn.Linear(2, 1)
    updater = Updater(model, OptimConfig(lr=1.0, schedule="linear"), 3, 1, DistContext(), None)
    seen = []
    for step, n in enumerate([1, 4, 2], start=1):
        updater.begin_step(step, n)
        for _ in range(n):
            seen.append(updater.lr)
            updater.micro_step(model.weight.sum())
    # clock before each update: 0; 1, 1.25, 1.5, 1.75; 2, 2.5  (of 3 steps)
    assert seen == pytest.approx([1.0, 2 / 3, 1.75 / 3, 1.5 / 3, 1.25 / 3, 1 / 3, 0.5 / 3])
    assert updater.lr == 0.0


def _drift(dtype: torch.dtype, tmp_path=None, steps: int = 200) -> torch.Tensor:
    """Weights of 0.02 pushed by a constant gradient for `steps` AdamW steps of lr 1e-5 (each step moves a weight
    by ~1e-5, under half a bf16 ulp at 0.02): how far each weight moved. With `tmp_path`, the updater is saved
    halfway and a fresh one loads it, as a resumed run does."""
    model = torch.nn.Linear(16, 16, bias=False).to(dtype)
    torch.nn.init.constant_(model.weight, 0.02)
    direction = torch.sign(torch.randn(16, 16, generator=torch.Generator().manual_seed(0)))
    cfg = OptimConfig(lr=1e-5, weight_decay=0.0, max_grad_norm=0.0)
    updater = Updater(model, cfg, steps, 1, DistContext(), None)
    for step in range(steps):
        if tmp_path is not None and step == steps // 2:
            updater.save(tmp_path)
            updater = Updater(model, cfg, steps, 1, DistContext(), None)
            updater.load(tmp_path)
        updater.micro_step((model.weight * direction.to(dtype)).sum())
    assert model.weight.dtype == dtype
    return (model.weight.detach().float() - 0.02) * -direction  # each weight moves against its gradient


def test_bfloat16_weights_keep_float32_master_copies_so_small_updates_add_up(tmp_path):
    """Pure bf16 AdamW would round every one of these 1e-5 updates away and leave the weights at 0.02; with float32
    master weights they add up to ~200 * 1e-5 = 2e-3, as in float32, within one bf16 rounding (1.2e-4 at 0.02),
    also across a save and load halfway."""
    reference = _drift(torch.float32)
    assert reference.min() > 1.9e-3
    for moved in (_drift(torch.bfloat16), _drift(torch.bfloat16, tmp_path)):
        assert (moved - reference).abs().max() <= 1.3e-4
