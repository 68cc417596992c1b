"""ProRL's reference reset and DPH-RL's divergences on reference samples, in the real trainer."""

from __future__ import annotations

from mmrl.config import load_config
from mmrl.logger import read_jsonl
from mmrl.trainer import REFERENCE_DIR, Trainer
from tests.fixtures import toy_envs  # noqa: F401  (registers mmrltest/*)


def _config(tmp_path, *overrides):
    return load_config(None, [
        "envs=[{id: mmrltest/Echo-v0, kwargs: {length: 1}}]", "model.tiny=text", "rollout.group_size=4",
        "rollout.groups_per_step=2", "rollout.max_new_tokens=4", "algo.minibatch_size=64", "optim.lr=3e-3",
        "train.sft_steps=20", "train.sft_lr=3e-3", "train.sft_target=expert", "eval.episodes=2",
        "train.progress=false", "train.eval_every=0", "train.save_every=1", f"train.output_dir={tmp_path}",
        *overrides,
    ])


def _rows(run_dir):
    return {r["step"]: r for r in read_jsonl(run_dir / "metrics.jsonl") if "train/return_mean" in r}


def test_a_reset_makes_the_current_policy_the_reference_and_clears_the_optimiser(tmp_path):
    trainer = Trainer(_config(tmp_path, "algo.kl_coef=0.1", "algo.reference_reset_every=2", "train.total_steps=3"))
    trainer.train()
    rows = _rows(tmp_path)
    assert rows[2]["train/reference_reset"] == 1.0 and "train/reference_reset" not in rows[1] | rows[3]
    assert rows[2]["losses/kl"] > 1e-7  # two updates away from the warm-started reference
    assert rows[3]["losses/kl"] < 1e-9  # one on-policy update right after the reset: the reference is the policy
    assert (tmp_path / REFERENCE_DIR / "step_2" / "config.json").is_file()
    assert len(trainer.updater.optimizer.state) > 0  # step 3 filled the moments again


def test_a_run_resumed_after_a_reset_keeps_the_reset_reference(tmp_path):
    straight, resumed = tmp_path / "a", tmp_path / "b"
    args = ("algo.kl_coef=0.1", "algo.reference_reset_every=2")
    Trainer(_config(straight, *args, "train.total_steps=3")).train()
    Trainer(_config(resumed, *args, "train.total_steps=2")).train()
    Trainer(_config(resumed, *args, "train.total_steps=3")).train()
    a, b = _rows(straight), _rows(resumed)
    assert [a[s]["train/return_mean"] for s in (1, 2, 3)] == [b[s]["train/return_mean"] for s in (1, 2, 3)]
    assert b[3]["losses/kl"] == a[3]["losses/kl"]


def test_forward_kl_on_reference_samples_is_logged_and_starts_at_zero(tmp_path):
    Trainer(_config(tmp_path, "algo.divergence=forward_kl", "algo.divergence_coef=0.5", "train.total_steps=2",
                    "algo.divergence_batch=8")).train()
    rows = _rows(tmp_path)
    assert rows[1]["train/reference_samples"] > 0  # the warm-started model solves some of its prompts
    assert abs(rows[1]["losses/divergence"]) < 1e-6  # the first update: policy == reference on its samples
    assert rows[2]["losses/divergence"] > 0
