"""The trainer side of the algorithm seam: the LR schedule over a multi-turn run, the rollout/training log-prob
gap and truncated importance sampling, DAPO's dynamic sampling, and a trainer that never names an algorithm."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mmrl.config import load_config
from mmrl.logger import read_jsonl
from mmrl.trainer import Trainer
from tests.fixtures import toy_envs  # noqa: F401  (registers mmrltest/*)


def _config(tmp_path, *overrides):
    return load_config(None, [
        "envs=[{id: mmrltest/Echo-v0, kwargs: {length: 3, length_from_seed: true}}]", "model.tiny=text",
        "rollout.group_size=2", "rollout.groups_per_step=3", "rollout.max_new_tokens=3", "rollout.max_episode_steps=3",
        "rollout.history_turns=0", "algo.minibatch_size=4", "train.sft_steps=0", "eval.episodes=2",
        "train.progress=false", "train.eval_every=0", "train.save_every=0", f"train.output_dir={tmp_path}",
        *overrides,
    ])


@pytest.mark.parametrize("algo", ["grpo", "ppo"])
def test_a_multi_turn_runs_linear_schedule_ends_exactly_at_its_last_update(tmp_path, algo):
    """Episodes of 1-3 turns make a varying number of samples (and optimiser updates) per step; the LR stays
    positive through every update and reaches 0 exactly after the last one. (Counting episodes instead of turns
    took the LR to 0 after the first step's updates.)"""
    trainer = Trainer(_config(tmp_path, f"algo.name={algo}", "optim.schedule=linear", "train.total_steps=3"))
    lrs, updates_per_step = [], []
    trainer.updater.optimizer.register_step_pre_hook(lambda opt, *_: lrs.append(opt.param_groups[0]["lr"]))
    begin = trainer.updater.begin_step
    trainer.updater.begin_step = lambda step, n: (updates_per_step.append(n), begin(step, n))[1]
    trainer.train()
    assert len(lrs) == sum(updates_per_step) > 3  # more updates than steps: several minibatches of turns
    assert all(lr > 0 for lr in lrs)
    assert lrs == sorted(lrs, reverse=True) and lrs[0] == pytest.approx(trainer.cfg.optim.lr)
    assert trainer.updater.lr == 0.0
    # The step-3 updates sit on the last third of the schedule, evenly.
    n3 = updates_per_step[-1]
    expected = [trainer.cfg.optim.lr * (1 - (2 + k / n3) / 3) for k in range(n3)]
    assert lrs[-n3:] == pytest.approx(expected)


class OffsetLogprobs:
    """A generation backend that reports per-token log-probs like a separate engine (vLLM) would: the policy's own,
    shifted by a known constant."""

    def __init__(self, inner, policy, offset: float):
        self.inner, self.policy, self.offset = inner, policy, offset

    def generate(self, prompts, params):
        completions = self.inner.generate(prompts, params)
        scores = self.policy.score(prompts, [c.token_ids for c in completions], params.temperature)
        for c, row in zip(completions, scores.logprobs.tolist()):
            c.logprobs = [x + self.offset for x in row[: len(c.token_ids)]]
        return completions

    def sync(self):
        self.inner.sync()

    def idle(self):
        self.inner.idle()

    def close(self):
        self.inner.close()


@pytest.mark.parametrize(("offset", "clipped"), [(-0.3, 0.0), (-1.0, 1.0), (0.5, 0.0)])
def test_rollout_logprobs_give_the_logged_gap_and_the_share_of_tokens_at_the_tis_cap(tmp_path, offset, clipped):
    cfg = _config(tmp_path, "train.total_steps=1", "rollout.tis_cap=2.0")
    trainer = Trainer(cfg)
    trainer.backend = trainer.runner.backend = OffsetLogprobs(trainer.backend, trainer.policy, offset)
    trainer.train()
    (row,) = [r for r in read_jsonl(tmp_path / "metrics.jsonl") if r["step"] == 1]
    # old - rollout = -offset on every token: weight exp(0.3) = 1.35 < 2, exp(1) = 2.72 capped, exp(-0.5) < 2
    assert row["rollout/logprob_gap"] == pytest.approx(abs(offset), abs=1e-4)
    assert row["rollout/tis_clipped_frac"] == clipped


def test_without_rollout_logprobs_no_old_logprob_pass_runs_and_nothing_is_logged(tmp_path):
    trainer = Trainer(_config(tmp_path, "train.total_steps=1", "algo.minibatch_size=64",
                              "envs=[{id: mmrltest/Echo-v0, kwargs: {length: 1}}]"))
    calls = []
    score = trainer.policy.score
    trainer.policy.score = lambda *a, **k: (calls.append(k), score(*a, **k))[1]
    trainer.train()
    (row,) = [r for r in read_jsonl(tmp_path / "metrics.jsonl") if r["step"] == 1]
    assert not any(k.startswith("rollout/") for k in row)
    assert len(calls) == 1  # the loss forward only: no scoring pass before it


def test_dapo_drops_groups_whose_returns_are_equal_and_samples_more(tmp_path):
    cfg = _config(tmp_path, "algo.name=dapo", "train.total_steps=2", "algo.max_resample_rounds=2",
                  "envs=[{id: mmrltest/Echo-v0, kwargs: {length: 1}}]", "rollout.group_size=4")
    Trainer(cfg).train()
    rows = [r for r in read_jsonl(tmp_path / "metrics.jsonl") if "dynamic/dropped_groups" in r]
    assert len(rows) == 2
    for r in rows:
        # a random tiny model rarely repeats a word: most groups are all-0 and get dropped
        assert r["dynamic/dropped_groups"] > 0 and 0 <= r["dynamic/extra_rounds"] <= 2
        assert r["dynamic/extra_groups"] == 3 * r["dynamic/extra_rounds"]
        assert r["dynamic/kept_groups"] <= 3
        assert r["train/zero_adv_groups"] == 0.0 or r["dynamic/kept_groups"] == 0


def test_the_trainer_never_branches_on_the_algorithms_name():
    source = (Path(__file__).resolve().parents[2] / "mmrl" / "trainer.py").read_text()
    assert not re.search(r"algo\.name\s*[!=]=|\"(ppo|grpo|rloo|dapo|drgrpo|gigpo)\"", source)


@pytest.mark.parametrize("algo", ["grpo", "ppo", "rloo", "drgrpo", "dapo", "gigpo", "rover"])
def test_every_algorithm_trains_a_step_on_a_multi_turn_env_with_two_minibatches(tmp_path, algo):
    """Two minibatches: the shared old-log-prob pass runs, and each algorithm's loss is finite."""
    Trainer(_config(tmp_path, f"algo.name={algo}", "train.total_steps=1", "algo.minibatch_size=6")).train()
    rows = [r for r in read_jsonl(tmp_path / "metrics.jsonl") if "losses/loss" in r]
    assert [r["step"] for r in rows] == [1]
    assert all(abs(r["losses/loss"]) < 1e3 and r["losses/grad_norm"] >= 0 for r in rows)
    assert "train/response_mi" in rows[0]
