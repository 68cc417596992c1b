"""The KL reference is the policy RL starts from: the warm-started model when there is a warm-start."""

from __future__ import annotations

from mmrl.config import load_config
from mmrl.logger import read_jsonl
from mmrl.trainer import WARM_START_DIR, Trainer
from tests.fixtures import toy_envs  # noqa: F401  (registers mmrltest/*)


def _config(tmp_path, *overrides):
    return load_config(None, [
        "envs=[{id: mmrltest/Echo-v0, kwargs: {length: 1}}]", "model.tiny=text", "rollout.group_size=4",
        "rollout.groups_per_step=2", "rollout.max_new_tokens=4", "algo.kl_coef=0.1", "algo.minibatch_size=8",
        "train.sft_steps=20", "train.sft_lr=3e-3", "train.total_steps=1", "eval.episodes=2", "train.progress=false",
        "train.eval_every=0", "train.save_every=0", f"train.output_dir={tmp_path}", *overrides,
    ])


def test_after_a_warm_start_the_kl_is_measured_against_the_warm_started_policy(tmp_path):
    trainer = Trainer(_config(tmp_path))
    trainer.train()
    assert (tmp_path / WARM_START_DIR / "config.json").is_file()
    (row,) = [r for r in read_jsonl(tmp_path / "metrics.jsonl") if r["step"] == 1]
    assert row["losses/kl"] < 1e-6  # one on-policy update: the policy still equals its warm-started reference


def test_without_a_warm_start_the_reference_is_the_initial_model(tmp_path):
    Trainer(_config(tmp_path, "train.sft_steps=0")).train()
    assert not (tmp_path / WARM_START_DIR).exists()
    (row,) = [r for r in read_jsonl(tmp_path / "metrics.jsonl") if r["step"] == 1]
    assert row["losses/kl"] < 1e-6


def test_a_warm_started_policy_differs_from_the_initial_model(tmp_path):
    """The contrast the first test relies on: measured against the initial weights, the same run's KL is large."""
    trainer = Trainer(_config(tmp_path))
    trainer.sft_warm_start()
    prompt = trainer.policy.encode([{"role": "user", "content": "turn 0: say apple"}])
    completion = trainer.policy.encode_completion("apple")
    warm = trainer.policy.completion_logprobs([prompt], [completion])[0].sum().item()
    before = trainer.reference.logprobs(trainer.policy, [prompt], [completion], 1.0).sum().item()
    assert abs(warm - before) > 1.0


def test_with_lora_the_reference_after_a_warm_start_is_the_warm_started_adapter(tmp_path):
    """LoRA + warm-start: the KL of the first on-policy update is ~0 (the reference is the warm-started adapter,
    not the base model with the adapter off), the saved adapter is the warm-start's, and the trained adapter still
    trains."""
    trainer = Trainer(_config(tmp_path, "model.lora.r=8", "model.lora.alpha=16"))
    trainer.train()
    assert (tmp_path / WARM_START_DIR / "adapter_config.json").is_file()
    (row,) = [r for r in read_jsonl(tmp_path / "metrics.jsonl") if r["step"] == 1]
    assert row["losses/kl"] < 1e-6
    trainable = [n for n, p in trainer.policy.model.named_parameters() if p.requires_grad]
    assert trainable and all("reference" not in n for n in trainable)
    prompt = trainer.policy.encode([{"role": "user", "content": "turn 0: say apple"}])
    completion = trainer.policy.encode_completion("apple")
    with trainer.policy.model.disable_adapter():
        adapter_off = trainer.policy.completion_logprobs([prompt], [completion])[0].sum().item()
    reference = trainer.reference.logprobs(trainer.policy, [prompt], [completion], 1.0).sum().item()
    assert abs(reference - adapter_off) > 1.0  # the warm-start moved the adapter far from "off"
