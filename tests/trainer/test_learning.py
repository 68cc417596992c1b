"""Learning tests: the trainer really trains (numbers move), in process, on a tiny text model."""

from __future__ import annotations

import numpy as np
import pytest

from mmrl.config import load_config
from mmrl.distributed import DistContext
from mmrl.logger import read_jsonl
from mmrl.trainer import Trainer, group_requests, mixture_counts
from tests.fixtures import toy_envs  # noqa: F401  (registers mmrltest/*)


def _config(tmp_path, *overrides):
    return load_config(None, [
        "envs=[{id: mmrltest/Echo-v0, kwargs: {length: 1, asked: [apple]}}]",
        "model.tiny=text", "rollout.group_size=8", "rollout.groups_per_step=4", "rollout.max_new_tokens=4",
        "train.sft_steps=40", "train.sft_lr=3e-3", "train.sft_target=random_admissible", "train.sft_batch_size=32",
        "optim.lr=3e-4", "eval.episodes=32", "eval.temperature=1.0", "train.progress=false", "train.eval_every=0", "train.save_every=0",
        f"train.output_dir={tmp_path}", *overrides,
    ])


@pytest.mark.slow
def test_grpo_raises_reward_from_the_format_warm_start(tmp_path):
    """After a warm-start that answers one of four words at random (reward ~0.25), GRPO learns that only
    'apple' is rewarded: the mean reward of the last steps is well above that of the first."""
    summary = Trainer(_config(tmp_path, "train.total_steps=40")).train()
    rows = [r for r in read_jsonl(tmp_path / "metrics.jsonl") if "train/return_mean" in r]
    first = np.mean([r["train/return_mean"] for r in rows[:5]])
    last = np.mean([r["train/return_mean"] for r in rows[-5:]])
    assert first < 0.6, f"the warm-start should leave the task unsolved (first rewards {first:.2f})"
    assert last > first + 0.3, f"reward did not rise: first 5 steps {first:.2f}, last 5 steps {last:.2f}"
    assert summary["final/eval_success_rate"] > summary["sft/eval_success_rate"]


def test_mixture_counts_are_exact():
    assert mixture_counts([1, 1, 1], 8).tolist() == [3, 3, 2]
    assert mixture_counts([0.5, 0.25, 0.25], 8).tolist() == [4, 2, 2]
    assert mixture_counts([1, 3], 4).sum() == 4


def test_group_requests_are_groups_of_one_seed_and_differ_by_rank_and_step(tmp_path):
    cfg = _config(tmp_path)
    reqs = group_requests(cfg, 1, DistContext())
    assert len(reqs) == 4 * 8
    for g in range(4):
        group = reqs[g * 8 : (g + 1) * 8]
        assert len({r.seed for r in group}) == 1 and {r.group for r in group} == {g}
    seeds = lambda step, rank: [r.seed for r in group_requests(cfg, step, DistContext(rank=rank, world_size=2))]  # noqa: E731
    assert seeds(1, 0) != seeds(1, 1) and seeds(1, 0) != seeds(2, 0) and seeds(1, 0) == seeds(1, 0)


def test_two_env_mixture_logs_per_env_reward_and_success(tmp_path):
    cfg = _config(tmp_path, "train.total_steps=1", "train.sft_steps=0", "eval.episodes=2",
                  "envs=[{id: mmrltest/Echo-v0, weight: 3, kwargs: {length: 1}}, "
                  "{id: mmrltest/Echo-v0, weight: 1, kwargs: {length: 2}}]")
    Trainer(cfg).train()
    (row,) = [r for r in read_jsonl(tmp_path / "metrics.jsonl") if r["step"] == 1]
    assert row["train/episodes"] == 32
    for name in ("mmrltest/Echo-v0#0", "mmrltest/Echo-v0#1"):  # one id twice: labels made unique
        assert 0.0 <= row[f"train/{name}/return_mean"] <= 2.0 and f"train/{name}/success_rate" in row
        assert f"eval/{name}/success_rate" in row
    samples = read_jsonl(tmp_path / "samples.jsonl")
    assert {s["env"] for s in samples} <= {"mmrltest/Echo-v0#0", "mmrltest/Echo-v0#1"}


def test_the_warm_start_draws_envs_in_the_mixture_proportions(tmp_path, monkeypatch):
    cfg = _config(tmp_path, "train.sft_steps=3", "train.sft_batch_size=200",
                  "envs=[{id: mmrltest/Echo-v0, weight: 3, kwargs: {length: 1}}, "
                  "{id: mmrltest/Echo-v0, weight: 1, kwargs: {length: 2}}]")
    trainer = Trainer(cfg)
    drawn = []
    original = trainer.runner.warm_start_pairs
    monkeypatch.setattr(trainer.runner, "warm_start_pairs",
                        lambda reqs, *args: drawn.extend(r.env_index for r in reqs) or original(reqs, *args))
    trainer.sft_warm_start()
    share = np.mean(np.array(drawn) == 0)
    assert len(drawn) == 600 and 0.68 < share < 0.82  # 3 : 1 -> 0.75
