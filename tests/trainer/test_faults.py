"""The loop's own faults (mmrl/faults.py, mmrl/checkpoint.py): NaN rewards, non-finite losses and gradients, a full
disk during a checkpoint write, a corrupt latest checkpoint, and SIGTERM, each followed by a resume."""

from __future__ import annotations

import errno
import math
import shutil
import signal
import textwrap

import pytest
import torch

from mmrl import checkpoint
from mmrl.config import OptimConfig, UserError, load_config
from mmrl.distributed import DistContext, Updater
from mmrl.faults import NonFiniteGuard, RunHalted
from mmrl.logger import read_jsonl
from mmrl.trainer import Trainer, group_requests

NAN_MODULE = '''
"""Saying 'yes' scores 1; an episode reset with a seed divisible by 3 returns a NaN reward."""
import math

import gymnasium as gym
from gymnasium import spaces


class NanReward(gym.Env):
    def __init__(self):
        self.observation_space = spaces.Text(64)
        self.action_space = spaces.Text(64)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.poisoned = seed is not None and seed % 3 == 0
        return "Say yes.", {}

    def step(self, action):
        said = action.strip().lower() == "yes"
        return "Said.", math.nan if self.poisoned else float(said), True, False, {"success": said}


gym.register("their/Nan-v0", entry_point=NanReward)
'''

TINY = ["model.tiny=text", "rollout.group_size=2", "rollout.groups_per_step=4", "rollout.max_new_tokens=3",
        "eval.episodes=2", "train.progress=false", "train.eval_every=0"]
TEXT_ENV = "envs=[{id: mmrl/NumberLine-v0, kwargs: {render_image: false}}]"


def _config(run_dir, *overrides):
    return load_config(None, [TEXT_ENV, *TINY, f"train.output_dir={run_dir}", *overrides])


def _train_rows(run_dir):
    return [r for r in read_jsonl(run_dir / "metrics.jsonl") if "train/return_mean" in r]


def _all_finite(model) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


@pytest.fixture(scope="module")
def two_checkpoints(tmp_path_factory):
    """A finished 2-step run with checkpoints step_1 and step_2 (copied by each test that changes it)."""
    run_dir = tmp_path_factory.mktemp("faults") / "run"
    Trainer(_config(run_dir, "train.total_steps=2", "train.save_every=1")).train()
    return run_dir


def test_nan_rewards_are_env_errors_and_the_weights_stay_finite(tmp_path, monkeypatch):
    (tmp_path / "nanenv.py").write_text(textwrap.dedent(NAN_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(__import__("sys").modules, "nanenv", raising=False)
    cfg = load_config(None, ["envs=[{id: 'nanenv:their/Nan-v0'}]", *TINY, "train.total_steps=2",
                             f"train.output_dir={tmp_path / 'run'}"])
    trainer = Trainer(cfg)
    trainer.train()
    rows = _train_rows(tmp_path / "run")
    for row in rows:
        seeds = [r.seed for r in group_requests(cfg, row["step"], DistContext())]
        assert row["train/env_errors"] == sum(seed % 3 == 0 for seed in seeds) > 0
        assert row["train/episodes"] == len(seeds)
        assert math.isfinite(row["train/return_mean"]) and math.isfinite(row["losses/loss"])
        assert row["train/skipped_nonfinite"] == 0
    assert _all_finite(trainer.policy.model)
    assert checkpoint.problem(checkpoint.latest_checkpoint(tmp_path / "run")) is None


def test_an_update_with_a_nonfinite_loss_or_gradient_never_reaches_the_weights():
    model = torch.nn.Linear(3, 1)
    before = [p.detach().clone() for p in model.parameters()]
    updater = Updater(model, OptimConfig(lr=0.1), total_steps=10, micro_batch=1, ctx=DistContext(),
                      deepspeed_config=None)
    x = torch.ones(1, 3)
    assert math.isnan(updater.micro_step(model(x).sum() * math.nan))  # non-finite loss
    finite_loss_nan_grad = torch.sqrt(model.weight.sum() * 0.0)  # value 0, gradient 0 * inf = NaN
    assert math.isnan(updater.micro_step(finite_loss_nan_grad))
    assert updater.skipped_updates == 2
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert all(p.grad is None for p in model.parameters())  # nothing left over for the next update
    assert math.isfinite(updater.micro_step(model(x).sum()))
    assert not torch.equal(before[0], model.weight) and updater.skipped_updates == 2
    guard = NonFiniteGuard(2)
    guard.record(1, 1)
    guard.record(2, 0)  # a good step resets the count
    guard.record(3, 1)
    with pytest.raises(RunHalted, match="2 steps in a row"):
        guard.record(4, 1)


def test_a_run_whose_loss_stays_nan_stops_with_finite_weights(tmp_path, monkeypatch):
    trainer = Trainer(_config(tmp_path, "train.total_steps=5", "train.save_every=1", "train.max_nonfinite_steps=2"))
    initial = [p.detach().clone() for p in trainer.policy.model.parameters()]
    real_loss = trainer.algorithm.loss
    monkeypatch.setattr(trainer.algorithm, "loss", lambda *a: (lambda out: (out[0] * math.nan, out[1]))(real_loss(*a)))
    with pytest.raises(RunHalted, match="2 steps in a row") as stop:
        trainer.train()
    assert stop.value.code == 3
    assert [r["train/skipped_nonfinite"] for r in _train_rows(tmp_path)] == [1, 1]
    assert all(torch.equal(a, b) for a, b in zip(initial, trainer.policy.model.parameters()))
    assert [s for s, _ in checkpoint.complete_checkpoints(tmp_path)] == [1]  # halted before saving step 2


def test_a_full_disk_keeps_the_previous_checkpoint_and_the_run_resumes(two_checkpoints, tmp_path, monkeypatch, capsys):
    run_dir = tmp_path / "run"
    shutil.copytree(two_checkpoints, run_dir)
    real_save = torch.save

    def full_disk(obj, f, *args, **kwargs):
        if "step_3.tmp" in str(f):
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 4416 vs 4310")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(RunHalted, match="last checkpoint could not be written"):
        Trainer(_config(run_dir, "train.total_steps=3", "train.save_every=1")).train()
    out = capsys.readouterr().out
    assert "step 3: checkpoint not written: the disk is full" in out and "MiB free" in out
    assert "latest checkpoint is still" in out and "step_2" in out
    assert not checkpoint.temp_dir(run_dir, 3).exists()
    assert [s for s, _ in checkpoint.complete_checkpoints(run_dir)] == [1, 2]

    monkeypatch.setattr(torch, "save", real_save)  # space freed: the same command redoes step 3
    Trainer(_config(run_dir, "train.total_steps=3", "train.save_every=1")).train()
    assert f"Resuming from {run_dir / 'checkpoints' / 'step_2'}" in capsys.readouterr().out
    assert [r["step"] for r in _train_rows(run_dir)] == [1, 2, 3]
    assert [s for s, _ in checkpoint.complete_checkpoints(run_dir)] == [2, 3]


def test_write_problems_are_named_in_plain_words(tmp_path):
    assert "not writable" in checkpoint.write_problem(OSError(errno.EROFS, "Read-only file system"), tmp_path)
    assert "disk is full" in checkpoint.write_problem(OSError(errno.ENOSPC, "No space left on device"), tmp_path)
    assert checkpoint.write_problem(RuntimeError("a bug"), tmp_path) is None  # a bug keeps its traceback


def test_a_corrupt_latest_checkpoint_is_skipped_on_resume_and_in_eval(two_checkpoints, tmp_path, capsys):
    from mmrl.eval import evaluate_checkpoint

    run_dir = tmp_path / "run"
    shutil.copytree(two_checkpoints, run_dir)
    weights = run_dir / "checkpoints" / "step_2" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # a copy cut short
    assert "model.safetensors is truncated" in checkpoint.problem(weights.parent)

    result = evaluate_checkpoint(str(run_dir))
    assert result["checkpoint"].endswith("step_1")
    assert "step_2 is unusable (model.safetensors is truncated" in capsys.readouterr().err
    with pytest.raises(UserError, match="step_2 is unusable: model.safetensors is truncated"):
        evaluate_checkpoint(str(weights.parent))  # named explicitly: an error, not a silent fallback

    Trainer(_config(run_dir, "train.total_steps=3", "train.save_every=1")).train()
    out = capsys.readouterr().out
    assert "step_2 is unusable" in out and f"Resuming from {run_dir / 'checkpoints' / 'step_1'}" in out
    assert [r["step"] for r in _train_rows(run_dir)] == [1, 2, 3]
    assert checkpoint.problem(run_dir / "checkpoints" / "step_3") is None


def test_a_checkpoint_missing_its_optimizer_or_holding_nan_is_unusable(two_checkpoints, tmp_path):
    from safetensors.torch import load_file, save_file

    step_1 = tmp_path / "step_1"
    shutil.copytree(two_checkpoints / "checkpoints" / "step_1", step_1)
    tensors = load_file(step_1 / "model.safetensors")
    first = next(iter(tensors))
    tensors[first] = tensors[first] * math.nan
    save_file(tensors, step_1 / "model.safetensors", metadata={"format": "pt"})
    assert checkpoint.problem(step_1) == f"its weights hold NaN or inf (model.safetensors: {first})"
    (step_1 / "optimizer.pt").unlink()
    assert checkpoint.problem(step_1) == "optimizer.pt is missing"
    assert checkpoint.problem(step_1, for_training=False).startswith("its weights hold NaN")


def test_sigterm_saves_a_checkpoint_and_the_same_command_resumes(tmp_path, monkeypatch, capsys):
    """A real SIGTERM to this process during step 2's update (through `mmrl train`'s own entry point): the step
    finishes, step_2 is saved, the exit status is 143 with one line; the same command then resumes from step_2."""
    import os

    from mmrl.cli import main

    args = ["train", "configs/quickstart.yaml", TEXT_ENV, *TINY, "train.sft_steps=0", "train.save_every=100",
            f"train.output_dir={tmp_path}"]
    real_update = Trainer.update

    def update_then_sigterm(self, samples, step):
        if step == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return real_update(self, samples, step)

    monkeypatch.setattr(Trainer, "update", update_then_sigterm)
    before = signal.getsignal(signal.SIGTERM)  # not always SIG_DFL: ray.init, run earlier in this worker, sets one
    assert main([*args, "train.total_steps=40"]) == 143
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == ("mmrl train: stopped by SIGTERM after step 2, checkpoint step_2 saved; the same command "
                       "resumes from it")
    assert [s for s, _ in checkpoint.complete_checkpoints(tmp_path)] == [2]
    assert signal.getsignal(signal.SIGTERM) is before  # the previous handler is back once training ends

    monkeypatch.setattr(Trainer, "update", real_update)
    assert main([*args, "train.total_steps=3"]) == 0
    assert f"Resuming from {tmp_path / 'checkpoints' / 'step_2'}" in capsys.readouterr().out
    assert [r["step"] for r in _train_rows(tmp_path)] == [1, 2, 3]
